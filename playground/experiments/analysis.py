"""Per-arm analysis of runs.csv and ratings.csv: the one pandas code behind the Analysis tab
and `python -m playground report`.

What each figure is (so it can be judged):
- runs: runs that were sent (rows refused before sending, api_calls 0, and runs the user
  cancelled are left out). An arm is `provider:model:mode` (the `arm` column, or built
  from provider/model/mode for runs made outside an experiment, a chain from the frame
  before as `chain-previous` by its reference_frames), split by prompt variant.
- success_rate: share of runs with status ok. frames_ratio: mean frames_returned / frames_requested.
- cost_per_run: mean cost_usd; cost_per_frame: total cost / total frames returned.
- latency_p50_s / latency_p95_s: percentiles (linear interpolation) over runs that returned frames.
- <metric>_mean with <metric>_ci95_low/high: mean over runs that have the score, and a 95%
  Student t interval, mean +- t(0.975, n-1) * s / sqrt(n) (none for n < 2). dreamsim is a
  distance (lower = more consistent); every other metric is higher = more consistent. The
  bounds stay raw here (and in the CSV and JSON); the table for people shows an interval that
  passes what its metric can take (METRIC_BOUNDS: 0 to 1 for the default metrics) clipped.
- votes, wins, losses, ties, win_rate = (wins + ties/2) / votes from blind pairwise votes of one
  criterion ("overall" by default) that were not withdrawn; a vote between two runs of the same
  arm says nothing about arms and is left out.
- bt_rating: Bradley-Terry strength, a tie counted as half a win to each side, with a weak prior
  (one tie against a virtual opponent of strength 1) so an arm that never lost stays finite;
  shown on an Elo-like scale, 1000 + 400 * log10(strength): 1000 = the virtual average
  opponent, +400 = 10:1 odds. win_rate and bt_rating come with 95% bootstrap intervals
  (_ci95_low, _ci95_high; bootstrap.py) and are empty, with too_few_votes true, for an arm with
  fewer than MIN_VOTES votes: never a rating without its interval.
- score_mean: mean of the optional 1 to 5 scores.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playground.experiments import bootstrap
from playground.experiments.votes import SCORE_VERDICT, counted_votes
from playground.metrics import METRIC_COLUMNS
from playground.store import merged
from playground.store.codec import decode_json

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    import pandas as pd

    from playground.core.playground import Playground
    from playground.store.merged import Snapshot

GROUP = ["arm", "variant"]
# the runs.csv columns the analysis reads: on a 100k-row log, parsing only these is much faster
COLUMNS = [
    "run_id",
    "experiment_id",
    "provider",
    "model",
    "mode",
    "reference_frames",
    "status",
    "api_calls",
    "arm",
    "variant",
    "prompt",
    "story_id",
    "frames_requested",
    "frames_returned",
    "cost_usd",
    "latency_s",
    *METRIC_COLUMNS,
]
CI_NOTE = "95% Student t interval: mean ± t(0.975, n−1)·s/√n (blank for fewer than 2 scored runs)"
# The range each metric can take: an interval passing it (small n, large spread) is shown clipped
METRIC_BOUNDS: dict[str, tuple[float, float]] = {
    "palette_consistency": (0.0, 1.0),
    "structure_consistency": (0.0, 1.0),
    "subject_consistency": (0.0, 1.0),
    "clip_i": (-1.0, 1.0),
    "dino_i": (-1.0, 1.0),
    "clip_t": (-1.0, 1.0),
    "dreamsim": (0.0, 2.0),
}
CLIP_NOTE = (
    "an interval that passes what its metric can take (0 to 1 for palette, structure and subject) is shown "
    "clipped to it, as [low, high]: with so few runs it says little; the CSV and JSON keep the raw t bounds "
    "(columns such as subject_consistency_ci95_low and _ci95_high)"
)
RATING_NOTE = (
    "Bradley–Terry (maximum likelihood), ties = half a win each, prior = one tie against a virtual opponent; "
    "Elo-like scale 1000 + 400·log10(strength)"
)


@dataclass
class Analysis:
    runs: pd.DataFrame  # the runs analysed, one row per run, with `arm` filled in
    summary: pd.DataFrame  # one row per arm and variant
    pairwise: pd.DataFrame  # win share of the row arm against the column arm
    votes: int
    notes: list[str] = field(default_factory=lambda: [CI_NOTE, RATING_NOTE])
    criterion: str = "overall"  # the criterion the votes were counted for
    spend_usd: float = 0.0  # every sent run's cost, cancelled runs' possibly-billed cost included
    cancelled_usd: float = 0.0  # of which cancelled runs
    cancelled_runs: int = 0


# -- loading ----------------------------------------------------------------------------------
PROMPT_TAG_CHARS = 32


def runs_frame(runs: pd.DataFrame, experiment_id: str | None = None, *, cancelled: bool = False) -> pd.DataFrame:
    """The runs that count, with `arm` filled in for runs made outside an experiment. Cancelled
    runs count for spend only (`cancelled=True`): their quality and speed say nothing of the arm."""
    import pandas as pd

    frame = runs if not experiment_id else runs[runs["experiment_id"] == experiment_id]
    calls = pd.to_numeric(frame["api_calls"], errors="coerce").fillna(0)
    frame = frame[(calls > 0) & (cancelled | (frame["status"] != "cancelled"))].copy()
    chained = frame["reference_frames"] if "reference_frames" in frame else [None] * len(frame)
    modes = [arm_mode(str(m), r) for m, r in zip(frame["mode"], chained)]
    built = frame["provider"].astype(str) + ":" + frame["model"].astype(str) + ":" + pd.Series(modes, index=frame.index)
    frame["arm"] = frame["arm"].where(frame["arm"].astype(str) != "", built)
    frame["variant"] = frame["variant"].fillna("").astype(str)
    for column in ["frames_requested", "frames_returned", "cost_usd", "latency_s", *METRIC_COLUMNS]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame.reset_index(drop=True)


def arm_mode(mode: str, reference_frames: object) -> str:
    """A run's mode as an arm names it: a chain whose frames took the frame before them (the
    reference_frames column, {frame: its reference's frame}) is `chain-previous`, as experiment
    arms are labelled. A two-frame chain, or one stopped after frame 2, reads as `chain`: both
    options sent the same there."""
    if mode != "chain":
        return mode
    chained = (
        decode_json("reference_frames", reference_frames) if isinstance(reference_frames, str) else reference_frames
    )
    if isinstance(chained, dict) and any(int(source) != 1 for source in chained.values()):
        return "chain-previous"
    return mode


def by_prompt(frame: pd.DataFrame) -> pd.DataFrame:
    """Over all runs (no experiment chosen) an arm is also split by what it was asked: runs of
    different prompts are not one arm. The variant then carries the prompt's start (a batch or
    benchmark run, made of many stories by design, carries its experiment id instead)."""
    if "prompt" not in frame or frame.empty:
        return frame
    stories = frame["story_id"].fillna("").astype(str) if "story_id" in frame else [""] * len(frame)
    frame = frame.copy()
    frame["variant"] = [
        _pooled_variant(v, str(e), str(p), s)
        for v, e, p, s in zip(frame["variant"], frame["experiment_id"].fillna(""), frame["prompt"].fillna(""), stories)
    ]
    return frame


def _pooled_variant(variant: str, experiment_id: str, prompt: str, story_id: str) -> str:
    if story_id and experiment_id:
        tag = f"set {experiment_id}"
    else:
        words = " ".join(prompt.split())
        if not words:
            return variant
        tag = "“" + words + "”"
        if len(words) > PROMPT_TAG_CHARS:  # cut, with a digest so two prompts alike at the start stay apart
            digest = hashlib.sha256(words.encode("utf-8", "backslashreplace")).hexdigest()[:4]
            tag = f"“{words[: PROMPT_TAG_CHARS - 1]}…” #{digest}"
    return f"{variant} · {tag}" if variant else tag


def experiments(playground: Playground, snapshots: Sequence[Snapshot] | None = None) -> list[str]:
    """Experiment ids in the log (merged with a synced dataset, merged.py), newest first."""
    frame = merged.runs(playground, ["experiment_id"], snapshots)
    ids = frame.loc[frame["experiment_id"].astype(str) != "", "experiment_id"].astype(str)
    return list(dict.fromkeys(reversed(ids.tolist())))


def analyse(
    playground: Playground,
    experiment_id: str | None = None,
    snapshots: Sequence[Snapshot] | None = None,
    criterion: str = "overall",
    raters: Collection[str] | None = None,
) -> Analysis:
    """Every writer's runs and votes when a synced dataset was pulled (merged.py)."""
    return analyse_frames(
        merged.runs(playground, COLUMNS, snapshots),
        merged.ratings(playground, snapshots),
        experiment_id,
        criterion,
        raters,
    )


def analyse_frames(
    runs: pd.DataFrame,
    ratings: pd.DataFrame,
    experiment_id: str | None = None,
    criterion: str = "overall",
    raters: Collection[str] | None = None,
) -> Analysis:
    import pandas as pd

    sent = runs_frame(runs, experiment_id, cancelled=True)  # read once: spend counts cancelled runs too
    if experiment_id:
        ratings = ratings[ratings["experiment_id"] == experiment_id]
    else:
        sent = by_prompt(sent)
    stopped = sent[sent["status"] == "cancelled"]
    frame = sent[sent["status"] != "cancelled"].reset_index(drop=True)  # the figures leave them out
    votes = vote_frame(frame, counted_votes(ratings, criterion=criterion, raters=raters))
    summary = arm_table(frame)
    spend: dict[str, Any] = {
        "spend_usd": float(sent["cost_usd"].fillna(0).sum()),
        "cancelled_usd": float(stopped["cost_usd"].fillna(0).sum()),
        "cancelled_runs": len(stopped),
    }
    if summary.empty:
        return _with_spend(Analysis(frame, summary, pd.DataFrame(), 0), **spend)
    keys = [tuple(k) for k in summary[GROUP].itertuples(index=False)]
    seed = bootstrap.seed_of(experiment_id, criterion)
    summary = summary.join(vote_table(votes, keys, seed), on=GROUP).join(score_table(frame, ratings), on=GROUP)
    summary = summary.join(spend_table(sent), on=GROUP)
    result = Analysis(frame, summary.reset_index(drop=True), pairwise_table(votes, keys), len(votes))
    result.criterion = criterion
    if len(votes):
        result.notes.append(bootstrap.NOTE)
    if passes_bounds(result.summary):
        result.notes.append(CLIP_NOTE)
    result.notes += mode_notes(result.summary)
    return _with_spend(result, **spend)


MODE_ORDER = ("sequence", "chain", "chain-previous", "baseline")
MODES_NOTE = (
    "modes: sequence = one call returns all the frames; chain = frame 1 from the story and beat 1, then "
    "frames 2..N each with frame 1 as a reference image (chain-previous: the frame before), with the "
    "baseline's prompts word for word; baseline = N independent single-image calls"
)


def mode_notes(summary: pd.DataFrame, metric: str = "subject_consistency") -> list[str]:
    """Where the arms span two or more of sequence, chain and baseline: what each mode is, and
    the mean of each mode's arms (the arm's last part) side by side."""
    if summary.empty or f"{metric}_mean" not in summary:
        return []
    modes = summary["arm"].astype(str).str.rsplit(":", n=1).str[-1]
    present = [m for m in MODE_ORDER if (modes == m).any()]
    if len(present) < 2:
        return []
    means = [
        f"{m} {summary.loc[modes == m, f'{metric}_mean'].mean():.3f} "
        f"(${summary.loc[modes == m, 'cost_per_run'].mean():.4f}/run)"
        for m in present
    ]
    return [MODES_NOTE, f"by mode, the mean of its arms' {metric.replace('_', ' ')}: " + " · ".join(means)]


def _with_spend(result: Analysis, spend_usd: float, cancelled_usd: float, cancelled_runs: int) -> Analysis:
    result.spend_usd, result.cancelled_usd, result.cancelled_runs = spend_usd, cancelled_usd, cancelled_runs
    if cancelled_runs:
        result.notes.append(
            f"spend ${spend_usd:.4f}, of which ${cancelled_usd:.4f} possibly billed by "
            f"{cancelled_runs} cancelled run(s); the other figures leave cancelled runs out"
        )
    return result


def spend_table(sent: pd.DataFrame) -> pd.DataFrame:
    """Per arm: every sent run's cost (cancelled runs' possibly-billed cost included) and the
    number of cancelled runs."""
    grouped = sent.assign(cancelled=sent["status"] == "cancelled", cost=sent["cost_usd"].fillna(0)).groupby(GROUP)
    return grouped.agg(cancelled=("cancelled", "sum"), spend_usd=("cost", "sum"))


# -- per-arm statistics -----------------------------------------------------------------------
def t_interval(values: pd.Series) -> tuple[float, float, float]:
    """(mean, low, high) of a 95% Student t interval; NaN bounds for fewer than 2 values."""
    from scipy.special import stdtrit  # the t quantile, without importing all of scipy.stats

    clean = values.dropna().astype(float)
    n = len(clean)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(clean.mean())
    if n < 2:
        return (mean, math.nan, math.nan)
    half = float(stdtrit(n - 1, 0.975)) * float(clean.std(ddof=1)) / math.sqrt(n)
    return (mean, mean - half, mean + half)


def _arm_row(group: pd.DataFrame) -> dict[str, Any]:
    returned = group[group["frames_returned"] > 0]
    frames = float(group["frames_returned"].sum())
    requested = group["frames_requested"].where(group["frames_requested"] > 0)
    row: dict[str, Any] = {
        "runs": len(group),
        "success_rate": float((group["status"] == "ok").mean()),
        "frames_ratio": float((group["frames_returned"] / requested).mean()),
        "cost_per_run": float(group["cost_usd"].fillna(0).mean()),
        "cost_per_frame": float(group["cost_usd"].fillna(0).sum()) / frames if frames else math.nan,
        "latency_p50_s": float(returned["latency_s"].quantile(0.5)) if len(returned) else math.nan,
        "latency_p95_s": float(returned["latency_s"].quantile(0.95)) if len(returned) else math.nan,
    }
    for metric in METRIC_COLUMNS:
        if group[metric].notna().any():
            row[f"{metric}_mean"], row[f"{metric}_ci95_low"], row[f"{metric}_ci95_high"] = t_interval(group[metric])
    return row


def arm_table(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    if frame.empty:
        return pd.DataFrame(columns=GROUP)
    rows = [
        {"arm": arm, "variant": variant, **_arm_row(group)} for (arm, variant), group in frame.groupby(GROUP, sort=True)
    ]
    return pd.DataFrame(rows)


# -- votes and scores -------------------------------------------------------------------------
def vote_frame(runs: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per pairwise vote (of `ratings`: the votes that count, votes.counted_votes) whose
    runs are known: left/right group keys and the verdict."""
    import pandas as pd

    votes = ratings
    voted = runs[runs["run_id"].isin(set(votes["run_id"]) | set(votes["other_run_id"]))]  # not every run: 100k+ rows
    group_of = {r.run_id: (r.arm, r.variant) for r in voted[["run_id", *GROUP]].itertuples(index=False)}
    rows = [
        {"left": group_of[v.run_id], "right": group_of[v.other_run_id], "verdict": v.verdict}
        for v in votes.itertuples(index=False)
        if v.run_id in group_of and v.other_run_id in group_of
    ]
    return pd.DataFrame(rows, columns=["left", "right", "verdict"])


def win_counts(votes: pd.DataFrame, keys: list[tuple[str, str]]) -> list[list[float]]:
    """wins[i][j]: votes of key i over key j, a tie counting half to each."""
    index: dict[object, int] = {k: i for i, k in enumerate(keys)}  # looked up by the votes' untyped cells
    wins = [[0.0] * len(keys) for _ in keys]
    for v in votes.itertuples(index=False):
        a, b = index[v.left], index[v.right]
        if a == b:  # two runs of one arm: nothing said about arms
            continue
        if v.verdict == "left":
            wins[a][b] += 1
        elif v.verdict == "right":
            wins[b][a] += 1
        else:
            wins[a][b] += 0.5
            wins[b][a] += 0.5
    return wins


def bradley_terry(wins: list[list[float]], prior: float = 1.0, rounds: int = 2000) -> list[float]:
    """Strengths by Hunter's MM updates; `prior` ties against a virtual opponent of strength 1."""
    n = len(wins)
    strength = [1.0] * n
    for _ in range(rounds):
        updated = []
        for i in range(n):
            won = sum(wins[i][j] for j in range(n) if j != i) + prior / 2  # the diagonal says nothing
            games = sum((wins[i][j] + wins[j][i]) / (strength[i] + strength[j]) for j in range(n) if j != i)
            updated.append(won / (games + prior / (strength[i] + 1.0)))
        change = max(abs(a - b) for a, b in zip(updated, strength)) if n else 0.0
        strength = updated
        if change < 1e-10:
            break
    return strength


def vote_table(votes: pd.DataFrame, keys: list[tuple[str, str]], seed: int = 0) -> pd.DataFrame:
    """Per arm: votes, wins, losses, ties, win rate and BT rating with their bootstrap intervals."""
    import pandas as pd

    index = {k: i for i, k in enumerate(keys)}
    ratings = bootstrap.rate(
        [index[k] for k in votes["left"]],
        [index[k] for k in votes["right"]],
        list(votes["verdict"]),
        len(keys),
        seed=seed,
    )
    rows = [{"arm": key[0], "variant": key[1], **_rating_cells(r)} for key, r in zip(keys, ratings)]
    return pd.DataFrame(rows).set_index(GROUP)


def _rating_cells(r: bootstrap.ArmRating) -> dict[str, Any]:
    def number(value: float | None) -> float:
        return math.nan if value is None else value

    return {
        "votes": r.votes,
        "wins": r.wins,
        "losses": r.losses,
        "ties": r.ties,
        "win_rate": number(r.win_rate),
        "win_rate_ci95_low": number(r.win_rate_ci95_low),
        "win_rate_ci95_high": number(r.win_rate_ci95_high),
        "bt_rating": number(r.bt_rating),
        "bt_rating_ci95_low": number(r.bt_rating_ci95_low),
        "bt_rating_ci95_high": number(r.bt_rating_ci95_high),
        "too_few_votes": r.too_few_votes,
    }


def pairwise_table(votes: pd.DataFrame, keys: list[tuple[str, str]]) -> pd.DataFrame:
    """Share of votes the row arm won against the column arm (ties half); blank where none."""
    import pandas as pd

    wins = win_counts(votes, keys)
    names = [label(k) for k in keys]
    cells = [
        [wins[i][j] / (wins[i][j] + wins[j][i]) if wins[i][j] + wins[j][i] else math.nan for j in range(len(keys))]
        for i in range(len(keys))
    ]
    return pd.DataFrame(cells, index=names, columns=names)


def pairwise_text(pairwise: pd.DataFrame, width: int = 100) -> str:
    """The pairwise matrix for a terminal: arms as letters (a legend of full labels below),
    cells as percentages, so a line stays short whatever the labels (full labels made lines of
    several hundred characters). Beyond what fits in `width`, columns continue in a second block."""
    names = list(pairwise.index)
    codes = [_code(i) for i in range(len(names))]
    cells = [["" if v != v else f"{v:.0%}" for v in pairwise.iloc[i]] for i in range(len(names))]
    cell = max(4, *(len(c) for c in codes))
    per_block = max(1, (width - cell - 2) // (cell + 1))
    lines = []
    for start in range(0, len(codes), per_block):
        cols = range(start, min(start + per_block, len(codes)))
        lines.append(" " * (cell + 2) + " ".join(codes[j].rjust(cell) for j in cols))
        lines += [
            codes[i].ljust(cell + 2) + " ".join((cells[i][j] or "·").rjust(cell) for j in cols)
            for i in range(len(codes))
        ]
        lines.append("")
    lines += [f"{code} = {name}" for code, name in zip(codes, names)]
    return "\n".join(lines)


def _code(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"A{i}"


def score_table(runs: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    scores = ratings[ratings["verdict"] == SCORE_VERDICT][["run_id", "score"]]
    scored = scores.merge(runs[["run_id", *GROUP]], on="run_id")
    scored["score"] = pd.to_numeric(scored["score"], errors="coerce")
    table = (
        scored.groupby(GROUP)["score"].agg(["mean", "count"]).rename(columns={"mean": "score_mean", "count": "scores"})
    )
    return (
        table
        if not table.empty
        else pd.DataFrame(columns=["score_mean", "scores"], index=pd.MultiIndex.from_tuples([], names=GROUP))
    )


def label(key: tuple[str, str]) -> str:
    return key[0] + (f" [{key[1]}]" if key[1] else "")


# -- for people: a readable table, plot data, CSV export --------------------------------------
# The metrics in the order people read them: subject (the character) first
SHOWN_METRICS = ("subject_consistency", *(m for m in METRIC_COLUMNS if m != "subject_consistency"))


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with short headers, rounded figures and mean ± half-width cells; the columns
    people compare arms by first (runs, success, votes, cost, latency, subject), the rest after."""
    import pandas as pd

    if summary.empty:
        return pd.DataFrame(columns=["arm", "runs"])

    def text(column: str, form: str) -> pd.Series:
        def cell(value: Any) -> str:
            return "" if pd.isna(value) else form.format(value)

        return summary[column].map(cell)

    out = pd.DataFrame(
        {
            "arm": [label(k) for k in summary[GROUP].itertuples(index=False)],
            "runs": summary["runs"],
            "ok": text("success_rate", "{:.0%}"),
            "votes": summary["votes"],
            "win %": rating_cells(summary, "win_rate", "{:.0%}"),
            "BT": rating_cells(summary, "bt_rating", "{:.0f}"),
            "score": text("score_mean", "{:.2f}"),
            "$/run": text("cost_per_run", "{:.4f}"),
            "p50 s": text("latency_p50_s", "{:.2f}"),
        }
    )
    for metric in SHOWN_METRICS:
        if f"{metric}_mean" in summary:
            out[metric.replace("_consistency", "")] = [
                _interval(m, lo, hi, METRIC_BOUNDS[metric])
                for m, lo, hi in zip(
                    summary[f"{metric}_mean"], summary[f"{metric}_ci95_low"], summary[f"{metric}_ci95_high"]
                )
            ]
    out["frames"] = text("frames_ratio", "{:.0%}")
    out["$/frame"] = text("cost_per_frame", "{:.4f}")
    out["p95 s"] = text("latency_p95_s", "{:.2f}")
    return out


def rating_cells(summary: pd.DataFrame, column: str, form: str) -> list[str]:
    """ "67% [42%, 88%]" per arm; "" without votes; "n < 5" with too few votes (no rating)."""
    cells = []
    for _, row in summary.iterrows():
        votes = row.get("votes")
        if votes is None or votes != votes or not votes:
            cells.append("")
        elif row.get("too_few_votes") or row.get(column) != row.get(column):
            cells.append(f"n < {bootstrap.MIN_VOTES}")
        else:
            value, low, high = (row[column], row[f"{column}_ci95_low"], row[f"{column}_ci95_high"])
            cells.append(f"{form.format(value)} [{form.format(low)}, {form.format(high)}]")
    return cells


def _interval(mean: float, low: float, high: float, bounds: tuple[float, float]) -> str:
    """ "mean ± half-width", or "mean [low, high]" clipped to the metric's bounds when it passes them."""
    if math.isnan(mean):
        return ""
    if math.isnan(low):
        return f"{mean:.3f}"
    if low >= bounds[0] and high <= bounds[1]:
        return f"{mean:.3f} ± {(high - low) / 2:.3f}"
    return f"{mean:.3f} [{max(low, bounds[0]):.2f}, {min(high, bounds[1]):.2f}]"


def passes_bounds(summary: pd.DataFrame) -> bool:
    """Whether any interval of the summary passes what its metric can take (shown clipped)."""
    return any(
        ((summary[f"{m}_ci95_low"] < low) | (summary[f"{m}_ci95_high"] > high)).any()
        for m, (low, high) in METRIC_BOUNDS.items()
        if f"{m}_ci95_low" in summary
    )


def cost_consistency_points(summary: pd.DataFrame, metric: str = "subject_consistency") -> pd.DataFrame:
    """One point per arm: cost per run against mean consistency (the Analysis scatter plot),
    coloured by a short arm name (a plot legend has room for six of those, not six model ids)."""
    import pandas as pd

    column = f"{metric}_mean"
    if summary.empty or column not in summary:
        return pd.DataFrame(columns=["arm", "short", "cost_per_run", metric])
    keys = [tuple(k) for k in summary[GROUP].itertuples(index=False)]
    points = pd.DataFrame(
        {
            "arm": [label(k) for k in keys],
            "short": short_labels(keys),
            "cost_per_run": summary["cost_per_run"],
            metric: summary[column],
        }
    )
    return points.dropna()


def short_labels(keys: list[tuple[str, str]]) -> list[str]:
    """ "provider:mode [variant]" for each arm, the full label where that would be ambiguous."""

    def short(key: tuple[str, str]) -> str:
        parts = key[0].split(":")
        return label((f"{parts[0]}:{parts[-1]}" if len(parts) >= 3 else key[0], key[1]))

    shorts = [short(k) for k in keys]
    return [s if shorts.count(s) == 1 else label(k) for s, k in zip(shorts, keys)]


def latency_points(runs: pd.DataFrame) -> pd.DataFrame:
    """Every run that returned frames: provider, mode and latency (the distribution plot)."""
    sent = runs[runs["frames_returned"] > 0]
    return sent[["provider", "mode", "latency_s"]].dropna().reset_index(drop=True)


def export_csv(summary: pd.DataFrame, directory: Path, experiment_id: str | None) -> Path:
    """Write the (filtered) per-arm table to DATA_DIR/exports/ and return the file."""
    directory.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in (experiment_id or "all-runs"))
    path = directory / f"analysis-{name}.csv"
    summary.to_csv(path, index=False)
    return path


def report_json(result: Analysis, experiment_id: str | None) -> dict[str, Any]:
    """The report as plain JSON values (NaN becomes null)."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        return value.item() if hasattr(value, "item") else value

    arms = [{k: clean(v) for k, v in row.items()} for row in result.summary.to_dict(orient="records")]
    pairwise = {
        r: {c: clean(v) for c, v in cols.items()} for r, cols in result.pairwise.to_dict(orient="index").items()
    }
    out: dict[str, Any] = {
        "experiment_id": experiment_id,
        "runs": len(result.runs),
        "votes": result.votes,
        "criterion": result.criterion,
        "min_votes": bootstrap.MIN_VOTES,
        "arms": arms,
        "pairwise_win_rate": pairwise,
        "notes": result.notes,
        "spend_usd": round(result.spend_usd, 6),
        "cancelled_usd": round(result.cancelled_usd, 6),
        "cancelled_runs": result.cancelled_runs,
    }
    if merged.WRITER_COLUMN in result.runs:  # merged with a synced dataset: runs per writer
        out["writers"] = merged.writers(result.runs)
    return out
