"""Browser tests against the app wired to the loopback emulator (BytePlus streaming, one frame
every latency/N seconds): live frames, cancel, downloads, History reopen, references, import,
keyboard submit, phone width and dark mode. Every test also asserts the browser console
stayed clean (see support.browser.KNOWN_CONSOLE_NOISE).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from playground.base.config import Settings
from playground.core import Playground
from support.app import launch_app
from support.browser import BEATS, SHOTS, console_errors, fill_story, shot

expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture(scope="module")
def live_app(emulator_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Playground]]:
    """One app for the module, pointed at the emulator, BytePlus preselected."""
    env = {**emulator_server.env(), "PLAYGROUND_DEFAULT_PROVIDER": "byteplus"}
    settings = Settings.from_env(env=env, data_dir=tmp_path_factory.mktemp("live") / "data")
    app, url = launch_app(settings)
    try:
        yield url, Playground(settings)
    finally:
        app.close()


@pytest.fixture
def live(live_app: tuple[str, Playground], emulator) -> tuple[str, Playground, object]:
    url, playground = live_app
    return url, playground, emulator


def gallery_count(page, gallery: str = "#sequence-gallery") -> int:
    return page.locator(f"{gallery} img").count()


def newest_row(playground: Playground, timeout_s: float = 15.0, status: str | None = None) -> dict:
    """The newest row of runs.csv, waiting for it (the app writes it when the run ends)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        frame = playground.log.read()
        if not frame.empty and (status is None or frame.iloc[-1]["status"] == status):
            return frame.iloc[-1].to_dict()
        time.sleep(0.1)
    raise AssertionError(f"no {status or ''} row in runs.csv after {timeout_s} s")


def test_streamed_run_fills_the_gallery_frame_by_frame(live, page) -> None:
    url, playground, emulator = live
    emulator.latency_s = 4.0  # one frame a second
    page.goto(url)
    fill_story(page)
    page.locator("#generate-button").click()
    counts, texts, deadline = [], set(), time.monotonic() + 20
    while time.monotonic() < deadline:
        count = gallery_count(page)
        if not counts or counts[-1] != count:
            counts.append(count)
        texts.add(page.locator("#run-progress").inner_text())
        if count == 2 and "in_progress" not in texts:
            shot(page, "in_progress")
            texts.add("in_progress")
        if page.get_by_text("ok: 4 of 4 frames").count():
            break
        time.sleep(0.05)
    assert counts[-1] == 4 and {1, 2, 3} <= set(counts), counts  # 0 -> 1 -> 2 -> 3 -> 4, never all at once
    assert counts == sorted(counts)
    assert any("2 / 4 frames" in t and "s elapsed" in t and "first frame after" in t for t in texts), texts
    row = newest_row(playground, status="ok")
    assert row["provider"] == "byteplus" and 0.5 < row["first_frame_s"] < row["latency_s"]
    assert console_errors(page.console_errors) == []


def test_cancel_mid_run_is_logged_as_cancelled(live, page) -> None:
    url, playground, emulator = live
    emulator.latency_s = 8.0  # two seconds a frame: time to press Cancel after the first
    page.goto(url)
    fill_story(page)
    page.locator("#generate-button").click()
    page.locator("#sequence-gallery img").first.wait_for(timeout=15_000)
    page.locator("#cancel-button").click()
    page.get_by_text("The run is logged with status").wait_for(timeout=10_000)
    row = newest_row(playground, status="cancelled")
    assert 1 <= row["frames_returned"] < 4 and row["error"].startswith("cancelled by the user")
    summary = page.locator("#run-summary").inner_text()  # the run's id, frames and what may have been billed
    assert row["run_id"] in summary and f"cancelled: {row['frames_returned']} of 4 frames" in summary
    assert "possibly billed" in summary and page.locator("#run-progress").inner_text().strip() == ""
    time.sleep(2.5)  # the frame that would have come next does not appear
    assert gallery_count(page) == row["frames_returned"]
    page.get_by_role("tab", name="History").click()
    page.locator("#history-table span", has_text=row["run_id"]).first.wait_for(timeout=10_000)
    cell = page.locator("#history-table span", has_text=row["run_id"]).filter(visible=True).first
    line = cell.locator("xpath=ancestor::div[contains(@class, 'virtual-row')][1]").inner_text()
    assert "cancelled" in line and f"{row['frames_returned']}/4" in line, line
    assert console_errors(page.console_errors) == []


def test_zip_download_after_a_run(live, page, tmp_path: Path) -> None:
    url, playground, emulator = live
    page.goto(url)
    fill_story(page, frames=3)
    page.locator("#generate-button").click()
    page.get_by_text("ok: 3 of 3 frames").wait_for(timeout=20_000)
    button = page.locator("#run-download-zip")
    button.wait_for(timeout=15_000)
    with page.expect_download() as info:
        button.click()
    data = Path(info.value.path()).read_bytes()
    row = newest_row(playground)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read(f"{row['run_id']}/manifest.json"))
    assert sorted(n.rsplit("/", 1)[1] for n in names) == [
        "frame_01.png",
        "frame_02.png",
        "frame_03.png",
        "manifest.json",
    ]
    assert manifest["request"]["beats"] == BEATS[:3] and manifest["cost"]["cost_usd"] == pytest.approx(row["cost_usd"])
    assert emulator.env()["ARK_API_KEY"].encode() not in data
    assert console_errors(page.console_errors) == []


def test_history_reopens_a_run_with_its_downloads(live, page) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from playground.base.types import GenerationRequest

    url, playground, _ = live
    request = GenerationRequest(
        prompt="Miko, a red panda courier. Flat webcomic style.", frames=4, beats=BEATS, provider="local", seed=7
    )
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        run_id = pool.submit(asyncio.run, playground.run(request)).result().record.run_id
    page.goto(url)
    page.get_by_role("tab", name="History").click()
    page.locator("#history-table span", has_text=run_id).first.click()
    page.locator("#history-gallery img").nth(3).wait_for(timeout=15_000)
    assert gallery_count(page, "#history-gallery") == 4
    assert page.locator("#history-summary").get_by_text("ok: 4 of 4 frames").count() == 1
    sheet = page.locator("#history-download-sheet")
    sheet.wait_for(timeout=15_000)
    shot(page, "history")
    with page.expect_download() as info:
        sheet.click()
    with Image.open(info.value.path()) as image:
        assert image.format == "PNG" and image.width > image.height * 0.7
    if SHOTS:
        shutil.copy(info.value.path(), SHOTS / "sheet.png")
    assert page.locator("#history-download-gif").is_visible() and page.locator("#history-download-zip").is_visible()
    assert console_errors(page.console_errors) == []


def test_uploaded_reference_is_sent_to_the_provider(live, page, tmp_path: Path) -> None:
    url, playground, emulator = live
    ref = tmp_path / "miko.png"
    Image.new("RGB", (128, 96), (200, 60, 30)).save(ref)
    page.goto(url)
    fill_story(page, frames=2)
    assert "up to 14 reference image" in page.locator("#reference-note").inner_text()
    page.get_by_label("Reference images", exact=True).set_input_files(str(ref))
    page.locator("#generate-form td.filename[aria-label='miko.png']").wait_for(timeout=10_000)
    page.locator("#generate-button").click()
    page.get_by_text("ok: 2 of 2 frames").wait_for(timeout=20_000)
    sent = emulator.requests_for("byteplus", "POST")[-1].json
    assert sent["image"].startswith("data:image/png;base64,")
    row = newest_row(playground)
    assert row["ref_count"] == 1 and len(json.loads(row["ref_hashes"])) == 1
    assert page.get_by_text("1 reference image(s)").count() == 1
    assert console_errors(page.console_errors) == []


def test_import_frames_from_the_history_tab(live, page, tmp_path: Path) -> None:
    url, playground, _ = live
    files = []
    for i in range(2):
        files.append(tmp_path / f"mj_{i}.png")
        Image.new("RGB", (200, 150), (30 + 90 * i, 90, 160)).save(files[-1])
    page.goto(url)
    page.get_by_role("tab", name="History").click()
    page.get_by_text("Import frames made elsewhere").click()
    page.locator("#import-frames input[type=file]").first.set_input_files([str(f) for f in files])
    page.locator("#import-frames td.filename[aria-label='mj_1.png']").wait_for(timeout=10_000)
    page.get_by_label("Model", exact=True).last.fill("midjourney-v7")
    page.get_by_label("Cost (USD)").fill("0.1")
    page.get_by_label("Prompt the frames were made from").fill("Miko, a red panda courier")
    page.get_by_role("button", name="Import as a run").click()
    page.get_by_text("Imported 2 frame(s)").wait_for(timeout=15_000)
    page.locator("#history-gallery img").nth(1).wait_for(timeout=10_000)
    row = newest_row(playground)
    assert row["provider"] == "import" and row["model"] == "midjourney-v7" and row["cost_source"] == "user"
    page.locator("#history-table span", has_text=row["run_id"]).first.wait_for(timeout=10_000)
    assert console_errors(page.console_errors) == []


def test_ctrl_enter_in_the_prompt_starts_a_run(live, page) -> None:
    url, playground, _ = live
    page.goto(url)
    fill_story(page, frames=2)
    page.get_by_label("Prompt", exact=True).first.press("Control+Enter")
    page.get_by_text("ok: 2 of 2 frames").wait_for(timeout=20_000)
    assert newest_row(playground)["frames_returned"] == 2
    assert console_errors(page.console_errors) == []


@pytest.mark.parametrize(
    "name, options",
    [
        ("phone", dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)),
        ("dark", dict(viewport={"width": 1400, "height": 1000}, color_scheme="dark")),
    ],
)
def test_phone_width_and_dark_mode_stay_readable(live, page, name: str, options: dict) -> None:
    url, _, _ = live
    context = page.context.browser.new_context(**options)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: m.type == "error" and errors.append(m.text))
    tab.goto(url)
    tab.get_by_label("Provider").first.wait_for()
    fill_story(tab)
    tab.get_by_label("Provider").first.click()
    tab.get_by_role("option", name="Local (offline stand-in, not a model) — ready").click()
    expect(tab.get_by_label("Model", exact=True)).to_have_value(re.compile("Procedural"))  # model list followed
    tab.locator("#generate-button").click()
    tab.get_by_text("ok: 4 of 4 frames").wait_for(timeout=20_000)
    tab.locator("#run-download-zip").wait_for(timeout=15_000)
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= options["viewport"]["width"], f"page is {width}px wide: it scrolls sideways"
    boxes = tab.locator("#sequence-gallery img").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect()).map(r => [r.left, r.right])"
    )
    assert len(boxes) == 4 and all(0 <= left and right <= options["viewport"]["width"] + 1 for left, right in boxes)
    if name == "dark":
        colours = tab.evaluate("""() => { const s = getComputedStyle(document.querySelector('#run-summary'));
            return [s.color, getComputedStyle(document.body).backgroundColor]; }""")
        assert _luminance(colours[0]) - _luminance(colours[1]) > 0.5, colours  # light text on a dark page
    shot(tab, name)
    context.close()
    assert console_errors(errors) == []


def _luminance(css: str) -> float:
    r, g, b = (int(float(v)) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.parametrize("typed", ["16", "0"])
def test_out_of_range_frames_are_refused_as_typed(live, page, typed: str) -> None:
    """The box keeps what was typed and that is what the core sees: a clear error, a logged
    error row, no frames and no request to the provider (a slider clamped 16 to a paid 15-frame run)."""
    url, playground, emulator = live
    sent_before = len(emulator.requests_for("byteplus", "POST"))
    rows_before = len(playground.log.read())
    page.goto(url)
    fill_story(page, frames=4)
    box = page.get_by_label("Frames", exact=True).first
    box.fill(typed)
    box.press("Enter")
    expect(box).to_have_value(typed)
    message = f"frames must be between 1 and 15, got {typed}"
    page.locator(".run-summary", has_text=message).first.wait_for(timeout=10_000)  # the estimate line says so at once
    page.locator("#generate-button").click()
    page.locator(".toast-body", has_text=message).first.wait_for(timeout=15_000)
    row = newest_row(playground, status="error")
    assert len(playground.log.read()) == rows_before + 1
    assert row["frames_requested"] == int(typed) and row["frames_returned"] == 0 and row["api_calls"] == 0
    assert message in row["error"]
    assert len(emulator.requests_for("byteplus", "POST")) == sent_before
    expect(box).to_have_value(typed)
    assert console_errors(page.console_errors) == []


def test_a_refused_run_keeps_the_frames_and_shows_why(live, page) -> None:
    url, playground, _ = live
    page.goto(url)
    fill_story(page, frames=2)
    page.locator("#generate-button").click()
    page.get_by_text("ok: 2 of 2 frames").wait_for(timeout=20_000)
    shown = newest_row(playground, status="ok")["run_id"]
    page.get_by_label("Prompt", exact=True).first.fill("   ")
    page.locator("#generate-button").click()
    summary = page.locator("#run-summary")
    summary.get_by_text("the prompt is empty").wait_for(timeout=15_000)
    page.locator(".toast-body", has_text="the prompt is empty").first.wait_for(timeout=5_000)
    assert "Not sent" in summary.inner_text() and shown in summary.inner_text()
    assert gallery_count(page) == 2 and page.locator("#sequence-gallery img").first.is_visible()
    assert page.locator("#sequence-gallery .error, #run-summary .error").count() == 0  # no "Error" badge over them
    assert newest_row(playground)["status"] == "error"
    assert console_errors(page.console_errors) == []


def test_cancel_with_nothing_running_changes_nothing(live, page) -> None:
    url, playground, _ = live
    page.goto(url)
    page.locator("#cancel-button").click()  # before any run
    toast = page.locator(".toast-body", has_text="Nothing is running")
    toast.first.wait_for(timeout=10_000)
    toast.first.wait_for(state="detached", timeout=15_000)  # gone after its 4 s
    fill_story(page, frames=2)
    page.locator("#generate-button").click()
    page.get_by_text("ok: 2 of 2 frames").wait_for(timeout=20_000)
    rows = len(playground.log.read())
    summary = page.locator("#run-summary").inner_text()
    page.locator("#cancel-button").click()
    toast.first.wait_for(timeout=10_000)
    assert page.locator("#run-summary").inner_text() == summary and "Cancelled" not in summary
    assert len(playground.log.read()) == rows and gallery_count(page) == 2
    assert console_errors(page.console_errors) == []


def test_a_refused_frame_is_named_and_leaves_a_numbered_gap(live, page) -> None:
    url, playground, emulator = live
    emulator.set_fault("byteplus", "refused")  # frame 2 refused for content
    page.goto(url)
    fill_story(page, frames=4)
    page.locator("#generate-button").click()
    summary = page.locator("#run-summary")
    summary.get_by_text("partial: 3 of 4 frames").wait_for(timeout=20_000)
    assert "Frame 2: OutputImageSensitiveContentDetected" in summary.inner_text()
    captions = page.locator("#sequence-gallery .caption-label").all_inner_texts()
    assert [c.split(".")[0] for c in captions] == ["1", "3", "4"], captions
    shot(page, "refused_frame", full_page=False)
    emulator.clear_faults()
    assert console_errors(page.console_errors) == []


@pytest.mark.parametrize("width, cycles", [(1400, 6), (390, 2)])
def test_cancel_never_leaves_running_under_cancelled(live, page, monkeypatch, width: int, cycles: int) -> None:
    """The clock ticks every 10 ms (it was 500): with two events writing the progress line, a tick
    on its way landed after "Cancelled." (1 try in 5); now only the run's event writes it."""
    from playground.ui import generate

    url, playground, emulator = live
    monkeypatch.setattr(generate, "TICK_S", 0.01)
    emulator.latency_s = 8.0
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
    page.goto(url)
    fill_story(page)
    for cycle in range(cycles):
        before = len(playground.log.read())
        page.locator("#generate-button").click()
        page.locator("#run-progress", has_text="elapsed").wait_for(timeout=15_000)
        page.locator("#cancel-button").click()
        page.locator("#run-summary", has_text="The run is logged with status").wait_for(timeout=15_000)
        newest_row(playground, status="cancelled")
        page.wait_for_function("() => document.querySelector('#run-progress').innerText.trim() === ''", timeout=5_000)
        assert "Running" not in page.locator("#run-progress").inner_text(), cycle
        assert len(playground.log.read()) == before + 1
    shot(page, f"cancelled_{width}", full_page=False)
    assert console_errors(page.console_errors) == []
