"""The core's guarantees under faults that are not the provider's: every run ends as exactly one
row whatever raises (disk full, a progress callback, a second cancel), keys stay out of
repr(), spend that may have been billed is counted, the day cap holds across processes,
and configuration or size mistakes are refused with one clear line.

`ScriptedProvider` is registered like a real provider (through the registry), and its
`generate` runs whatever script the test sets."""

from __future__ import annotations

from playground.config import Settings
from playground.core import Session
from playground.types import ProviderCall

FAKE_KEY = "fake-key-0123456789abcdef"


# -- keys never in a repr (defect 11) ------------------------------------------------------------

def test_no_key_in_the_repr_of_anything_that_holds_one(tmp_path):
    call = ProviderCall(model="m", prompt="p", frames=1, size="1K", seed=None, api_key=FAKE_KEY)
    session = Session(keys={"ARK_API_KEY": FAKE_KEY})
    settings = Settings.from_env(env={"ARK_API_KEY": FAKE_KEY}, data_dir=tmp_path)
    for holder in (call, session, settings):
        assert FAKE_KEY not in repr(holder), type(holder).__name__
        assert FAKE_KEY not in str(holder), type(holder).__name__
    assert call.api_key == FAKE_KEY and session.keys["ARK_API_KEY"] == FAKE_KEY  # still there, only hidden
