"""What the Arena shows, without gradio: a blind pair of one experiment's sequences, the votes
cast on it (one, or one per criterion), undo, the reveal after the last vote, and the
leaderboard with vote counts and bootstrap intervals (never a rating without its interval)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from playground.base.errors import PlaygroundError
from playground.base.ratings import CRITERIA
from playground.core.playground import Playground
from playground.experiments import analysis, bootstrap
from playground.experiments.votes import counted_votes, draw_pair, new_vote_id, retract, vote
from playground.present.runs import gallery_items
from playground.store import merged

PER_CRITERION = ("character", "style", "story")  # the rows of "per criterion" mode
VERDICT_KEYS = {"left": "A", "tie": "T", "right": "B", "skip": "S"}
VERDICT_LABELS = {"left": "A better", "tie": "Tie", "right": "B better", "skip": "Skip"}
LEADERBOARD_COLUMNS = ["arm", "votes", "W-T-L", "win % [95% CI]", "BT [95% CI]", "raters"]


@dataclass
class ArenaPair:
    """One presentation of a pair (kept in the visitor's gr.State: ids and paths only)."""

    experiment_id: str
    left: str  # run ids
    right: str
    pair_id: str
    criteria: tuple[str, ...]  # the rows to vote: ("overall",) or PER_CRITERION
    shown_at: float = field(default_factory=time.monotonic)
    cast: dict[str, str] = field(default_factory=dict)  # criterion -> vote id

    @property
    def pending(self) -> list[str]:
        return [c for c in self.criteria if c not in self.cast]

    @property
    def done(self) -> bool:
        return not self.pending


def experiment_choices(playground: Playground) -> list[str]:
    return analysis.experiments(playground)


def _runs(playground: Playground, experiment_id: str) -> Any:
    return analysis.runs_frame(merged.runs(playground, analysis.COLUMNS), experiment_id)


def new_pair(
    playground: Playground, experiment_id: str, rater: str, per_criterion: bool, rng: random.Random
) -> ArenaPair | None:
    """A blind pair of the experiment (draw_pair's order: unseen by this rater, then fewest votes)."""
    if not experiment_id:
        return None
    ratings = merged.ratings(playground)
    ratings = ratings[ratings["experiment_id"] == experiment_id]
    pair = draw_pair(_runs(playground, experiment_id), ratings, rater, rng)
    if pair is None:
        return None
    return ArenaPair(experiment_id, pair[0], pair[1], new_vote_id(), PER_CRITERION if per_criterion else ("overall",))


def frames_of(playground: Playground, run_id: str) -> list[tuple[str, str]]:
    """The run's previews with their beats (no arm, model or provider: the vote is blind)."""
    return gallery_items(merged.load_run(playground, run_id).frames)


def cast(playground: Playground, pair: ArenaPair | None, criterion: str, verdict: str, rater: str) -> ArenaPair:
    """Log the vote of one criterion row of the pair shown."""
    if pair is None:
        raise PlaygroundError("no pair to vote on: choose an experiment, then press Next pair")
    if criterion not in pair.pending:
        raise PlaygroundError(f"{criterion}: already voted on this pair (Undo last takes a vote back)")
    logged = vote(
        playground,
        experiment_id=pair.experiment_id,
        left_run_id=pair.left,
        right_run_id=pair.right,
        verdict=verdict,
        criterion=criterion,
        rater=rater,
        pair_id=pair.pair_id,
        source="ui",
        decide_ms=min(int((time.monotonic() - pair.shown_at) * 1000), 24 * 3600 * 1000),
    )
    pair.cast[criterion] = logged.vote_id
    return pair


def undo(playground: Playground, pair: ArenaPair | None, rater: str) -> tuple[ArenaPair, str]:
    """Withdraw the last vote cast on the pair shown (a `retract` row); its row can be voted again."""
    if pair is None or not pair.cast:
        raise PlaygroundError("nothing to undo on this pair")
    criterion, vote_id = list(pair.cast.items())[-1]
    retract(playground, vote_id=vote_id, rater=rater, source="ui")
    del pair.cast[criterion]
    return pair, criterion


def reveal(playground: Playground, pair: ArenaPair) -> str:
    """Which arm was A and which was B (shown once every row of the pair is voted)."""

    def arm(run_id: str) -> str:
        record = merged.load_run(playground, run_id).record
        label = record.arm or f"{record.provider}:{record.model}:{record.mode}"
        return label + (f" (variant {record.variant})" if record.variant else "")

    return f"Saved. **A** was `{arm(pair.left)}`, **B** was `{arm(pair.right)}`."


def leaderboard(playground: Playground, experiment_id: str | None, criterion: str = "overall") -> Any:
    """One row per arm of the experiment: votes, wins-ties-losses, win rate and Bradley-Terry
    each with its 95% bootstrap interval, or "needs ≥ 5 votes" (no rating without an interval),
    and how many raters voted on it."""
    import pandas as pd

    if not experiment_id:
        return pd.DataFrame(columns=LEADERBOARD_COLUMNS)
    if criterion not in CRITERIA:
        raise PlaygroundError(f"criterion is one of {', '.join(CRITERIA)}")
    result = analysis.analyse(playground, experiment_id, criterion=criterion)
    if result.summary.empty:
        return pd.DataFrame(columns=LEADERBOARD_COLUMNS)
    summary = result.summary.sort_values(["bt_rating", "votes"], ascending=False, na_position="last")
    raters = _raters(result.runs, merged.ratings(playground), experiment_id, criterion)
    needs = f"needs ≥ {bootstrap.MIN_VOTES} votes"
    rows = []
    for _, row in summary.iterrows():
        key = (row["arm"], row["variant"])
        rated = not row["too_few_votes"]
        rows.append(
            {
                "arm": analysis.label(key),
                "votes": int(row["votes"]),
                "W-T-L": f"{int(row['wins'])}-{int(row['ties'])}-{int(row['losses'])}",
                "win % [95% CI]": (
                    f"{row['win_rate']:.0%} [{row['win_rate_ci95_low']:.0%}, {row['win_rate_ci95_high']:.0%}]"
                )
                if rated
                else needs,
                "BT [95% CI]": (
                    f"{row['bt_rating']:.0f} [{row['bt_rating_ci95_low']:.0f}, {row['bt_rating_ci95_high']:.0f}]"
                )
                if rated
                else needs,
                "raters": raters.get(key, 0),
            }
        )
    return pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)


def _raters(runs: Any, ratings: Any, experiment_id: str, criterion: str) -> dict[tuple[str, str], int]:
    counted = counted_votes(ratings, experiment_id, criterion)
    group = {str(r.run_id): (str(r.arm), str(r.variant)) for r in runs[["run_id", "arm", "variant"]].itertuples()}
    seen: dict[tuple[str, str], set[str]] = {}
    for left, right, who in zip(counted["run_id"], counted["other_run_id"], counted["rater"]):
        for run in (left, right):
            if run in group:
                seen.setdefault(group[run], set()).add(who)
    return {k: len(v) for k, v in seen.items()}
