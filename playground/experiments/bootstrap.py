"""Win rate and Bradley-Terry ratings of arms from pairwise votes, each with a 95% bootstrap
interval (numpy, vectorised: 1,000 resamples of a few hundred votes take milliseconds).

The model (the same as analysis.bradley_terry, so point estimates match it): a tie counts as half
a win to each side; a prior of one tie against a virtual opponent of strength 1 keeps an arm
that never lost finite; the rating is on an Elo-like scale, 1000 + 400 * log10(strength).

The interval: the vote is the resampling unit (votes taken as independent), B resamples of the
votes with replacement, percentiles 2.5 and 97.5. Votes are collapsed to categories (pair,
outcome), so a resample is one multinomial draw over at most 3 * K(K-1)/2 categories and the
cost does not grow with the number of votes. All resamples are fitted at once by Newton's
method on log-strengths (the log-likelihood with the prior is strictly concave).
The seed comes from the experiment and criterion, so a report is reproducible.

Small samples: a plain bootstrap of votes that all say the same (6 wins of 6) resamples only
that and gives an interval of zero width. So each pair's outcome shares are smoothed before the
draw: half a pseudo-vote is added to each of the pair's three outcomes (win, loss, tie; a
Jeffreys-like prior on the outcome shares of the pairs that were voted on), which widens the
interval where votes are few and vanishes as they grow; the point estimates use the votes
alone. With 6 wins of 6 the win-rate interval is about [67%, 100%] (Wilson's: [61%, 100%]).
Where the smoothing pulls every resample to one side of the estimate (an arm that won its one
vote against each of five arms), the interval is widened to hold the estimate.
With one vote the interval would still say little: An arm with fewer than MIN_VOTES votes gets no rating and no interval, only its count.
Per-vote resampling under-covers when one rater casts most votes or a pair repeats: say so
where the figures are shown (NOTE).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

MIN_VOTES = 5
RESAMPLES = 1000
ELO_SCALE = 400 / math.log(10)
NOTE = (
    f"win % and BT: 95% bootstrap interval over the votes ({RESAMPLES} resamples, percentiles 2.5 and 97.5); "
    f"an arm with fewer than {MIN_VOTES} votes gets no rating; votes are taken as independent, so one "
    "dominant rater or repeated pairs make the interval too narrow"
)


@dataclass(frozen=True)
class ArmRating:
    votes: int  # votes the arm took part in (ties included)
    wins: int
    losses: int
    ties: int
    win_rate: float | None  # None: fewer than MIN_VOTES votes
    win_rate_ci95_low: float | None
    win_rate_ci95_high: float | None
    bt_rating: float | None
    bt_rating_ci95_low: float | None
    bt_rating_ci95_high: float | None

    @property
    def too_few_votes(self) -> bool:
        return self.votes < MIN_VOTES


def seed_of(experiment_id: str | None, criterion: str | None) -> int:
    return zlib.crc32(f"{experiment_id or ''}\x1f{criterion or ''}".encode())


SMOOTHING = 0.5  # pseudo-votes added to each outcome of a voted pair before resampling


def categories(
    left: Sequence[int], right: Sequence[int], outcome: Sequence[str], arms: int
) -> tuple[np.ndarray, np.ndarray]:
    """Votes between different arms as (category counts, wins contribution of each category):
    a category is (i, j, outcome) with i < j, all three outcomes of every voted pair (a count
    may be 0); its row of the contribution is a flattened K x K matrix of wins (a tie half to
    each side). Votes of an arm against itself say nothing about arms and are left out."""
    import numpy as np

    index: dict[tuple[int, int, str], int] = {}
    counts: list[int] = []
    for a, b, v in zip(left, right, outcome):
        if a == b:
            continue
        i, j = (a, b) if a < b else (b, a)
        said = v if v == "tie" else ("low" if (v == "left") == (a < b) else "high")  # which index won
        if (i, j, said) not in index:
            for each in ("low", "high", "tie"):
                index[(i, j, each)] = len(counts)
                counts.append(0)
        counts[index[(i, j, said)]] += 1
    contribution = np.zeros((len(counts), arms * arms))
    for (i, j, said), c in index.items():
        if said == "low":
            contribution[c, i * arms + j] = 1.0
        elif said == "high":
            contribution[c, j * arms + i] = 1.0
        else:
            contribution[c, i * arms + j] = contribution[c, j * arms + i] = 0.5
    return np.asarray(counts, dtype=float), contribution


def fit_strengths(wins: np.ndarray, prior: float = 1.0, tol: float = 1e-10, steps: int = 100) -> np.ndarray:
    """Log-strengths of (..., K, K) win matrices at once by Newton's method: maximises
    sum w_ij log p_ij + prior * (one tie against strength 1), p_ij = s_i / (s_i + s_j)."""
    import numpy as np

    wins = np.asarray(wins, dtype=float) * (1 - np.eye(wins.shape[-1]))  # the diagonal says nothing
    games = wins + np.swapaxes(wins, -1, -2)
    won = wins.sum(-1) + prior / 2
    theta = np.zeros(wins.shape[:-1])
    eye = np.eye(wins.shape[-1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(theta[..., None, :] - theta[..., :, None]))  # p[i, j] = s_i / (s_i + s_j)
        p0 = 1 / (1 + np.exp(-theta))  # against the virtual opponent
        grad = won - (games * p).sum(-1) - prior * p0
        curv = games * p * (1 - p)
        hessian = curv - eye * (curv.sum(-1) + prior * p0 * (1 - p0))[..., None]
        step = np.linalg.solve(hessian, grad[..., None])[..., 0]
        step = np.clip(step, -2.0, 2.0)  # damped far from the optimum; Newton's own steps near it
        theta = theta - step
        if np.abs(step).max(initial=0.0) < tol:
            break
    return theta


def rate(
    left: Sequence[int],
    right: Sequence[int],
    outcome: Sequence[str],
    arms: int,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> list[ArmRating]:
    """Each arm's counts, win rate and BT rating with 95% bootstrap intervals (None below MIN_VOTES).
    left[v], right[v]: the arm indices of vote v; outcome[v]: "left", "right" or "tie"."""
    import numpy as np

    counts, contribution = categories(left, right, outcome, arms)
    total = int(counts.sum())
    wins = (counts @ contribution).reshape(arms, arms) if total else np.zeros((arms, arms))
    point = fit_strengths(wins) * ELO_SCALE + 1000
    if total:
        rng = np.random.default_rng(seed)
        smoothed = counts + SMOOTHING
        samples = rng.multinomial(total, smoothed / smoothed.sum(), size=resamples).astype(float)
        boot_wins = (samples @ contribution).reshape(resamples, arms, arms)
        boot_bt = fit_strengths(boot_wins) * ELO_SCALE + 1000
        played = (boot_wins + np.swapaxes(boot_wins, -1, -2)).sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot_rate = np.where(played > 0, boot_wins.sum(-1) / played, np.nan)
    tally = _tally(left, right, outcome, arms)
    out = []
    for i in range(arms):
        w, lo, t = tally[i]
        n = w + lo + t
        if n < MIN_VOTES:
            out.append(ArmRating(n, w, lo, t, None, None, None, None, None, None))
            continue
        win_rate = (w + t / 2) / n
        rate_low, rate_high = _around(win_rate, np.nanpercentile(boot_rate[:, i], [2.5, 97.5]))
        bt_low, bt_high = _around(float(point[i]), np.percentile(boot_bt[:, i], [2.5, 97.5]))
        out.append(ArmRating(n, w, lo, t, win_rate, rate_low, rate_high, float(point[i]), bt_low, bt_high))
    return out


def _around(estimate: float, bounds: np.ndarray) -> tuple[float, float]:
    """The percentile bounds, widened to hold the estimate: with one vote per pair the smoothing
    can pull every resample of an arm that won every vote below its own estimate."""
    return min(float(bounds[0]), estimate), max(float(bounds[1]), estimate)


def _tally(left: Sequence[int], right: Sequence[int], outcome: Sequence[str], arms: int) -> list[list[int]]:
    """[wins, losses, ties] of each arm over votes between different arms."""
    tally = [[0, 0, 0] for _ in range(arms)]
    for a, b, v in zip(left, right, outcome):
        if a == b:
            continue
        if v == "tie":
            tally[a][2] += 1
            tally[b][2] += 1
        else:
            winner, loser = (a, b) if v == "left" else (b, a)
            tally[winner][0] += 1
            tally[loser][1] += 1
    return tally
