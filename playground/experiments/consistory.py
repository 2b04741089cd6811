"""ConsiStory+ benchmark: import the prompt sets and run them as an experiment.

The ConsiStory+ file (from the public 1Prompt1Story repository; not shipped with the
playground, see docs/consistory.md) is YAML shaped

    category:
      - style: "A moody charcoal sketch of"                 # (an invented example)
        subject: "A lighthouse keeper with a grey beard"
        concept_token: keeper
        settings: ["climbing the spiral stairs", ...]      # one per frame

Each prompt set becomes one `prompts.Story`: the subject is the character, the style
phrase without its trailing "of" is the style, and every setting is one beat, so
`sequence` and `baseline` send exactly what the rest of the playground sends for a story.

`python -m playground bench-story FILE --arm PROVIDER:MODEL:MODE ...` runs every selected
story under every arm as one experiment (ids deterministic, so a rerun resumes) and
writes the table of playground.experiments.consistory_table (the command: cli/bench_story.py).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from playground.base.errors import InputError, SpendCapError
from playground.base.prompts import Story
from playground.base.types import MAX_FRAMES
from playground.core.playground import Playground
from playground.core.session import Session
from playground.experiments.cells import (
    Arm,
    Cell,
    check_budget,
    parse_arms,
    pending_cells,
    plan_cells,
    raise_problems,
    total_max_usd,
    total_usd,
)
from playground.store import merged

if TYPE_CHECKING:
    import pandas as pd

    from playground.store.merged import Snapshot

FIELDS = ("style", "subject", "concept_token", "settings")


@dataclass(frozen=True)
class BenchStory:
    """One ConsiStory+ prompt set as a playground story, with where it came from."""

    story_id: str  # "<category>-<index in category, 3 digits>-<concept token>", stable across runs
    category: str
    index: int  # position within its category in the file
    concept_token: str
    story: Story

    @property
    def frames(self) -> int:
        return len(self.story.beats)


def compose_story(style: str, subject: str, settings: Sequence[str]) -> Story:
    """ConsiStory+ fields -> Story. "A moody charcoal sketch of" + "A lighthouse keeper with
    a grey beard" -> character "A lighthouse keeper with a grey beard", style "A moody
    charcoal sketch": the style phrase is written to lead into the subject,
    so its dangling "of" is dropped when it stands as a sentence of its own."""
    style = " ".join(style.split())
    if style.lower().endswith(" of"):
        style = style[:-3].rstrip()
    return Story(character=" ".join(subject.split()), style=style, beats=tuple(" ".join(s.split()) for s in settings))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")[:40] or "story"


def _entry_story(category: str, index: int, entry: object) -> BenchStory:
    where = f"{category}[{index}]"
    if not isinstance(entry, dict):
        raise InputError(f"ConsiStory+ file: {where} is not a mapping with {', '.join(FIELDS)}")
    missing = [f for f in ("subject", "settings") if not entry.get(f)]  # an empty style is allowed (3 in the file)
    if missing:
        raise InputError(f"ConsiStory+ file: {where} lacks {', '.join(missing)}")
    if not isinstance(entry.get("style") or "", str):
        raise InputError(f"ConsiStory+ file: {where}.style must be text")
    settings = entry["settings"]
    if not isinstance(settings, list) or not all(isinstance(s, str) and s.strip() for s in settings):
        raise InputError(f"ConsiStory+ file: {where}.settings must be a list of non-empty texts")
    if not 1 <= len(settings) <= MAX_FRAMES:
        raise InputError(f"ConsiStory+ file: {where} has {len(settings)} settings; a story takes 1 to {MAX_FRAMES}")
    token = str(entry.get("concept_token") or "")
    story = compose_story(entry.get("style") or "", str(entry["subject"]), settings)
    return BenchStory(f"{category}-{index:03d}-{_slug(token or story.character)}", category, index, token, story)


def parse_consistory(data: object) -> list[BenchStory]:
    """Stories from the parsed YAML, in file order (categories in file order, then entries)."""
    if not isinstance(data, dict) or not data:
        raise InputError("ConsiStory+ file: expected a mapping of category -> list of prompt sets")
    stories: list[BenchStory] = []
    for category, entries in data.items():
        if not isinstance(entries, list):
            raise InputError(f"ConsiStory+ file: category {category!r} is not a list of prompt sets")
        stories.extend(_entry_story(str(category), i, entry) for i, entry in enumerate(entries))
    if not stories:
        raise InputError("ConsiStory+ file: no prompt sets found")
    return stories


WHERE_TO_GET = (
    "The playground does not ship it: download resource/consistory+.yaml from the public 1Prompt1Story "
    "repository (https://github.com/byliutao/1Prompt1Story) and pass its path; docs/consistory.md says how"
)


def load_consistory(path: Path) -> list[BenchStory]:
    """Read and check a ConsiStory+ YAML file; every problem is an InputError naming the place."""
    import yaml  # PyYAML: a dependency of gradio, imported only here

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the ConsiStory+ file {path}: {exc.strerror or exc}. {WHERE_TO_GET}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse_consistory(data)


def file_digest(path: Path) -> str:
    """Content hash of the benchmark file: the experiment id follows the data, not its path."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def select_stories(
    stories: Sequence[BenchStory],
    categories: Sequence[str] | None = None,
    sample: int | None = None,
    sample_seed: int = 0,
    limit: int | None = None,
) -> list[BenchStory]:
    """Subset in this order: categories, then a seeded random sample (kept in file order),
    then the first `limit`. The same arguments always give the same stories."""
    chosen = list(stories)
    if categories:
        known = list(dict.fromkeys(s.category for s in stories))
        unknown = [c for c in categories if c not in known]
        if unknown:
            raise InputError(
                f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                f"the file has: {', '.join(known)}"
            )
        chosen = [s for s in chosen if s.category in set(categories)]
    if sample is not None:
        if sample < 1:
            raise InputError(f"--sample must be at least 1, got {sample}")
        picked = set(random.Random(sample_seed).sample(range(len(chosen)), min(sample, len(chosen))))
        chosen = [s for i, s in enumerate(chosen) if i in picked]
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit must be at least 1, got {limit}")
        chosen = chosen[:limit]
    return chosen


def experiment_id_for(digest: str, arms: Sequence[str], story_ids: Sequence[str]) -> str:
    """Deterministic id from the file's content, the arms (in the order given) and the
    selected stories: the same command reruns into the same experiment and resumes.
    Repeats are not part of it, so raising --repeats extends an experiment."""
    key = json.dumps({"file": digest, "arms": list(arms), "stories": list(story_ids)}, sort_keys=True)
    return "consistory-" + hashlib.sha256(key.encode()).hexdigest()[:12]


# ---------------------------------------------------------------- the benchmark run


@dataclass
class BenchPlan:
    """What one bench-story invocation will do, known before anything is sent."""

    experiment_id: str
    stories: list[BenchStory]
    arms: list[Arm]
    cells: list[Cell]  # every cell of the experiment
    pending: list[Cell]  # those not yet logged ok (a rerun resumes with these)
    estimate_usd: float  # of the pending cells, typical
    max_usd: float = 0.0  # of the pending cells, the worst case: what --max-usd checks

    @property
    def categories(self) -> dict[str, str]:
        return {s.story_id: s.category for s in self.stories}


def bench_cells(
    stories: Sequence[BenchStory], arms: Sequence[Arm], repeats: int = 1, seed: int | None = None, size: str = ""
) -> list[Cell]:
    """Every story x arm x repeat; with a seed, repeat r uses seed + r (the same for every arm)."""
    if repeats < 1:
        raise InputError(f"--repeats must be at least 1, got {repeats}")
    return [
        Cell(story=s.story, arm=arm, repeat=r, seed=None if seed is None else seed + r, story_id=s.story_id, size=size)
        for s in stories
        for arm in arms
        for r in range(repeats)
    ]


def plan_bench(
    playground: Playground,
    path: Path,
    arm_texts: Sequence[str],
    *,
    categories: Sequence[str] = (),
    limit: int | None = None,
    sample: int | None = None,
    sample_seed: int = 0,
    repeats: int = 1,
    seed: int | None = None,
    size: str = "",
    session: Session | None = None,
) -> BenchPlan:
    """Load, subset, build the cells and estimate what is left to run; InputError on any problem."""
    arms = parse_arms(arm_texts)
    stories = select_stories(load_consistory(path), categories, sample=sample, sample_seed=sample_seed, limit=limit)
    experiment_id = experiment_id_for(file_digest(path), [a.label for a in arms], [s.story_id for s in stories])
    cells = bench_cells(stories, arms, repeats, seed, size)
    pending = pending_cells(playground, cells, experiment_id)
    plans = plan_cells(playground, pending, experiment_id, session)
    raise_problems(plans)
    return BenchPlan(experiment_id, stories, arms, cells, pending, total_usd(plans), total_max_usd(plans))


def check_bench_budget(
    playground: Playground, plan: BenchPlan, max_usd: float | None, session: Session | None = None
) -> None:
    """Refuse before anything is sent: --max-usd, then the settings' caps (per run/session/day)."""
    if max_usd is not None and plan.max_usd > max_usd + 1e-9:
        raise SpendCapError(
            f"at most ${plan.max_usd:.4f} (typical ${plan.estimate_usd:.4f}) for {len(plan.pending)} "
            f"runs passes --max-usd "
            f"${max_usd:.2f}: nothing was sent (narrow the subset or raise the cap)"
        )
    check_budget(playground, plan_cells(playground, plan.pending, plan.experiment_id, session), session)


def experiment_runs(
    playground: Playground, plan: BenchPlan, snapshots: Sequence[Snapshot] | None = None
) -> pd.DataFrame:
    """The rows of this plan's cells (of any earlier invocation too: that is the resume), with
    other writers' runs of the same experiment when a synced dataset was pulled (merged.py)."""
    import pandas as pd

    from playground.experiments.analysis import (
        COLUMNS,  # what the summary uses (analysis.runs_frame), plus the cell keys
    )

    runs = merged.runs(playground, list(dict.fromkeys([*COLUMNS, "created_at", "story_id", "repeat"])), snapshots)
    runs = runs[runs["experiment_id"] == plan.experiment_id]
    wanted = {c.key for c in plan.cells}
    keys = zip(
        runs["arm"].astype(str),
        runs["variant"].astype(str),
        pd.to_numeric(runs["repeat"], errors="coerce").fillna(0).astype(int),
        runs["story_id"].astype(str),
    )
    return runs[[key in wanted for key in keys]]


# ---------------------------------------------------------------- the command
