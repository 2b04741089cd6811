"""Per-session API keys, typed in the Generate tab (memory only)."""

from __future__ import annotations

import gradio as gr

from playground.core.playground import Playground
from playground.core.session import Session
from playground.providers import provider_class, provider_names


def build_keys(playground: Playground, session: gr.State) -> None:
    """Per-session keys: password fields whose events are private and never logged or saved."""
    keyed = [provider_class(n) for n in provider_names() if provider_class(n).key_env]
    if not keyed:
        return
    with gr.Accordion("API keys for this session (kept in memory only)", open=False):
        for cls in keyed:
            box = gr.Textbox(
                label=f"{cls.key_env} ({cls.name})", type="password", placeholder="uses the environment if empty"
            )

            def store(value: str, state: Session, env_var: str = str(cls.key_env)) -> Session:
                if value.strip():
                    state.keys[env_var] = value.strip()
                else:
                    state.keys.pop(env_var, None)
                return state

            box.change(store, [box, session], session, api_visibility="private", show_progress="hidden")
