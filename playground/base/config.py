"""Configuration, read from the environment here (the deep metrics read their own three: metrics/deep.py).

Every environment variable the playground reads is listed in ENV_VARS, besides each
provider's key and base URL variables (its adapter's): the README's configuration table is
generated from them (present/catalog.py).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from playground.base.errors import ConfigError

ENV_VARS: dict[str, str] = {
    "PLAYGROUND_DATA_DIR": "Where `runs.csv`, `ratings.csv` and frames live (`--data-dir` wins; default "
    "`/data/playground` when a persistent `/data` volume is mounted, else `./data`)",
    "PLAYGROUND_PRICES": "JSON file path or inline JSON overriding the price table, e.g. "
    '`{"byteplus/seedream-5-0-260128": 0.035}`',
    "PLAYGROUND_MAX_USD_PER_RUN": "Refuse a run whose worst case (the most it could cost) passes this (USD), before "
    "anything is sent",
    "PLAYGROUND_MAX_USD_PER_SESSION": "Refuse runs once this browser session's spend would pass this (on a Space: "
    "every session from one address together, per UTC day)",
    "PLAYGROUND_MAX_USD_PER_DAY": "Refuse runs once today's (UTC) spend logged in this DATA_DIR would pass this "
    "(runs in flight in every process included)",
    "PLAYGROUND_CONFIRM_USD": "Compare (and the CLI's `compare` and `batch`) ask for confirmation when the worst case "
    "of the total passes this (default 1.0)",
    "PLAYGROUND_ALLOWED_MODELS": "Model ids beyond each provider's list that may run: comma-separated "
    "`provider:model` or `provider:*` (unset: any off a Space, none on a Space)",
    "PLAYGROUND_MAX_DOWNLOAD_MB": "Size cap per downloaded frame (MB, default 40)",
    "PLAYGROUND_RUN_DEADLINE_S": "Overall deadline of one run in seconds (default 600)",
    "PLAYGROUND_RATE_LIMITS": "Rate limits per provider key over the documented ones, e.g. "
    "`byteplus=500/min:8,wavespeed=500/min:100,fal=:40,openai=off` (requests or images per "
    "period, `:` concurrent calls); see [docs/reliability.md](docs/reliability.md#rate-limits)",
    "PLAYGROUND_DEFAULT_PROVIDER": "Provider preselected in the UI and CLI (default `local`)",
    "PLAYGROUND_CLIP_PATH": "Local folder of CLIP weights for the optional deep metrics "
    "(`pip install -r requirements-deep.txt`; docs/metrics.md)",
    "PLAYGROUND_DINO_PATH": "Local folder of DINOv2 weights for the optional deep metrics",
    "PLAYGROUND_DEEP_DOWNLOAD": "`1` lets the deep metrics download weights from the Hugging Face Hub when it is "
    "reachable",
    "SPACE_ID": "Set by Hugging Face Spaces; there, caps left unset default to $1 per run, $5 per session, $25 per "
    "day (SPACE_DEFAULT_CAPS), the session cap counts every session of one address together, and model "
    "ids outside the lists are refused",
    "PLAYGROUND_HUB_DATASET": "`owner/name` of a Hugging Face dataset to sync the log and votes to (unset: no sync; "
    "created private if new)",
    "PLAYGROUND_HUB_EVERY_MIN": "Minutes between the app's background commits to the dataset (default 5; fractions "
    "allowed)",
    "PLAYGROUND_HUB_INCLUDE": "`frames` and/or `exports` (comma-separated) to sync too; default: the log and votes "
    "only",
    "HF_TOKEN": "Hugging Face token with write access to that dataset (a Space **secret**)",
    "HF_ENDPOINT": "The Hub's URL, as `huggingface_hub` reads it (default `https://huggingface.co`)",
    "GRADIO_SERVER_PORT": "Port of the web app (Gradio's own variable, default 7860)",
    "GRADIO_SERVER_NAME": "Interface of the web app (Gradio's own variable, default 127.0.0.1)",
}
HUB_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
HUB_INCLUDES = ("frames", "exports")

# On a Space anyone can spend the owner's keys through the UI and the API, so a cap left unset
# gets these defaults there (set a cap to `inf` to lift it). See docs/reliability.md.
SPACE_DEFAULT_CAPS: dict[str, float] = {
    "PLAYGROUND_MAX_USD_PER_RUN": 1.0,
    "PLAYGROUND_MAX_USD_PER_SESSION": 5.0,
    "PLAYGROUND_MAX_USD_PER_DAY": 25.0,
}


def _float_env(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _cap_env(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    """A spend cap or threshold: 0 or more, `inf` to lift it. NaN compares false with
    everything, so it would silently pass every run: refused like a negative value."""
    value = _float_env(env, name, default)
    if value is not None and not value >= 0:
        raise ConfigError(f"{name} must be a number of dollars, 0 or more (inf lifts it), got {env[name].strip()!r}")
    return value


def _limit_env(env: Mapping[str, str], name: str, default: float) -> float:
    """A size or time limit: positive and finite (0, inf or NaN would disable or break it)."""
    value = _float_env(env, name, default)
    if value is None or not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a positive number, got {env[name].strip()!r}")
    return value


def _hub_dataset(env: Mapping[str, str]) -> str:
    repo_id = env.get("PLAYGROUND_HUB_DATASET", "").strip()
    if repo_id and not HUB_DATASET.match(repo_id):
        raise ConfigError(f"PLAYGROUND_HUB_DATASET must be a dataset id like owner/name, got {repo_id!r}")
    return repo_id


def _hub_include(env: Mapping[str, str]) -> tuple[str, ...]:
    parts = [p.strip().lower() for p in env.get("PLAYGROUND_HUB_INCLUDE", "").split(",") if p.strip()]
    unknown = [p for p in parts if p not in HUB_INCLUDES]
    if unknown:
        raise ConfigError(f"PLAYGROUND_HUB_INCLUDE takes {' and/or '.join(HUB_INCLUDES)}, got {', '.join(unknown)}")
    return tuple(p for p in HUB_INCLUDES if p in parts)


def parse_allowed_models(env: Mapping[str, str]) -> frozenset[tuple[str, str]] | None:
    """PLAYGROUND_ALLOWED_MODELS: comma-separated `provider:model` or `provider:*` entries; None
    when unset (then any well-formed id runs off a Space and none on a Space). Here only the
    entries' form is read; the provider names and id shapes are checked when the Playground is
    made (core.plan.check_allowed_models), so a typo still fails at start."""
    raw = env.get("PLAYGROUND_ALLOWED_MODELS", "").strip()
    if not raw:
        return None
    entries = set()
    for entry in (e.strip() for e in raw.replace("\n", ",").split(",")):
        provider, sep, model = entry.partition(":")
        provider, model = provider.strip(), model.strip()
        if not entry or not sep or not model:
            raise allowed_models_error(entry, "is not provider:model or provider:*")
        entries.add((provider, model))
    return frozenset(entries)


def allowed_models_error(entry: str, problem: str) -> ConfigError:
    return ConfigError(f"PLAYGROUND_ALLOWED_MODELS entry {entry!r}: {problem}")


def default_data_dir(env: Mapping[str, str]) -> Path:
    """--data-dir wins (handled by callers), then PLAYGROUND_DATA_DIR, then /data on a Space
    with persistent storage, then ./data."""
    if env.get("PLAYGROUND_DATA_DIR"):
        return Path(env["PLAYGROUND_DATA_DIR"])
    persistent = Path("/data")
    if persistent.is_dir() and os.access(persistent, os.W_OK):
        return persistent / "playground"
    return Path("data")


@dataclass
class Settings:
    data_dir: Path
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # holds the keys: never in repr()
    max_usd_per_run: float | None = None
    max_usd_per_session: float | None = None
    max_usd_per_day: float | None = None
    confirm_usd: float = 1.0
    max_download_bytes: int = 40 * 1024 * 1024
    run_deadline_s: float = 600.0
    default_provider: str = "local"
    hub_dataset: str = ""  # sync to this dataset repo (hub_sync.py); "" = no sync
    hub_every_min: float = 5.0
    hub_include: tuple[str, ...] = ()  # besides the log and votes: "frames", "exports"
    on_space: bool = False  # SPACE_ID is set: a public Space, strangers included
    allowed_models: frozenset[tuple[str, str]] | None = None  # PLAYGROUND_ALLOWED_MODELS; None = unset
    rate_limits: str = ""  # PLAYGROUND_RATE_LIMITS: per-provider overrides of the limiter (validated by Playground)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, data_dir: Path | str | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        caps = SPACE_DEFAULT_CAPS if env.get("SPACE_ID") else {}
        return cls(
            data_dir=Path(data_dir) if data_dir else default_data_dir(env),
            env=env,
            max_usd_per_run=_cap_env(env, "PLAYGROUND_MAX_USD_PER_RUN", caps.get("PLAYGROUND_MAX_USD_PER_RUN")),
            max_usd_per_session=_cap_env(
                env, "PLAYGROUND_MAX_USD_PER_SESSION", caps.get("PLAYGROUND_MAX_USD_PER_SESSION")
            ),
            max_usd_per_day=_cap_env(env, "PLAYGROUND_MAX_USD_PER_DAY", caps.get("PLAYGROUND_MAX_USD_PER_DAY")),
            confirm_usd=_cap_env(env, "PLAYGROUND_CONFIRM_USD", 1.0) or 0.0,
            max_download_bytes=int(_limit_env(env, "PLAYGROUND_MAX_DOWNLOAD_MB", 40.0) * 1024 * 1024),
            run_deadline_s=_limit_env(env, "PLAYGROUND_RUN_DEADLINE_S", 600.0),
            default_provider=env.get("PLAYGROUND_DEFAULT_PROVIDER", "") or "local",
            hub_dataset=_hub_dataset(env),
            hub_every_min=_limit_env(env, "PLAYGROUND_HUB_EVERY_MIN", 5.0),
            hub_include=_hub_include(env),
            on_space=bool(env.get("SPACE_ID")),
            allowed_models=parse_allowed_models(env),
            rate_limits=env.get("PLAYGROUND_RATE_LIMITS", "").strip(),
        )

    def allows_model(self, provider: str, model: str) -> bool:
        """Whether an id outside the provider's model list may run (PLAYGROUND_ALLOWED_MODELS)."""
        if self.allowed_models is None:
            return not self.on_space
        return (provider, "*") in self.allowed_models or (provider, model) in self.allowed_models

    def key(self, env_var: str | None, session_keys: Mapping[str, str] | None = None) -> str:
        """The key for a provider: a per-session key typed in the UI wins over the environment."""
        if not env_var:
            return ""
        return (session_keys or {}).get(env_var) or self.env.get(env_var, "")

    def base_url(self, env_var: str | None, default: str) -> str:
        return (self.env.get(env_var or "", "") or default).rstrip("/")
