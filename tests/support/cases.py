"""The one table of test cases every provider has: a new provider is one entry here (besides
its adapter and its emulator module). The registry contract, the end-to-end run per mode, the
key hygiene matrix and partial billing read it; tests/providers/test_kit.py checks that every
provider has an entry, and every entry a provider. The official SDKs named here are what
tests/conformance/requirements.txt installs (generated from this table: scripts/docs.sh)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    # the contract (the README's provider table): key and base URL variables, the default base URL and model
    key_env: str
    base_url_env: str
    default_base_url: str
    default_model: str
    # a run the emulator serves: a size the default model takes, the modes it runs, a seed it takes
    size: str
    modes: tuple[str, ...]
    seed: int | None = None  # None: no seed is sent (seed_sent stays empty)
    cost_source: str = "price table"  # "reported": the provider reports the cost (tokens, megapixels)
    partial: tuple[str, int, int] | None = None  # (emulator fault, frames returned of 4, images billed)
    sdk: tuple[str, ...] = ()  # pip requirements of its official Python SDK (tests/conformance)


SEQUENTIAL = ("sequence", "baseline")
SINGLE = ("baseline",)

CASES: dict[str, Case] = {
    "byteplus": Case(
        "ARK_API_KEY",
        "ARK_BASE_URL",
        "https://ark.ap-southeast.bytepluses.com/api/v3",
        "seedream-5-0-260128",
        "256x256",
        SEQUENTIAL,
        partial=("refused", 3, 3),
        sdk=("byteplus-python-sdk-v2[ark]>=3.0.63", "httpx", "anyio", "sniffio", "jiter"),
    ),
    "evolink": Case(
        "EVOLINK_API_KEY",
        "EVOLINK_BASE_URL",
        "https://api.evolink.ai/v1",
        "doubao-seedream-5.0-lite",
        "256x256",
        SEQUENTIAL,
        partial=("fewer", 2, 2),
    ),
    "wavespeed": Case(
        "WAVESPEED_API_KEY",
        "WAVESPEED_BASE_URL",
        "https://api.wavespeed.ai/api/v3",
        "bytedance/seedream-v5.0-lite/sequential",
        "256x256",
        SEQUENTIAL,
        partial=("fewer", 2, 4),
        sdk=("wavespeed>=2.0.5",),
    ),
    "atlascloud": Case(
        "ATLASCLOUD_API_KEY",
        "ATLASCLOUD_BASE_URL",
        "https://api.atlascloud.ai/api/v1",
        "bytedance/seedream-v4.5/sequential",
        "256x256",
        SEQUENTIAL,
        partial=("fewer", 2, 4),
    ),
    "openai": Case(
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "https://api.openai.com/v1",
        "gpt-image-1.5",
        "1024x1024",
        SINGLE,
        cost_source="reported",
        sdk=("openai>=2",),
    ),
    "stability": Case(
        "STABILITY_API_KEY",
        "STABILITY_BASE_URL",
        "https://api.stability.ai/v2beta",
        "sd3.5-large",
        "1024x1024",
        SINGLE,
        seed=11,
    ),
    "fal": Case(
        "FAL_KEY",
        "FAL_QUEUE_URL",
        "https://queue.fal.run",
        "fal-ai/flux-pro/v1.1",
        "512x384",
        SINGLE,
        seed=11,
        cost_source="reported",
        sdk=("fal-client>=1.0.3",),
    ),
    # token-billed (reported); a sequence's shortfall is tested in tests/providers/test_gemini.py
    "gemini": Case(
        "GEMINI_API_KEY",
        "GOOGLE_GEMINI_BASE_URL",
        "https://generativelanguage.googleapis.com",
        "gemini-2.5-flash-image",
        "1024x1024",
        SEQUENTIAL,
        seed=11,
        cost_source="reported",
        sdk=("google-genai>=3.6.1",),
    ),
    # Seedream 4 takes 1024 to 4096 a side: its partial run is in tests/providers/test_replicate.py
    "replicate": Case(
        "REPLICATE_API_TOKEN",
        "REPLICATE_BASE_URL",
        "https://api.replicate.com",
        "bytedance/seedream-4",
        "1024x1024",
        SEQUENTIAL,
        sdk=("replicate>=1.0.7",),
    ),
}
