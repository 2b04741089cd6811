"""Part 4: the run log at 100k and 1M rows.

A synthetic runs.csv is written in the real format (rows made by RunLog.append, then
repeated with fresh run ids and times), then the operations the app and CLI do are timed:
appending one row, History (present.runs.history_table, i.e. RunLog.latest(100)), reopening a run
(RunLog.get), the daily spend cap (RunLog.spent_since), resuming an experiment
(experiments.cells.logged_ok) and the Analysis summary
(playground.experiments.analysis.analyse, else a pandas groupby per arm), cold (a fresh process's
first read) and warm (the app's second read, after one more run).
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import Row, row

TEMPLATES = 997  # distinct rows; the rest repeat them with new ids and times
SPACING_S = 30  # one run every 30 s, ending now: 1M rows span about a year


def _templates(work: Path) -> tuple[str, list[str]]:
    """The header and TEMPLATES real rows (written by RunLog.append) with RID/CAT placeholders."""
    from playground.base.types import RunRecord
    from playground.store.runlog import RunLog

    rng = random.Random(7)
    log = RunLog(work / "templates")
    for k in range(TEMPLATES):
        beats = [
            f"the fox {rng.choice(['runs', 'sleeps', 'reads', 'jumps'])} in the {rng.choice(['forest', 'city', 'rain'])}"
            for _ in range(4)
        ]
        prompt = "A red fox in a blue scarf, watercolour, " + " ".join(
            rng.choice(["soft light", "wide shot", "close-up", "autumn", "snow"]) for _ in range(24)
        )
        arm = rng.choice(
            [
                "byteplus:seedream-4-5-251128:sequence",
                "byteplus:seedream-4-5-251128:baseline",
                "evolink:doubao-seedream-4.5:sequence",
                "local:local-procedural:sequence",
            ]
        )
        provider, model, mode = arm.split(":")
        log.append(
            RunRecord(
                run_id="RID",
                experiment_id=f"cmp-{k % 50:03d}",
                created_at="CAT",
                provider=provider,
                model=model,
                mode=mode,
                prompt=prompt,
                beats=list(beats),
                frames_requested=4,
                frames_returned=4 - (k % 13 == 0),
                size="2048x2048",
                latency_s=round(rng.uniform(5, 40), 3),
                first_frame_s=round(rng.uniform(2, 10), 3),
                api_calls=1 + 3 * (mode == "baseline"),
                images_billed=4,
                price_per_image_usd=0.04,
                cost_usd=0.16,
                status="ok" if k % 13 else "partial",
                image_dir="data/runs/RID",
                cost_source="reported",
                price_source="price table",
                request_ids=[f"req-{k:08x}"],
                arm=arm,
                composed_prompts=[prompt + " / " + " / ".join(beats)],
                palette_consistency=round(rng.random(), 4),
                structure_consistency=round(rng.random(), 4),
                subject_consistency=round(rng.random(), 4),
            )
        )
    lines = log.runs.path.read_text(encoding="utf-8").splitlines(keepends=True)
    return lines[0], lines[1:]


def write_log(path: Path, rows: int, work: Path) -> None:
    """A runs.csv of `rows` rows ending now, in the real format."""
    header, templates = _templates(work)
    start = datetime.now(UTC) - timedelta(seconds=SPACING_S * rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(header)
        batch: list[str] = []
        for i in range(rows):
            when = start + timedelta(seconds=SPACING_S * i)
            run_id = when.strftime("%Y%m%d-%H%M%S-") + f"{i:06x}"
            batch.append(
                templates[i % TEMPLATES].replace("RID", run_id).replace("CAT", when.strftime("%Y-%m-%dT%H:%M:%SZ"))
            )
            if len(batch) == 20000:
                f.write("".join(batch))
                batch = []
        f.write("".join(batch))


def _ms(seconds: float) -> float:
    return seconds * 1000


def _clock(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _append_ms(*data_dirs: Path, n: int = 60) -> list[float]:
    """Median time of one RunLog.append per log, in ms. The logs take turns, so a burst of
    other load on a shared machine falls on both sides of a comparison alike."""
    from playground.base.types import RunRecord
    from playground.store.runlog import RunLog

    logs = [RunLog(d) for d in data_dirs]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    times: list[list[float]] = [[] for _ in logs]
    for i in range(n):
        for log, spent in zip(logs, times):
            spent.append(
                _clock(
                    lambda log=log, i=i: log.append(
                        RunRecord(run_id=f"bench-{i}", created_at=now, status="ok", cost_usd=0.1)
                    )
                )
            )
    return [_ms(statistics.median(spent)) for spent in times]


def _analysis(playground: object) -> str:
    """The Analysis tab's summary (playground.experiments.analysis.analyse if present, else a groupby)."""
    try:
        from playground.experiments import analysis
    except ImportError:
        frame = playground.log.read()  # type: ignore[attr-defined]
        frame.groupby("arm")[["cost_usd", "latency_s", "subject_consistency"]].mean()
        return "pandas groupby per arm (no playground.experiments.analysis)"
    analysis.analyse(playground)  # type: ignore[arg-type]
    return "playground.experiments.analysis.analyse"


def measure(rows: int, work: Path) -> list[Row]:
    from playground.base.config import Settings
    from playground.core import Playground
    from playground.experiments.cells import logged_ok
    from playground.present.runs import history_table

    data = work / f"log-{rows}"
    label = f"{rows // 1000}k rows" if rows < 1_000_000 else f"{rows / 1_000_000:g}M rows"
    written = _clock(lambda: write_log(data / "runs.csv", rows, work))
    size_mb = (data / "runs.csv").stat().st_size / 1e6

    def fresh() -> Playground:  # a new process's view: no in-memory cache
        return Playground(Settings.from_env(env={}, data_dir=data))

    index_s = _clock(lambda: fresh().log.latest(1))  # first use builds runs.csv.idx
    empty_ms, append_ms = _append_ms(work / f"empty-{rows}", data)
    history_s = _clock(lambda: history_table(fresh()))
    recent = fresh().log.latest(1).iloc[0]["run_id"]
    oldest = f"{(datetime.now(UTC) - timedelta(seconds=SPACING_S * rows)).strftime('%Y%m%d-%H%M%S-')}{0:06x}"
    get_s = max(_clock(lambda: fresh().log.get(recent)), _clock(lambda: fresh().log.get(oldest)))
    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    spend_s = _clock(lambda: fresh().log.spent_since(today))
    whole_s = _clock(lambda: fresh().log.read())
    resume_s = _clock(lambda: logged_ok(fresh(), "cmp-007"))  # a resumed experiment skips the cells logged ok
    app = fresh()
    started = time.perf_counter()
    how = _analysis(app)
    cold_s = time.perf_counter() - started
    _append_ms(data, n=1)  # one more run arrives; the app reads again
    warm_s = _clock(lambda: _analysis(app))
    part = "4 log scale"
    return [
        row(
            part,
            f"{label}: append one row",
            append_ms,
            "ms",
            "< 5",
            f"{empty_ms:.1f} ms on an empty log; {size_mb:.0f} MB file written in {written:.1f} s",
        ),
        row(part, f"{label}: append vs empty log", append_ms / empty_ms, "x", "<= 1.5", "does not grow with the log"),
        row(
            part,
            f"{label}: History (present.runs.history_table, latest 100)",
            history_s,
            "s",
            "< 1",
            f"index built once on first use: {index_s:.1f} s",
        ),
        row(part, f"{label}: reopen a run (RunLog.get, newest and oldest)", _ms(get_s), "ms", "< 1000"),
        row(part, f"{label}: daily spend cap (RunLog.spent_since)", _ms(spend_s), "ms", "< 1000"),
        row(
            part,
            f"{label}: whole-CSV read (RunLog.read, all columns)",
            whole_s,
            "s",
            "",
            "what History, get and spent_since each cost before the index",
        ),
        row(
            part,
            f"{label}: resume an experiment (experiments.cells.logged_ok), cold",
            resume_s,
            "s",
            "",
            "a fresh process's read of the 6 columns it uses",
        ),
        row(
            part,
            f"{label}: Analysis summary, cold",
            cold_s,
            "s",
            "< 1" if rows <= 100_000 else "",
            f"{how}: a process's first read parses the columns it needs",
        ),
        row(
            part,
            f"{label}: Analysis summary, warm",
            warm_s,
            "s",
            "< 1" if rows <= 100_000 else "",
            "the app's next read: cached frame plus the new rows only",
        ),
    ]


def run(sizes: list[int]) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="pg-bench-log-"))
    try:
        rows: list[Row] = []
        for n in sizes:
            rows += measure(n, work)
            shutil.rmtree(work / f"log-{n}", ignore_errors=True)  # 1M rows is about 1 GB
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)
