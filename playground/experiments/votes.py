"""Blind pairwise votes, skips, retractions and 1 to 5 scores, appended to ratings.csv (one
row each, never rewritten: a vote is withdrawn by a `retract` row), the votes that count, and
the pairs shown for a vote. The row format: base/ratings.py."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from playground.base.errors import InputError, loggable
from playground.base.ids import utc_now
from playground.base.ratings import (
    CRITERIA,
    MAX_RATER_CHARS,
    PREFERENCES,
    RETRACT,
    SCORE,
    SOURCES,
    VOTE_VERDICTS,
    Vote,
    legacy_vote_id,
)
from playground.base.types import RunRecord
from playground.core.playground import Playground
from playground.store import merged

if TYPE_CHECKING:
    import pandas as pd

# -- votes and scores (append-only ratings.csv) ------------------------------------------------
VERDICTS = PREFERENCES  # left | right | tie: the verdicts the figures count; run_id is the left sequence
SCORE_VERDICT = SCORE  # a 1 to 5 score of one sequence (run_id), other_run_id empty
MAX_DECIDE_MS = 24 * 3600 * 1000
# ratings.csv stops taking rows past this size: anyone who can reach /vote (a stranger on a
# public Space) could otherwise grow it without end. About 300,000 votes.
MAX_RATINGS_BYTES = 64 * 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def new_vote_id() -> str:
    return uuid.uuid4().hex[:12]


def clean_rater(rater: object) -> str:
    """The rater's name as logged: control characters removed, stripped, "anonymous" when empty;
    longer than MAX_RATER_CHARS is refused."""
    if rater is None:
        return "anonymous"
    if not isinstance(rater, str):
        raise InputError(f"rater is a name (text), got {type(rater).__name__}")
    name = loggable(_CONTROL.sub("", rater)).strip()  # a lone surrogate as its escape: no answer could hold it
    if len(name) > MAX_RATER_CHARS:
        raise InputError(f"rater is at most {MAX_RATER_CHARS} characters, got {len(name)}")
    return name or "anonymous"


def _choice(value: object, name: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise InputError(f"{name} is one of {', '.join(allowed)}, got {value!r}")
    return value.strip().lower()


def _decide_ms(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_DECIDE_MS:
        raise InputError(f"decide_ms is a whole number of milliseconds from 0 to {MAX_DECIDE_MS}, got {value!r}")
    return int(value)


def _voted_run(playground: Playground, run_id: object, side: str, experiment_id: str) -> str:
    """The run id when the run is in the log (in `experiment_id` when one is given) with frames."""
    if not isinstance(run_id, str) or not run_id.strip():
        raise InputError(f"{side}_run_id is required: the run id of the {side} sequence")
    run_id = run_id.strip()
    row = merged.get(playground, run_id)
    if row is None:
        raise InputError(f"no run {run_id!r} in the log ({side}_run_id)")
    if experiment_id and str(row.get("experiment_id") or "") != experiment_id:
        raise InputError(f"run {run_id!r} is not in experiment {experiment_id!r} ({side}_run_id)")
    try:
        frames = int(float(str(row.get("frames_returned") or 0)))
    except ValueError:
        frames = 0
    if frames <= 0:
        raise InputError(f"run {run_id!r} returned no frames: there is nothing to vote on ({side}_run_id)")
    return run_id


def vote(
    playground: Playground,
    *,
    experiment_id: str = "",
    left_run_id: str,
    right_run_id: str,
    verdict: str,
    criterion: str = "overall",
    rater: str = "",
    pair_id: str = "",
    source: str = "api",
    decide_ms: int | None = None,
) -> Vote:
    """Log one blind pairwise vote between two sequences and return it (what `/vote` and
    `vote --json` return, as `Vote.json()`).

    experiment_id: the experiment both runs belong to ("" for runs made outside an experiment).
    left_run_id, right_run_id: the two runs shown, left and right; both must be in the log (in that
        experiment when one is given), be different and have returned frames.
    verdict: "left" (left better), "right" (right better), "tie", or "skip" (shown, no preference:
        logged, counted by no figure).
    criterion: "overall" (default), "character", "style" or "story": a rater voting per criterion
        logs one vote per criterion, with one pair_id.
    rater: the rater's name (at most 64 characters; "anonymous" when empty).
    pair_id: one presentation of the pair (default: a new one); decide_ms: milliseconds from showing
        the pair to the vote, when measured; source: "ui", "api" (default) or "cli".
    Raises InputError (the message says what is wrong); nothing is logged then.
    """
    verdict = _choice(verdict, "verdict", VOTE_VERDICTS)
    criterion = _choice(criterion or "overall", "criterion", CRITERIA)
    source = _choice(source, "source", SOURCES)
    who = clean_rater(rater)
    ms = _decide_ms(decide_ms)
    if not isinstance(experiment_id, str):
        raise InputError(f"experiment_id is text, got {type(experiment_id).__name__}")
    if not isinstance(pair_id, str):  # typed, but a stranger's API call may send anything
        raise InputError("pair_id is at most 64 characters of text")
    if len(pair_id) > 64 or _CONTROL.search(pair_id):
        raise InputError("pair_id is at most 64 characters of text")
    experiment_id = experiment_id.strip()
    left = _voted_run(playground, left_run_id, "left", experiment_id)
    right = _voted_run(playground, right_run_id, "right", experiment_id)
    if left == right:
        raise InputError("a vote needs two different runs")
    return _append(
        playground,
        Vote(
            experiment_id=experiment_id,
            run_id=left,
            other_run_id=right,
            verdict=verdict,
            rater=who,
            criterion=criterion,
            pair_id=pair_id.strip() or new_vote_id(),
            source=source,
            decide_ms=ms,
        ),
    )


def retract(playground: Playground, *, vote_id: str, rater: str = "", source: str = "api") -> Vote:
    """Withdraw a vote ("undo"): append a `retract` row naming it. The vote's row stays in the file;
    the figures leave it out. Refused when no such vote is logged or it is already withdrawn."""
    if not isinstance(vote_id, str):  # typed, but a stranger's API call may send anything
        raise InputError("vote_id is required: the id of the vote to withdraw")
    if not vote_id.strip():
        raise InputError("vote_id is required: the id of the vote to withdraw")
    vote_id = vote_id.strip()
    rows = [Vote.from_row(r) for r in merged.ratings(playground).to_dict(orient="records", into=dict)]
    target = next((v for v in rows if v.vote_id == vote_id and v.verdict in VOTE_VERDICTS), None)
    if target is None:
        raise InputError(f"no vote {vote_id!r} in the log")
    if any(v.verdict == RETRACT and v.retracts == vote_id for v in rows):
        raise InputError(f"vote {vote_id!r} is already withdrawn")
    return _append(
        playground,
        Vote(
            experiment_id=target.experiment_id,
            run_id=target.run_id,
            other_run_id=target.other_run_id,
            verdict=RETRACT,
            rater=clean_rater(rater),
            criterion=target.criterion,
            pair_id=target.pair_id,
            source=_choice(source, "source", SOURCES),
            retracts=vote_id,
        ),
    )


def _append(playground: Playground, row: Vote) -> Vote:
    path = playground.log.ratings.path
    if path.exists() and path.stat().st_size >= MAX_RATINGS_BYTES:
        raise InputError(
            f"ratings.csv is full ({MAX_RATINGS_BYTES // (1024 * 1024)} MB, this app's limit): no more "
            "votes are taken until the owner moves it aside"
        )
    logged = replace(row, rated_at=utc_now(), vote_id=new_vote_id())
    playground.log.add_rating(logged.as_row())
    return logged


def add_vote(
    playground: Playground,
    experiment_id: str,
    left_run_id: str,
    right_run_id: str,
    verdict: str,
    rater: str = "",
    criterion: str = "overall",
    pair_id: str = "",
    source: str = "ui",
) -> Vote:
    """Log a vote on a pair this app drew itself (Compare's blind vote: the runs are known, not
    looked up again): left better, right better, tie or skip."""
    if verdict not in VOTE_VERDICTS:
        raise InputError(f"a vote is one of {', '.join(VOTE_VERDICTS)}, got {verdict!r}")
    if not left_run_id or not right_run_id or left_run_id == right_run_id:
        raise InputError("a vote needs two different runs")
    return _append(
        playground,
        Vote(
            experiment_id=experiment_id,
            run_id=left_run_id,
            other_run_id=right_run_id,
            verdict=verdict,
            rater=clean_rater(rater),
            criterion=_choice(criterion or "overall", "criterion", CRITERIA),
            pair_id=pair_id or new_vote_id(),
            source=_choice(source, "source", SOURCES),
        ),
    )


def _score_value(score: object) -> int:
    try:
        value: int = int(score)  # type: ignore[call-overload]  # any object: int() refuses what it cannot read
    except (TypeError, ValueError):
        raise InputError(f"a score is a whole number from 1 to 5, got {score!r}") from None
    if not 1 <= value <= 5 or value != score and str(value) != str(score).strip():
        raise InputError(f"a score is a whole number from 1 to 5, got {score!r}")
    return value


def add_score(playground: Playground, experiment_id: str, run_id: str, score: object, rater: str = "") -> Vote:
    """Log a 1 to 5 score of one sequence."""
    if not run_id:
        raise InputError("a score needs a run")
    return _append(
        playground,
        Vote(
            experiment_id=experiment_id,
            run_id=run_id,
            verdict=SCORE_VERDICT,
            score=_score_value(score),
            rater=clean_rater(rater),
        ),
    )


# -- the votes that count ----------------------------------------------------------------------
def counted_votes(
    ratings: pd.DataFrame,
    experiment_id: str | None = None,
    criterion: str | None = "overall",
    raters: Collection[str] | None = None,
) -> pd.DataFrame:
    """The preference votes (left, right, tie) that count: not withdrawn, of one criterion (None:
    every criterion; an empty cell of an older row is "overall"), of `raters` when given.
    Columns: the rating columns, with criterion and rater filled in."""
    frame = ratings if not experiment_id else ratings[ratings["experiment_id"].astype(str) == experiment_id]
    frame = frame.copy()
    for column, default in (("criterion", "overall"), ("rater", "anonymous"), ("vote_id", ""), ("retracts", "")):
        if column not in frame:
            frame[column] = ""
        frame[column] = frame[column].fillna("").astype(str).str.strip().replace("", default)
    withdrawn = set(frame.loc[frame["verdict"] == RETRACT, "retracts"])
    if withdrawn:
        unnamed = frame["vote_id"] == ""  # an older row: its id is derived from its cells
        if unnamed.any():
            frame.loc[unnamed, "vote_id"] = [
                legacy_vote_id(Vote.from_row(r)) for r in frame[unnamed].to_dict(orient="records", into=dict)
            ]
    keep = frame["verdict"].isin(PREFERENCES) & ~frame["vote_id"].isin(withdrawn)
    if criterion:
        keep &= frame["criterion"] == criterion
    if raters:
        keep &= frame["rater"].isin(set(raters))
    return frame[keep].reset_index(drop=True)


# -- pairs to vote on --------------------------------------------------------------------------
def blind_pair(
    records: Sequence[RunRecord], rng: random.Random, shown: Collection[frozenset[str]] = ()
) -> tuple[RunRecord, RunRecord] | None:
    """Two sequences with frames, in random order, for a blind vote: a pair not `shown` yet
    while there is one. None when fewer than two runs returned frames."""
    rated = [r for r in records if r.frames_returned > 0 and r.run_id]
    pairs = [(a, b) for i, a in enumerate(rated) for b in rated[i + 1 :]]
    fresh = [p for p in pairs if frozenset((p[0].run_id, p[1].run_id)) not in shown] or pairs
    if not fresh:
        return None
    left, right = rng.choice(fresh)
    return (left, right) if rng.random() < 0.5 else (right, left)


def draw_pair(runs: pd.DataFrame, ratings: pd.DataFrame, rater: str, rng: random.Random) -> tuple[str, str] | None:
    """Two runs of different arms (arm and variant), in random order, for a blind vote: pairs this
    rater has not been shown yet first (a vote, skip or withdrawn vote of theirs counts as shown),
    then the pairs with the fewest votes of anyone. `runs`: the experiment's runs that count
    (analysis.runs_frame); a run without frames is never drawn. None when no such pair exists."""
    rated = runs[runs["frames_returned"] > 0]
    groups = {str(r.run_id): (str(r.arm), str(r.variant)) for r in rated[["run_id", "arm", "variant"]].itertuples()}
    ids = sorted(groups)
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :] if groups[a] != groups[b]]
    if not pairs:
        return None
    who = clean_rater(rater)
    votes = ratings[ratings["verdict"].isin(VOTE_VERDICTS)]
    mine = {frozenset(p) for p, r in zip(zip(votes["run_id"], votes["other_run_id"]), votes["rater"]) if r == who}
    counts: dict[frozenset[str], int] = {}
    for pair in zip(votes["run_id"], votes["other_run_id"]):
        counts[frozenset(pair)] = counts.get(frozenset(pair), 0) + 1
    fresh = [p for p in pairs if frozenset(p) not in mine] or pairs
    fewest = min(counts.get(frozenset(p), 0) for p in fresh)
    left, right = rng.choice([p for p in fresh if counts.get(frozenset(p), 0) == fewest])
    return (left, right) if rng.random() < 0.5 else (right, left)
