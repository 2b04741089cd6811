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
from playground.base.types import MAX_PROMPT_CHARS, RunRecord
from playground.core.playground import Playground
from playground.core.session import Session
from playground.core.typed import flag, run_request, text, text_list, whole
from playground.experiments import analysis
from playground.experiments.cells import parse_arms, total_max_usd
from playground.experiments.compare import (
    MAX_ARMS,
    MAX_VARIANTS,
    Comparison,
    compare,
    needs_confirmation,
    plan_comparison,
)
from playground.experiments.votes import VERDICTS, add_vote
from playground.present.history import RunFilter, filtered_runs
from playground.present.runs import record_json
from playground.store import merged
from playground.store.codec import record_from_row
from playground.store.merged import load_run

DEFAULT_API_ARMS = ("local::sequence", "local::baseline")  # the Compare tab's default arms
MAX_RUNS_LIMIT = 500
VOTE_CRITERIA = ("overall",)  # the criteria the vote log takes today (one more column extends it)


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


async def api_run(playground: Playground, session: Session, prompt: object, beats: object, frames: object,
                  provider: object, model: object, mode: object, seed: object, size: object
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


async def api_compare(playground: Playground, session: Session, prompt: object, beats: object, frames: object,
                      arms: object, variants: object, seed: object, size: object, confirm: object
                      ) -> tuple[dict[str, Any], list[Path]]:
    """`/compare`: every arm at once, asked first (confirm=True) above PLAYGROUND_CONFIRM_USD."""
    from playground.experiments.compare import new_experiment_id

    request = run_request(prompt, beats, frames, "local", "", "sequence", seed, size)  # checks the shared fields
    arm_specs = text_list(arms, "arms", MAX_ARMS, MAX_PROMPT_CHARS) if arms is not None else list(DEFAULT_API_ARMS)
    story = Story(character=request.prompt, beats=tuple(b for b in request.beats if b.strip()))
    chosen = parse_arms(arm_specs)
    variant_map, ok = _variants(variants), flag(confirm, "confirm")
    experiment_id = new_experiment_id()
    plans = plan_comparison(playground, story, chosen, variants=variant_map, frames=request.frames,
                            seed=request.seed, size=request.size, session=session, experiment_id=experiment_id)
    most = total_max_usd(plans)
    if needs_confirmation(playground, most) and not ok:
        raise InputError(f"the comparison could cost up to ${most:.4f}, above "
                         f"${playground.settings.confirm_usd:.2f} (PLAYGROUND_CONFIRM_USD): call again with "
                         "confirm=True to run it")
    result = await compare(playground, story, chosen, variants=variant_map, frames=request.frames,
                           seed=request.seed, size=request.size, session=session, experiment_id=experiment_id)
    files = [path for record in result.records for path in frame_files(playground, record)]
    shown = compare_json(result)
    shown["runs"] = [public_json(playground, run) for run in shown["runs"]]
    return shown, files


def api_vote(playground: Playground, experiment_id: object, left_run_id: object, right_run_id: object,
             verdict: object, criterion: object, rater: object, source: str = "api") -> dict[str, Any]:
    """`/vote`: a blind pairwise vote between two runs of one experiment, both with frames."""
    experiment = text(experiment_id, "experiment_id").strip()
    sides = {}
    for side, value in (("left", left_run_id), ("right", right_run_id)):
        run_id = text(value, f"{side}_run_id").strip()
        row = merged.get(playground, run_id) if run_id else None
        if row is None:
            raise InputError(f"no run {run_id!r} in the log ({side}_run_id)")
        if experiment and str(row.get("experiment_id") or "") != experiment:
            raise InputError(f"run {run_id!r} is not in experiment {experiment!r} ({side}_run_id)")
        if not record_from_row(row).frames_returned:
            raise InputError(f"run {run_id!r} returned no frames: there is nothing to vote on ({side}_run_id)")
        sides[side] = run_id
    choice = text(verdict, "verdict").strip().lower()
    if choice not in VERDICTS:
        raise InputError(f"verdict is one of {', '.join(VERDICTS)}, got {verdict!r}")
    aspect = text(criterion, "criterion", default="overall").strip().lower() or "overall"
    if aspect not in VOTE_CRITERIA:
        raise InputError(f"criterion is one of {', '.join(VOTE_CRITERIA)}, got {criterion!r}")
    who = text(rater, "rater", 64).strip() or "anonymous"
    logged = add_vote(playground, experiment, sides["left"], sides["right"], choice, who)
    return {"experiment_id": experiment, "left_run_id": sides["left"], "right_run_id": sides["right"],
            "verdict": choice, "criterion": aspect, "rater": logged.rater, "source": source}


def runs_item(record: RunRecord) -> dict[str, Any]:
    return {**record_json(record), "created_at": record.created_at, "prompt": record.prompt,
            "beats": record.beats or []}


def api_runs(playground: Playground, run_id: object, provider: object, model: object, mode: object, status: object,
             experiment_id: object, include_refused: object, limit: object, offset: object
             ) -> tuple[dict[str, Any], list[Path]]:
    """`/runs`: the log, filtered and paged; the frames only when `run_id` names one run."""
    filters = {name: text(value, name).strip() for name, value in (
        ("run_id", run_id), ("provider", provider), ("model", model), ("mode", mode), ("status", status),
        ("experiment_id", experiment_id))}
    first = whole(offset, "offset", 0, 10**9) or 0
    count = whole(limit, "limit", 1, MAX_RUNS_LIMIT) or 50
    matching, _ = filtered_runs(playground, RunFilter(**filters, include_refused=flag(include_refused,
                                                                                      "include_refused")))
    rows = matching.iloc[first:first + count].to_dict("records")  # only the page becomes records: a long log
    page = [record_from_row({str(k): v for k, v in row.items()}) for row in rows]  # is not parsed per call
    files = frame_files(playground, page[0]) if filters["run_id"] and page else []
    return {"total": len(matching), "offset": first, "runs": [public_json(playground, runs_item(r)) for r in page]}, files


def api_report(playground: Playground, experiment_id: object) -> dict[str, Any]:
    """`/report`: `report --json` (every run when experiment_id is empty)."""
    wanted = text(experiment_id, "experiment_id").strip()
    if wanted and wanted not in analysis.experiments(playground):
        raise InputError(f"no experiment {wanted!r} in the log")
    return analysis.report_json(analysis.analyse(playground, wanted or None), wanted or None)

