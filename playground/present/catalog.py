"""The tables of the README and docs/providers.md, written from the adapters' own class attributes
(models, prices, variables, protocol, billing rule), so the docs cannot drift from the code:
`bash scripts/docs.sh` regenerates them (cog), CI checks them (`cog --check`)."""

from __future__ import annotations

from playground.base.config import ENV_VARS
from playground.base.types import ModelInfo
from playground.providers import provider_class, provider_names
from playground.providers.base import Provider


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


def _table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join([_row(header), "|" + "---|" * len(header)] + [_row(r) for r in rows]) + "\n"


def _money(usd: float) -> str:
    return f"${usd:.3f}".rstrip("0").rstrip(".") if usd else "$0"


def _models(cls: type[Provider]) -> str:
    return ", ".join(f"`{m.id}`" + (f" ({m.note})" if m.note else "") for m in cls.models)


def _modes(cls: type[Provider]) -> str:
    most = (
        max(m.max_frames for m in cls.models if m.native_sequence) if any(m.native_sequence for m in cls.models) else 0
    )
    modes = f"sequence (up to {most}), baseline" if most else "baseline (1 image per call)"
    modes += ", chain" if any(m.max_references for m in cls.models) else ""
    return modes + ("; seed" if any(m.takes_seed for m in cls.models) else "")


def _prices(cls: type[Provider]) -> str:
    prices = [m.price for m in cls.models if m.price is not None]
    if not prices or all(p.usd == 0 for p in prices):
        return "free"
    units = list(dict.fromkeys(p.unit for p in prices))  # a provider may bill its models in different units (fal)
    text = "; ".join(" / ".join(_money(p.usd) for p in prices if p.unit == unit) + f" per {unit}" for unit in units)
    return text + (f"; {cls.price_note}" if cls.price_note else "")


def _base_url(cls: type[Provider]) -> str:
    return f"`{cls.base_url_env}` (`{cls.default_base_url}`)" if cls.base_url_env else "none (in-process)"


def provider_table() -> str:
    """Every provider: models (the first is the default), modes, prices, variables, protocol."""
    rows = [
        [
            f"`{name}` {cls.label}",
            _models(cls),
            _modes(cls),
            _prices(cls),
            f"`{cls.key_env}`" if cls.key_env else "none",
            _base_url(cls),
            cls.protocol,
        ]
        for name, cls in ((n, provider_class(n)) for n in provider_names())
    ]
    return _table(
        [
            "provider",
            "models (first = default)",
            "modes",
            "price used for estimates",
            "key variable",
            "base URL variable (default)",
            "protocol",
        ],
        rows,
    )


def mode_table() -> str:
    """Every model in use and the modes a run of it may take (ModelInfo.modes: what core.plan allows)."""

    def row(name: str, info: ModelInfo) -> list[str]:
        chain = (
            ("frame 1 with a reference of yours" if "references required" in info.note else "yes")
            if "chain" in info.modes
            else "no (no reference input)"
        )
        return [
            f"`{name}`",
            f"`{info.id}`",
            f"up to {info.max_frames}" if "sequence" in info.modes else "no",
            "yes",
            chain,
            str(info.max_references),
        ]

    rows = [row(name, info) for name in provider_names() for info in provider_class(name).models if not info.retired]
    return _table(["provider", "model", "sequence", "baseline", "chain", "references a call"], rows)


def billing_table() -> str:
    """What `images_billed` and `cost_usd` count, per provider, with the evidence ([doc], [sdk], [3p], [guess])."""
    rows = [
        [name, provider_class(name).billing_details or provider_class(name).billing_rule] for name in provider_names()
    ]
    return _table(["provider", "billing rule and its evidence"], rows)


def config_table() -> str:
    """Every environment variable the playground reads (config.ENV_VARS), then each provider's two."""
    rows = [[f"`{name}`", meaning] for name, meaning in ENV_VARS.items()]
    for name in provider_names():
        cls = provider_class(name)
        if cls.key_env:
            rows.append(
                [
                    f"`{cls.key_env}`, `{cls.base_url_env}`",
                    f"{cls.label} key; base URL (default `{cls.default_base_url}`)",
                ]
            )
    return _table(["variable", "meaning"], rows)


def requirements(sdks: list[tuple[str, ...]]) -> str:
    """pip requirement lines, each once, in the order given (the conformance tests' SDKs)."""
    lines = dict.fromkeys(line for sdk in sdks for line in sdk)
    return "".join(f"{line}\n" for line in lines)
