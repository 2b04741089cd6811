"""Key hygiene: a full fault matrix with known fake keys (from the environment and typed
into a session), then every file under DATA_DIR, all captured output and every log record
is scanned for them. The emulator echoes the key in its auth error bodies, as some real
providers do. The launched app's public API must take no key."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
import uuid

import pytest

from playground.base.errors import PlaygroundError, redact
from playground.base.types import GenerationRequest
from playground.core import Session
from playground.providers import provider_class
from support.cases import CASES
from support.faults import cli, files_under, find_secrets, make_playground

# provider -> (mode, frames, size) that it accepts: from the providers' shared table of cases
SHAPES = {name: (case.modes[0], 2, case.size) for name, case in CASES.items()}
FAULTS = [
    "auth",
    "forbidden",
    "rate_limit",
    "server",
    "reset",
    "malformed",
    "content",
    "quota",
    "job_failed",
    "fewer",
    "refused",
    None,
]


def fake_keys(tag: str) -> dict[str, str]:
    """A unique, unmistakable key per provider variable."""
    return {provider_class(p).key_env: f"{tag}-{p}-{uuid.uuid4().hex}" for p in SHAPES}


def request(provider: str, fault: str | None) -> GenerationRequest:
    mode, frames, size = SHAPES[provider]
    return GenerationRequest(prompt=f"a fox courier ({fault})", mode=mode, frames=frames, size=size, provider=provider)


async def matrix(pg, emulator, session: Session | None, errors: list[str], faults=FAULTS) -> int:
    """Every fault on every provider (providers concurrently, one fault at a time)."""
    runs = 0
    for fault in faults:
        emulator.clear_faults()
        if fault:
            for provider in SHAPES:
                emulator.set_fault(provider, fault, retry_after=0.01, n=1)
        results = await asyncio.gather(*(pg.run(request(p, fault), session) for p in SHAPES), return_exceptions=True)
        for result in results:
            if isinstance(result, PlaygroundError):
                errors.append(str(result))
            elif isinstance(result, BaseException):
                raise result
            else:
                errors.append(result.record.error)
        runs += len(results)
    return runs


def test_no_key_reaches_files_output_logs_or_errors(emulator, data_dir, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    env_keys, typed_keys = fake_keys("ENVKEY"), fake_keys("TYPEDKEY")
    env = {**emulator.base_urls(), **env_keys, "PLAYGROUND_RUN_DEADLINE_S": "1"}
    pg = make_playground(env, data_dir)
    errors: list[str] = []
    runs = asyncio.run(matrix(pg, emulator, None, errors))
    runs += asyncio.run(
        matrix(
            pg,
            emulator,
            Session(keys=typed_keys),
            errors,
            faults=["auth", "server", "content", "job_failed", "refused", None],
        )
    )
    emulator.clear_faults()
    for provider in ("byteplus", "fal"):  # calls that never finish, cut by the deadline
        emulator.set_fault(provider, "stuck")

    async def stuck() -> None:
        await asyncio.gather(*(pg.run(request(p, "stuck")) for p in ("byteplus", "fal")))

    asyncio.run(stuck())
    # keys the providers reject for real (no fault injected): the emulator echoes them back
    rejected = {k: f"invalid-{v}" for k, v in env_keys.items()}
    runs += asyncio.run(matrix(make_playground({**env, **rejected}, data_dir), emulator, None, errors, faults=[None]))
    from playground.present.runs import history_table

    logged = pg.log.read()
    assert len(logged) == runs + 2
    assert (logged["status"] == "error").sum() > 60 and (logged["status"] == "partial").any()
    assert any("key rejected" in e for e in errors)
    secrets = [*env_keys.values(), *typed_keys.values(), *rejected.values()]
    captured = capsys.readouterr()
    texts: dict[str, str | bytes] = {str(p): p.read_bytes() for p in files_under(data_dir)}
    texts.update(
        stdout=captured.out,
        stderr=captured.err,
        errors="\n".join(errors),
        history=history_table(pg, n=10_000).to_csv(),
        logs="\n".join(r.getMessage() + str(r.exc_info or "") + str(r.args) for r in caplog.records),
    )
    assert any(p.endswith("runs.csv") for p in texts)
    assert find_secrets(secrets + [s[-16:] for s in secrets], texts) == []


def test_cli_output_never_shows_a_key(emulator, data_dir):
    keys = fake_keys("CLIKEY")
    env = {**emulator.base_urls(), **keys}
    outputs = []
    for provider, fault in (("byteplus", "auth"), ("openai", "auth"), ("fal", "job_failed")):
        emulator.set_fault(provider, fault)
        mode, frames, size = SHAPES[provider]
        result = cli(
            [
                "run",
                "--provider",
                provider,
                "--mode",
                mode,
                "--frames",
                str(frames),
                "--size",
                size,
                "--prompt",
                "a fox",
                "--json",
            ],
            env,
            data_dir,
        )
        assert result.code == 1
        outputs += [result.out, result.err]
    assert any("key rejected" in o for o in outputs)
    assert find_secrets(list(keys.values()), {"cli": "\n".join(outputs)}) == []
    assert find_secrets(list(keys.values()), {str(p): p.read_bytes() for p in files_under(data_dir)}) == []


def test_redact_removes_known_keys_and_key_shapes_but_keeps_our_words():
    key = "ENVKEY-byteplus-0123456789abcdef"
    assert redact(f"the API key '{key}' is not valid", [key]) == "the API key '[redacted]' is not valid"
    assert redact("Authorization: Bearer abcdef0123456789XYZ") == "Authorization: Bearer [redacted]"
    assert redact("header Key 12345678-aaaa:bbbbccccdddd") == "header Key [redacted]"
    assert redact("got sk-proj-AbCdEfGhIjKlMnOpQrSt1234 back") == "got [redacted] back"
    assert (
        redact("BytePlus: key rejected (HTTP 401): check ARK_API_KEY")
        == "BytePlus: key rejected (HTTP 401): check ARK_API_KEY"
    )
    assert redact("a key of abc", ["abc"]) == "a key of abc"  # too short to be a key: left alone


# -- the launched app ---------------------------------------------------------------------------------------


@pytest.fixture
def keyed_app(emulator, data_dir, monkeypatch):
    from playground.base.config import Settings
    from support.app import launch_app

    keys = fake_keys("APPKEY")
    settings = Settings.from_env(env={**emulator.base_urls(), **keys}, data_dir=data_dir)
    app, url = launch_app(settings)
    try:
        yield url, keys
    finally:
        app.close()


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.read().decode("utf-8")


def test_the_public_api_takes_no_key_and_shows_none(keyed_app):
    url, keys = keyed_app
    info = json.loads(fetch(url + "gradio_api/info"))
    endpoints = info["named_endpoints"]
    assert "/run" in endpoints
    for name, endpoint in endpoints.items():
        for param in endpoint["parameters"]:
            label = f"{param.get('label', '')} {param.get('parameter_name', '')}".lower()
            assert "key" not in label and "password" not in label, (name, param)
    assert info["unnamed_endpoints"] == {}
    config = fetch(url + "config")
    assert find_secrets(list(keys.values()), {"api info": json.dumps(info), "config": config}) == []
    assert (
        '"run_history": false' in config.replace(" ", "").replace('":false', '": false') or "run_history" not in config
    )


def test_gradio_client_sees_no_key_parameter(keyed_app):
    from gradio_client import Client

    url, keys = keyed_app
    client = Client(url, verbose=False)
    api = client.view_api(print_info=False, return_format="dict")
    text = json.dumps(api)
    assert "/run" in api["named_endpoints"]
    assert "api_key" not in text.lower() and "password" not in text.lower()
    assert find_secrets(list(keys.values()), {"view_api": text}) == []


# -- the synced Hub dataset (playground/store/hub_sync.py) ---------------------------------------------------------


def test_no_key_reaches_the_synced_dataset_its_pull_or_the_sync_status(
    emulator, data_dir, tmp_path, caplog, monkeypatch
):
    """The fault matrix with env and typed keys, frames and exports synced to a stand-in Hub whose
    first commit fails with an error echoing the HF token; then every file the Hub holds (LFS
    objects too), every commit payload, a pulled copy, the status line and the logs are scanned."""
    import huggingface_hub.constants as hf_constants

    from playground.experiments.export import run_exports
    from playground.experiments.votes import add_vote
    from playground.store import hub_sync
    from support.hub_standin import HubStandIn, point_library_at

    caplog.set_level(logging.DEBUG)
    env_keys, typed_keys = fake_keys("SYNCENVKEY"), fake_keys("SYNCTYPEDKEY")
    with HubStandIn(token=f"hf_SYNCTOKEN{uuid.uuid4().hex}") as hub:
        point_library_at(hub.url, monkeypatch)
        monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)  # frames over LFS: the stand-in has no Xet
        hub_env = {
            "PLAYGROUND_HUB_DATASET": "team/keys",
            "HF_TOKEN": hub.token,
            "HF_ENDPOINT": hub.url,
            "PLAYGROUND_HUB_INCLUDE": "frames,exports",
        }
        env = {**emulator.base_urls(), **env_keys, **hub_env, "PLAYGROUND_RUN_DEADLINE_S": "1"}
        pg = make_playground(env, data_dir)
        errors: list[str] = []
        asyncio.run(matrix(pg, emulator, None, errors, faults=["auth", "server", "malformed", "job_failed", None]))
        asyncio.run(matrix(pg, emulator, Session(keys=typed_keys), errors, faults=["auth", None]))
        done = pg.log.read()
        done = done[done["status"] == "ok"]["run_id"].tolist()
        assert len(done) >= 2
        run_exports(pg, done[0])
        add_vote(pg, "", done[0], done[1], "tie")

        sync = hub_sync.HubSync(pg.settings, pg.secrets())
        hub.fail("commit", times=1)  # the error body echoes "Bearer <HF token>"
        with pytest.raises(hub_sync.HubSyncError):
            sync.push()
        failing = hub_sync.status_text(sync.status)
        pushed = sync.push()
        assert any("/exports/" in p for p in pushed.uploaded) and any(p.endswith(".png") for p in pushed.uploaded)
        pulled = hub_sync.pull_dataset(
            make_playground({**hub_env, "PLAYGROUND_HUB_INCLUDE": "frames,exports"}, tmp_path / "reader").settings,
            "team/keys",
        )
        stored = hub.files("team/keys")
        assert f"runs/{sync.writer}.csv" in stored and f"ratings/{sync.writer}.csv" in stored

    secrets = [*env_keys.values(), *typed_keys.values(), hub.token]
    texts: dict[str, str | bytes] = {f"hub:{p}": data for p, data in stored.items()}
    texts.update({f"lfs:{oid}": data for oid, data in hub.lfs_store.items()})
    texts["commit payloads"] = json.dumps(hub.commit_bodies)
    texts.update({str(p): p.read_bytes() for p in files_under(pulled.root)})
    texts.update(
        status=failing + hub_sync.status_text(sync.status),
        logs="\n".join(r.getMessage() + str(r.exc_info or "") + str(r.args) for r in caplog.records),
    )
    assert "stand-in fault on commit" in texts["status"]
    assert find_secrets(secrets + [s[-16:] for s in secrets], texts) == []


def test_a_log_with_a_key_in_it_is_held_back_not_uploaded(data_dir, tmp_path, monkeypatch):
    """Belt and braces: should a key ever reach runs.csv, the sync refuses to upload that file and says so."""
    from playground.base.types import RunRecord
    from playground.store import hub_sync
    from support.hub_standin import HubStandIn, point_library_at

    keys = fake_keys("LEAKEDKEY")
    with HubStandIn() as hub:
        point_library_at(hub.url, monkeypatch)
        env = {**keys, "PLAYGROUND_HUB_DATASET": "team/leak", "HF_TOKEN": hub.token or "", "HF_ENDPOINT": hub.url}
        pg = make_playground(env, data_dir)
        pg.log.append(RunRecord(run_id="leaky", provider="local", prompt=f"oops {keys['ARK_API_KEY']}"))
        sync = hub_sync.HubSync(pg.settings, pg.secrets())
        with pytest.raises(hub_sync.HubSyncError, match="a key was found"):
            sync.push()
        assert sync.status.state == "failing" and f"runs/{sync.writer}.csv" in sync.status.waiting
        assert not any(body for body in hub.commit_bodies)  # nothing was committed at all
