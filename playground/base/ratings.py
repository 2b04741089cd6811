"""A row of ratings.csv, typed: a blind pairwise vote, a skip, a retraction or a 1 to 5 score.

ratings.csv is append-only and its columns only grow at the end (the store migrates an older
file once; its rows get empty cells). An empty cell of a newer column reads as its default,
so files written before these columns existed read as they always meant:

    rated_at, experiment_id   when (UTC ISO 8601), and the experiment the runs belong to
    run_id, other_run_id      the left and the right sequence (a score: the run, other empty)
    verdict                   left | right | tie (a preference), skip (shown, no preference),
                              retract (withdraws the vote `retracts` names), score (a 1-5 score)
    score, rater              the score of a score row; who voted ("anonymous" when not said)
    criterion                 overall | character | style | story            (empty: overall)
    vote_id                   12 hex digits, unique                          (empty: an older row)
    pair_id                   one presentation of a pair: the votes of several criteria cast on
                              it share it                                    (empty: not said)
    source                    ui | api | cli                                 (empty: ui)
    retracts                  on a retract row, the vote_id it withdraws
    decide_ms                 ms from showing the pair to the vote           (empty: not measured)
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["left", "right", "tie", "skip", "retract", "score"]
PREFERENCES: tuple[str, ...] = ("left", "right", "tie")  # what the figures count
VOTE_VERDICTS: tuple[str, ...] = (*PREFERENCES, "skip")  # what a rater may say of a pair
RETRACT = "retract"
SCORE = "score"
CRITERIA: tuple[str, ...] = ("overall", "character", "style", "story")
SOURCES: tuple[str, ...] = ("ui", "api", "cli")
MAX_RATER_CHARS = 64


@dataclass(frozen=True)
class Vote:
    """One row of ratings.csv. Field order is the column order; add new fields at the end only."""

    rated_at: str = ""
    experiment_id: str = ""
    run_id: str = ""  # the left sequence (a score: the scored run)
    other_run_id: str = ""  # the right sequence
    verdict: str = ""
    score: int | None = None
    rater: str = "anonymous"
    # -- issue 17: criteria, ids, undo
    criterion: str = "overall"
    vote_id: str = ""
    pair_id: str = ""
    source: str = "ui"
    retracts: str = ""
    decide_ms: int | None = None

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def as_row(self) -> dict[str, object]:
        """The CSV cells (None as an empty cell)."""
        return {k: ("" if v is None else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> Vote:
        """A row as read back (text cells; a newer column missing or empty reads as its default;
        an older row without a vote id gets one derived from its cells, the same on every read)."""

        def text(name: str) -> str:
            value = row.get(name)
            return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()

        vote = cls(
            rated_at=text("rated_at"),
            experiment_id=text("experiment_id"),
            run_id=text("run_id"),
            other_run_id=text("other_run_id"),
            verdict=text("verdict"),
            score=_whole(text("score")),
            rater=text("rater") or "anonymous",
            criterion=text("criterion") or "overall",
            vote_id=text("vote_id"),
            pair_id=text("pair_id"),
            source=text("source") or "ui",
            retracts=text("retracts"),
            decide_ms=_whole(text("decide_ms")),
        )
        return vote if vote.vote_id else dataclasses.replace(vote, vote_id=legacy_vote_id(vote))

    def json(self) -> dict[str, object]:
        """The vote as `/vote` and `vote --json` return it (left and right named as such)."""
        return {
            "vote_id": self.vote_id,
            "rated_at": self.rated_at,
            "experiment_id": self.experiment_id,
            "left_run_id": self.run_id,
            "right_run_id": self.other_run_id,
            "verdict": self.verdict,
            "criterion": self.criterion,
            "rater": self.rater,
            "source": self.source,
            "pair_id": self.pair_id,
            "retracts": self.retracts or None,
            "decide_ms": self.decide_ms,
        }


RATING_COLUMNS: list[str] = Vote.columns()


def legacy_vote_id(vote: Vote) -> str:
    """A stable id for a row written before votes had one: a hash of its cells."""
    cells = "\x1f".join(
        [
            vote.rated_at,
            vote.experiment_id,
            vote.run_id,
            vote.other_run_id,
            vote.verdict,
            "" if vote.score is None else str(vote.score),
            vote.rater,
        ]
    )
    return "old-" + hashlib.sha256(cells.encode("utf-8", "backslashreplace")).hexdigest()[:12]


def _whole(text: str) -> int | None:
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


# DATA_DIR/annotations.csv (experiments/annotations.py): tags and notes per run, append-only like
# ratings.csv; here because the store syncs and merges it too (store/hub_sync.py, store/merged.py)
ANNOTATIONS_FILE = "annotations.csv"
ANNOTATION_COLUMNS = ["at", "run_id", "kind", "value", "author", "source"]
