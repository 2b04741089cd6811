"""Blind pairwise votes and 1 to 5 scores, appended to ratings.csv, and the pairs shown for a vote."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence

from playground.base.errors import InputError
from playground.base.ids import utc_now
from playground.base.types import RunRecord
from playground.core.playground import Playground

# -- votes and scores (append-only ratings.csv) ------------------------------------------------
VERDICTS = ("left", "right", "tie")  # of a blind pairwise vote; run_id is the left sequence


SCORE_VERDICT = "score"  # a 1 to 5 score of one sequence (run_id), other_run_id empty


def _score_value(score: object) -> int:
    try:
        value = int(score)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InputError(f"a score is a whole number from 1 to 5, got {score!r}") from None
    if not 1 <= value <= 5 or value != score and str(value) != str(score).strip():
        raise InputError(f"a score is a whole number from 1 to 5, got {score!r}")
    return value


def add_vote(playground: Playground, experiment_id: str, left_run_id: str, right_run_id: str, verdict: str,
             rater: str = "") -> None:
    """Log a blind pairwise vote between two sequences: left better, right better or tie."""
    if verdict not in VERDICTS:
        raise InputError(f"a vote is one of {', '.join(VERDICTS)}, got {verdict!r}")
    if not left_run_id or not right_run_id or left_run_id == right_run_id:
        raise InputError("a vote needs two different runs")
    playground.log.add_rating({"rated_at": utc_now(), "experiment_id": experiment_id, "run_id": left_run_id,
                               "other_run_id": right_run_id, "verdict": verdict, "score": None,
                               "rater": rater.strip() or "anonymous"})


def add_score(playground: Playground, experiment_id: str, run_id: str, score: object, rater: str = "") -> None:
    """Log a 1 to 5 score of one sequence."""
    if not run_id:
        raise InputError("a score needs a run")
    playground.log.add_rating({"rated_at": utc_now(), "experiment_id": experiment_id, "run_id": run_id,
                               "other_run_id": "", "verdict": SCORE_VERDICT, "score": _score_value(score),
                               "rater": rater.strip() or "anonymous"})


def blind_pair(records: Sequence[RunRecord], rng: random.Random, shown: Collection[frozenset[str]] = ()
               ) -> tuple[RunRecord, RunRecord] | None:
    """Two sequences with frames, in random order, for a blind vote: a pair not `shown` yet
    while there is one. None when fewer than two runs returned frames."""
    rated = [r for r in records if r.frames_returned > 0 and r.run_id]
    pairs = [(a, b) for i, a in enumerate(rated) for b in rated[i + 1:]]
    fresh = [p for p in pairs if frozenset((p[0].run_id, p[1].run_id)) not in shown] or pairs
    if not fresh:
        return None
    left, right = rng.choice(fresh)
    return (left, right) if rng.random() < 0.5 else (right, left)
