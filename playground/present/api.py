"""The typed API's answers (`/run`, `/compare`, `/vote`, `/runs`, `/report`): the same JSON the
CLI prints with `--json`, plus the original frames as files. Every value from the caller is
checked in core.typed (gr.api checks none); every list is bounded.

Each function returns (JSON, file paths); ui/api.py turns the paths into Gradio files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from playground.base.errors import InputError
from playground.base.prompts import Story
from playground.base.ratings import CRITERIA
from playground.base.types import MAX_PROMPT_CHARS, RunRecord
from playground.core.playground import Playground
from playground.core.session import Session
from playground.core.typed import flag, run_request, text, text_list, whole
from playground.experiments import analysis
from playground.experiments.annotations import replayed
from playground.experiments.cells import parse_arms, total_max_usd
from playground.experiments.compare import (
    MAX_ARMS,
    MAX_VARIANTS,
    Comparison,
    compare,
    needs_confirmation,
    plan_comparison,
)
from playground.experiments.grid import build_grid
from playground.experiments.votes import vote
from playground.present.grid import grid_json
from playground.present.history import RunFilter, filtered_runs
from playground.present.runs import record_json
from playground.store.codec import record_from_row
from playground.store.merged import load_run

DEFAULT_API_ARMS = ("local::sequence", "local::baseline")  # the Compare tab's default arms
MAX_RUNS_LIMIT = 500


def public_json(playground: Playground, data: dict[str, Any]) -> dict[str, Any]:
    """A run's JSON as a Space answers it: `image_dir` as History shows it (`runs/<run_id>`), not
    the folder's path on the server (off a Space, the researcher's own machine, the full path)."""
    folder = str(data.get("image_dir") or "")
    if playground.settings.on_space and folder:
        data["image_dir"] = f"{Path(folder).parent.name}/{Path(folder).name}"
    return data


def frame_files(playground: Playground, record: RunRecord) -> list[Path]:
    """The run's original frames on disk, in frame order (none for a run refused before sending)."""
    return [f.path for f in load_run(playground, record.run_id).frames] if record.image_dir else []


async def api_run(
    playground: Playground,
    session: Session,
    prompt: object,
    beats: object,
    frames: object,
    provider: object,
    model: object,
    mode: object,
    seed: object,
    size: object,
) -> tuple[dict[str, Any], list[Path]]:
    """`/run`: one run, refused (and logged as an error row) exactly as from the CLI."""
    request = run_request(prompt, beats, frames, provider, model, mode, seed, size)
    result = await playground.run(request, session)
    return public_json(playground, record_json(result.record)), result.paths


def compare_json(result: Comparison) -> dict[str, Any]:
    """`compare --json` and `/compare`: the experiment, its wall time and every arm's run."""
    runs = [{**record_json(o.record), "arm": o.cell.arm.label} for o in result.outcomes if o.record]
    return {"experiment_id": result.experiment_id, "wall_s": result.wall_s, "runs": runs}


def _variants(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or len(value) > MAX_VARIANTS:
        raise InputError(f"variants maps a label to a prompt, at most {MAX_VARIANTS} of them")
    return {text(k, "a variant label", 20): text(v, "a variant prompt", MAX_PROMPT_CHARS) for k, v in value.items()}


async def api_compare(
    playground: Playground,
    session: Session,
    prompt: object,
    beats: object,
    frames: object,
    arms: object,
    variants: object,
    seed: object,
    size: object,
    confirm: object,
) -> tuple[dict[str, Any], list[Path]]:
    """`/compare`: every arm at once, asked first (confirm=True) above PLAYGROUND_CONFIRM_USD."""
    from playground.experiments.compare import new_experiment_id

    request = run_request(prompt, beats, frames, "local", "", "sequence", seed, size)  # checks the shared fields
    arm_specs = text_list(arms, "arms", MAX_ARMS, MAX_PROMPT_CHARS) if arms is not None else list(DEFAULT_API_ARMS)
    story = Story(character=request.prompt, beats=tuple(b for b in request.beats if b.strip()))
    chosen = parse_arms(arm_specs)
    variant_map, ok = _variants(variants), flag(confirm, "confirm")
    experiment_id = new_experiment_id()
    plans = plan_comparison(
        playground,
        story,
        chosen,
        variants=variant_map,
        frames=request.frames,
        seed=request.seed,
        size=request.size,
        session=session,
        experiment_id=experiment_id,
    )
    most = total_max_usd(plans)
    if needs_confirmation(playground, most) and not ok:
        raise InputError(
            f"the comparison could cost up to ${most:.4f}, above "
            f"${playground.settings.confirm_usd:.2f} (PLAYGROUND_CONFIRM_USD): call again with "
            "confirm=True to run it"
        )
    result = await compare(
        playground,
        story,
        chosen,
        variants=variant_map,
        frames=request.frames,
        seed=request.seed,
        size=request.size,
        session=session,
        experiment_id=experiment_id,
    )
    files = [path for record in result.records for path in frame_files(playground, record)]
    shown = compare_json(result)
    shown["runs"] = [public_json(playground, run) for run in shown["runs"]]
    return shown, files


def api_vote(
    playground: Playground,
    experiment_id: object,
    left_run_id: object,
    right_run_id: object,
    verdict: object,
    criterion: object,
    rater: object,
    source: str = "api",
) -> dict[str, Any]:
    """`/vote` and `vote --json`: a blind pairwise vote between two runs (of one experiment when
    given), both with frames; the values' types and lengths are checked here, the vote itself by
    experiments.votes.vote (runs in the log, verdict, criterion, rater)."""
    logged = vote(
        playground,
        experiment_id=text(experiment_id, "experiment_id").strip(),
        left_run_id=text(left_run_id, "left_run_id").strip(),
        right_run_id=text(right_run_id, "right_run_id").strip(),
        verdict=text(verdict, "verdict").strip().lower(),
        criterion=text(criterion, "criterion", default="overall").strip().lower() or "overall",
        rater=text(rater, "rater", 64).strip(),
        source=source,
    )
    return logged.json()


def runs_item(record: RunRecord, tags: list[str]) -> dict[str, Any]:
    return {
        **record_json(record),
        "created_at": record.created_at,
        "prompt": record.prompt,
        "beats": record.beats or [],
        "tags": tags,
    }


def api_runs(
    playground: Playground,
    run_id: object,
    provider: object,
    model: object,
    mode: object,
    status: object,
    experiment_id: object,
    include_refused: object,
    limit: object,
    offset: object,
    tag: object = "",
) -> tuple[dict[str, Any], list[Path]]:
    """`/runs`: the log, filtered and paged; the frames only when `run_id` names one run."""
    filters = {
        name: text(value, name).strip()
        for name, value in (
            ("run_id", run_id),
            ("provider", provider),
            ("model", model),
            ("mode", mode),
            ("status", status),
            ("experiment_id", experiment_id),
            ("tag", tag),
        )
    }
    first = whole(offset, "offset", 0, 10**9) or 0
    count = whole(limit, "limit", 1, MAX_RUNS_LIMIT) or 50
    matching, _ = filtered_runs(
        playground, RunFilter(**filters, include_refused=flag(include_refused, "include_refused"))
    )
    rows = matching.iloc[first : first + count].to_dict("records")  # only the page becomes records: a long log
    page = [record_from_row({str(k): v for k, v in row.items()}) for row in rows]  # is not parsed per call
    files = frame_files(playground, page[0]) if filters["run_id"] and page else []
    notes = replayed(playground, {r.run_id for r in page})
    items = [public_json(playground, runs_item(r, notes[r.run_id].tags if r.run_id in notes else [])) for r in page]
    return {"total": len(matching), "offset": first, "runs": items}, files


def api_report(playground: Playground, experiment_id: object, criterion: object = "overall") -> dict[str, Any]:
    """`/report`: `report --json` (every run when experiment_id is empty) for one vote criterion;
    an experiment's also carries its grid's first page (`report --grid --json`, without frame paths)."""
    wanted = text(experiment_id, "experiment_id").strip()
    aspect = text(criterion, "criterion", default="overall").strip().lower() or "overall"
    if aspect not in CRITERIA:
        raise InputError(f"criterion is one of {', '.join(CRITERIA)}, got {aspect!r}")
    if wanted and wanted not in analysis.experiments(playground):
        raise InputError(f"no experiment {wanted!r} in the log")
    out = analysis.report_json(analysis.analyse(playground, wanted or None, criterion=aspect), wanted or None)
    if wanted:
        out["grid"] = grid_json(build_grid(playground, wanted, with_frames=False))
    return out
