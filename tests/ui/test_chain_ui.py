"""Chain mode from the app's public API (gradio_client, the app launched against the emulator):
Generate's Mode takes `chain` and `chain-previous`, and the Compare tab runs sequence, chain and
baseline arms side by side; the emulator's request log shows frame 1 sent back as the reference."""

from __future__ import annotations

import base64
import hashlib

import pytest

from playground.base.config import Settings
from playground.store.runlog import RunLog


@pytest.fixture
def app_url(emulator, data_dir):
    from support.app import launch_app

    app, url = launch_app(Settings.from_env(env=emulator.env(), data_dir=data_dir))
    try:
        yield url
    finally:
        app.close()


def sent_image_hashes(emulator) -> list[list[str]]:
    """Per BytePlus create request, in order: the sha256 of each reference image it carried."""
    out = []
    for r in emulator.requests_for("byteplus", "POST"):
        images = r.json.get("image") or []
        images = [images] if isinstance(images, str) else images
        out.append([hashlib.sha256(base64.b64decode(i.split(",", 1)[1])).hexdigest() for i in images])
    return out


def test_generate_runs_a_chain_from_the_previous_frame(app_url, emulator, data_dir):
    from gradio_client import Client

    job = Client(app_url, verbose=False).submit(
        "a fox courier",
        "parcel\nrain\ndoor",
        3,
        "byteplus",
        "seedream-5-0-260128",
        "chain-previous",
        7,
        "256x256",
        [],
        api_name="/generate",
    )
    job.result()
    assert "ok: 3 of 3 frames" in str(job.outputs())
    assert "chain: 2 from 1, 3 from 2" in str(job.outputs())  # the summary says what chained from what
    row = RunLog(data_dir).read().iloc[-1]
    assert row["mode"] == "chain" and row["reference_frames"] == '{"2": 1, "3": 2}'
    frames = sorted(p for p in (data_dir / "runs" / row["run_id"]).glob("frame_0*") if ".preview" not in p.name)
    hashes = [hashlib.sha256(p.read_bytes()).hexdigest() for p in frames]
    assert sent_image_hashes(emulator) == [[], [hashes[0]], [hashes[1]]]


def test_the_compare_tab_runs_sequence_chain_and_baseline(app_url, emulator, data_dir):
    from gradio_client import Client

    arms = ["byteplus::sequence", "byteplus::chain", "byteplus::baseline"]
    job = Client(app_url, verbose=False).submit(
        prompt="A fox courier.", beats=["parcel", "rain", "door"], frames=3, arms=arms, seed=7, api_name="/compare"
    )
    job.result()
    log = RunLog(data_dir).read()
    assert sorted(log["arm"]) == [
        "byteplus:seedream-5-0-260128:baseline",
        "byteplus:seedream-5-0-260128:chain",
        "byteplus:seedream-5-0-260128:sequence",
    ]
    assert set(log["status"]) == {"ok"} and log["experiment_id"].nunique() == 1
    chain = log[log["mode"] == "chain"].iloc[0]
    assert chain["reference_frames"] == '{"2": 1, "3": 1}'
    first = sorted(p for p in (data_dir / "runs" / chain["run_id"]).glob("frame_01*") if ".preview" not in p.name)[0]
    frame_1 = hashlib.sha256(first.read_bytes()).hexdigest()
    assert sum(1 for refs in sent_image_hashes(emulator) if refs == [frame_1]) == 2  # frames 2 and 3 of the chain
    # the Analysis tab's content for this comparison: the three modes as three arms, and the modes' note
    from playground.core import Playground
    from playground.present.analysis import analysis_view

    view = analysis_view(
        Playground(Settings.from_env(env=emulator.env(), data_dir=data_dir)), log["experiment_id"].iloc[0]
    )
    assert sorted(view.table["arm"].str.rsplit(":", n=1).str[-1]) == ["baseline", "chain", "sequence"]
    assert "by mode, the mean of its arms' subject consistency: sequence" in view.notes
