"""The typed API: `/run`, `/compare`, `/vote`, `/runs` and `/report`, with named parameters, each
answering the JSON the CLI prints with `--json` (present/api.py) and, where there are frames, the
original frames as files.

`gr.api` lists the parameters' types but checks none: every value is checked in core.typed and the
run's own plan. The spending endpoints share the Generate tab's pool of runs ("runs", bounded in
app.py), and each API client (Gradio's session hash) gets a session of its own, so the session
cap holds per client; on a Space its spend is its visitor's (ui.shared.visitor_session), and the
day cap bounds what many clients can spend together.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
from gradio.data_classes import FileData

from playground.base.errors import PlaygroundError
from playground.core.playground import Playground
from playground.core.session import Session
from playground.present import api
from playground.ui.shared import visitor_session

MAX_API_SESSIONS = 1000  # the newest clients' sessions kept in memory
T = TypeVar("T")


class SessionRegistry:
    """A session per API client (its session hash), the oldest forgotten past `most`."""

    def __init__(self, most: int = MAX_API_SESSIONS) -> None:
        self.most = most
        self.sessions: OrderedDict[str, Session] = OrderedDict()

    def get(self, key: str) -> Session:
        session = self.sessions.pop(key, None) or Session()
        self.sessions[key] = session
        while len(self.sessions) > self.most:
            self.sessions.popitem(last=False)
        return session


def files(paths: list[Path], run_prefix: str = "") -> list[FileData]:
    return [FileData(path=str(p), orig_name=f"{run_prefix}{p.name}") for p in paths]


def register(playground: Playground) -> None:
    """Add the five endpoints to the Blocks being built."""
    registry = SessionRegistry()

    def session_of(request: gr.Request | None) -> Session:
        key = (request.session_hash if request else None) or "anonymous"
        return visitor_session(playground, registry.get(key), request)

    async def checked(work: Callable[[], Awaitable[T]]) -> T:
        try:
            return await work()
        except PlaygroundError as exc:  # the CLI's words after "error:"
            raise gr.Error(str(exc), print_exception=False) from None

    async def run(
        prompt: str,
        beats: list[str] | None = None,
        frames: int | None = None,
        provider: str = "local",
        model: str = "",
        mode: str = "sequence",
        seed: int | None = None,
        size: str = "",
        request: gr.Request = None,  # type: ignore[assignment]
    ) -> tuple[dict[str, Any], list[FileData]]:
        """One run, logged like any other: the JSON of `run --json`, and its frames in frame order.

        Args:
            prompt: the character and style, shared by every frame
            beats: one line per frame, in order; more beats than frames sends the first ones
            frames: how many frames (1 to 15); empty: one per beat
            provider: a provider name, as `python -m playground providers` lists them
            model: a model id of that provider; empty: its default
            mode: "sequence" (one call for every frame), "baseline" (one call per frame), "chain" (frame 1,
                then frames 2..N with frame 1 as their reference) or "chain-previous" (each with the frame before)
            seed: sent to models that take one (the JSON's seed_sent says whether it was)
            size: WxH or a size the model lists; empty: the model's default
        """
        record, paths = await checked(
            lambda: api.api_run(
                playground, session_of(request), prompt, beats, frames, provider, model, mode, seed, size
            )
        )
        return record, files(paths, f"{record['run_id']}_")

    async def compare(
        prompt: str,
        beats: list[str] | None = None,
        frames: int | None = None,
        arms: list[str] | None = None,
        variants: dict[str, str] | None = None,
        seed: int | None = None,
        size: str = "",
        confirm: bool = False,
        request: gr.Request = None,  # type: ignore[assignment]
    ) -> tuple[dict[str, Any], list[FileData]]:
        """Every arm at once on one story: the JSON of `compare --json`, and every run's frames, run by run.

        Args:
            prompt: the character and style, shared by every frame
            beats: one line per frame; more beats than frames sends the first ones
            frames: frames per run (1 to 15); empty: one per beat
            arms: "provider:model:mode" each, at most 6; empty: local::sequence and local::baseline
            variants: prompt variants of an A/B test, {"A": "...", "B": "..."}
            seed: the same for every arm that takes one
            size: the same for every arm; empty: each model's default
            confirm: true to run a comparison above PLAYGROUND_CONFIRM_USD (as `compare --yes`)
        """

        async def work() -> tuple[dict[str, Any], list[Path]]:
            return await api.api_compare(
                playground, session_of(request), prompt, beats, frames, arms, variants, seed, size, confirm
            )

        result, paths = await checked(work)
        return result, files(paths)

    async def vote(
        experiment_id: str,
        left_run_id: str,
        right_run_id: str,
        verdict: str,
        criterion: str = "overall",
        rater: str = "",
    ) -> dict[str, Any]:
        """A blind pairwise vote between two runs of one experiment, logged to ratings.csv.

        Args:
            experiment_id: the experiment both runs belong to
            left_run_id: the run shown on the left
            right_run_id: the run shown on the right
            verdict: "left", "right", "tie" or "skip" (shown, no preference: counted by no figure)
            criterion: "overall", "character", "style" or "story"
            rater: your name or initials (optional)
        """

        async def work() -> dict[str, Any]:  # file work in a thread: the event loop serves every visitor
            return await asyncio.to_thread(
                api.api_vote, playground, experiment_id, left_run_id, right_run_id, verdict, criterion, rater
            )

        return await checked(work)

    async def runs(
        run_id: str = "",
        provider: str = "",
        model: str = "",
        mode: str = "",
        status: str = "",
        experiment_id: str = "",
        include_refused: bool = False,
        limit: int = 50,
        offset: int = 0,
        tag: str = "",
    ) -> tuple[dict[str, Any], list[FileData]]:
        """The run log, newest first, filtered and paged; the frames when run_id names one run.

        Args:
            run_id: one run
            provider: only this provider's runs
            model: only this model's runs
            mode: "sequence", "baseline" or "chain"
            status: "ok", "partial", "error" or "cancelled"
            experiment_id: only the runs of this experiment
            include_refused: also requests refused before anything was sent
            limit: at most this many runs (1 to 500)
            offset: skip this many first
            tag: only the runs that carry this tag now (annotations.csv)
        """

        async def work() -> tuple[dict[str, Any], list[Path]]:  # reading the log: in a thread, as above
            return await asyncio.to_thread(
                api.api_runs,
                playground,
                run_id,
                provider,
                model,
                mode,
                status,
                experiment_id,
                include_refused,
                limit,
                offset,
                tag,
            )

        result, paths = await checked(work)
        return result, files(paths)

    async def report(experiment_id: str = "", criterion: str = "overall") -> dict[str, Any]:
        """The Analysis figures of an experiment, or of every run: the JSON of `report --json`, with
        win rates and Bradley-Terry ratings and their bootstrap intervals; an experiment's grid too.

        Args:
            experiment_id: an experiment id; empty: every run
            criterion: the votes counted: "overall", "character", "style" or "story"
        """

        async def work() -> dict[str, Any]:  # the analysis: in a thread, as above
            return await asyncio.to_thread(api.api_report, playground, experiment_id, criterion)

        return await checked(work)

    spending = dict(concurrency_limit="default", concurrency_id="runs")
    gr.api(run, api_name="run", **spending)  # type: ignore[arg-type]
    gr.api(compare, api_name="compare", **spending)  # type: ignore[arg-type]
    for fn in (vote, runs, report):
        gr.api(fn, api_name=fn.__name__, concurrency_limit=None)
