"""The Analysis tab's cost plot as an SVG string: cost per run against mean consistency, one
point per arm. Drawn here rather than by gr.ScatterPlot, whose axis (Vega-Lite) put about 30
tick labels on the cost axis at 1400 px and started it below $0, with no setting for either.
Every label is escaped: arm names come from model ids a stranger may type."""

from __future__ import annotations

import math
from html import escape
from typing import Any

# colour-blind-safe (Okabe-Ito), then repeats with another marker
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MAX_TICKS = 6
WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 60, 36, 16, 56


def nice_ticks(low: float, high: float, most: int = MAX_TICKS) -> list[float]:
    """At most `most` round tick values (1, 2 or 5 times a power of ten apart) covering low..high."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + (abs(low) or 1.0) * 0.1
    raw = (high - low) / max(1, most - 1)
    power = 10 ** math.floor(math.log10(raw))
    for step in (m * power for m in (1, 2, 2.5, 5, 10, 20, 25, 50)):
        if step < raw:
            continue
        first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
        if last - first + 1 <= most:
            return [round(k * step, 12) for k in range(first, last + 1)]
    return [low, high]


def _format(value: float, step: float, money: bool) -> str:
    decimals = 0
    while decimals < 6 and abs(round(step * 10**decimals) - step * 10**decimals) > 1e-9:
        decimals += 1
    text = f"{value:.{min(decimals, 6)}f}"
    return ("$" + text) if money else text


def cost_plot_svg(points: Any, metric: str = "subject_consistency") -> str:
    """An SVG of the arms' (cost_per_run, metric) points with round ticks (at most MAX_TICKS per
    axis; cost starts at $0 at the lowest) and a legend of the short arm names; "" without points."""
    if points is None or not len(points):
        return ""
    xs = [float(v) for v in points["cost_per_run"]]
    ys = [float(v) for v in points[metric]]
    x_ticks = nice_ticks(0.0, max(xs) if max(xs) > 0 else 0.01)
    y_ticks = nice_ticks(min(ys), max(ys)) if max(ys) > min(ys) else nice_ticks(min(ys) - 0.05, max(ys) + 0.05)
    x0, x1 = x_ticks[0], x_ticks[-1]
    y0, y1 = y_ticks[0], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / ((x1 - x0) or 1) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="cost per run against {escape(metric)}" class="cost-plot" '
        f'style="width:100%;max-width:{WIDTH}px;height:auto;font:12px sans-serif">'
    ]
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
    for t in x_ticks:
        parts.append(
            f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#ddd"/>'
            f'<text class="x-tick" x="{px(t):.1f}" y="{TOP + plot_h + 24}" text-anchor="middle" '
            f'fill="currentColor">{_format(t, x_step, True)}</text>'
        )
    for t in y_ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#ddd"/>'
            f'<text class="y-tick" x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end" '
            f'fill="currentColor">{_format(t, y_step, False)}</text>'
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle" fill="currentColor">$ per run</text>'
    )
    parts.append(
        f'<text class="y-title" transform="translate(12 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle" '
        f'fill="currentColor">{escape(metric.replace("_", " "))} (mean)</text>'
    )
    for i, (x, y, arm) in enumerate(zip(xs, ys, points["arm"])):
        colour = COLOURS[i % len(COLOURS)]
        parts.append(
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="6" fill="{colour}" fill-opacity="0.85">'
            f"<title>{escape(str(arm))}: ${x:.4f} per run, {y:.3f}</title></circle>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<li style="display:flex;align-items:center;gap:6px"><span style="width:12px;height:12px;'
        f'border-radius:50%;display:inline-block;background:{COLOURS[i % len(COLOURS)]}"></span>'
        f"{escape(str(short))}</li>"
        for i, short in enumerate(points["short"])
    )
    return (
        f'<figure class="cost-figure" style="margin:0"><figcaption style="font-weight:600;margin-bottom:4px">'
        f"Cost per run against {escape(metric.replace('_', ' '))}</figcaption>{''.join(parts)}"
        f'<ul class="cost-legend" style="list-style:none;padding:0;margin:4px 0 0;display:flex;flex-wrap:wrap;'
        f'gap:4px 16px">{legend}</ul></figure>'
    )
