"""Sync of DATA_DIR to a Hugging Face dataset (playground/store/hub_sync.py), with huggingface_hub's
own code running over HTTP against a stand-in of the Hub on 127.0.0.1 (tests/support/hub_standin.py;
the `hub` fixture is support/hub.py's). What History shows of it: tests/browser/test_hub_ui.py.

Several writers (separate processes and data directories), a restart that pulls its history
back, a failing and a hanging hub, frames through the LFS path, and the merged history that
History, Analysis and `report` read. Every wait is on an event (the stand-in's or the sync's
status), never on a sleep."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

import pytest

from playground.base.config import Settings
from playground.base.errors import ConfigError
from playground.base.types import RUN_COLUMNS
from playground.core import Playground
from playground.experiments.votes import add_vote
from playground.store import hub_sync
from playground.store import merged as merged_log
from support.faults import cli, make_playground
from support.hub import REPO_ID, WAIT_S, hub_env, local_runs
from support.hub_standin import HubStandIn


def remote_rows(hub: HubStandIn, path: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(hub.files(REPO_ID)[path].decode("utf-8"))))


def test_two_writers_and_a_third_that_pulls_end_with_one_merged_history(hub, tmp_path):
    env = hub_env(hub, tmp_path)
    dirs = {name: tmp_path / name for name in "abc"}
    pgs = {name: make_playground(env, d) for name, d in dirs.items()}
    ids = {
        "a": local_runs(pgs["a"], 1, "a") + local_runs(pgs["a"], 1, "a", mode="baseline"),
        "b": local_runs(pgs["b"], 3, "b"),
        "c": local_runs(pgs["c"], 1, "c"),
    }
    add_vote(pgs["a"], "", ids["a"][0], ids["a"][1], "left")  # sequence against baseline

    for name in "ab":  # two writers, each its own process and data directory
        done = cli(["sync", "--json"], env, dirs[name])
        assert done.code == 0, done.err
        assert done.json()["uploaded"][0] == f"runs/{done.json()['writer']}.csv"
    writers = {name: merged_log.local_writer(dirs[name]) for name in "ab"}
    assert writers["a"] != writers["b"] and all(w.startswith("local-") for w in writers.values())
    files = hub.files(REPO_ID)
    assert sorted(files) == sorted(
        [".gitattributes", f"runs/{writers['a']}.csv", f"runs/{writers['b']}.csv", f"ratings/{writers['a']}.csv"]
    )
    # each writer's file is its runs.csv as it is: the format the playground reads, same columns
    assert files[f"runs/{writers['a']}.csv"] == (dirs["a"] / "runs.csv").read_bytes()
    assert list(remote_rows(hub, f"runs/{writers['b']}.csv")[0]) == RUN_COLUMNS
    # small text files went inline (base64 in the NDJSON commit), as this library version sends them
    assert {line["key"] for body in hub.commit_bodies for line in body[1:]} == {"file"}
    assert hub.repo(REPO_ID).private is True  # created private

    pulled = cli(["sync", "--pull", "--json"], env, dirs["c"])
    assert pulled.code == 0, pulled.err
    assert pulled.json()["writers"] == {writers["a"]: 2, writers["b"]: 3} and pulled.json()["votes"] == 1
    report = cli(["report", "--json"], env, dirs["c"])
    assert report.code == 0, report.err
    counted = report.json()
    writers["c"] = merged_log.local_writer(dirs["c"])
    assert counted["runs"] == 6 and counted["votes"] == 1
    assert counted["writers"] == {writers["a"]: 2, writers["b"]: 3, writers["c"]: 1}

    # a writer syncs again: the third pulls again and every run still appears once
    ids["a"] += local_runs(pgs["a"], 1, "a-again")
    assert cli(["sync"], env, dirs["a"]).code == 0
    assert cli(["sync", "--pull"], env, dirs["c"]).code == 0
    merged = merged_log.runs(pgs["c"], ["run_id", "prompt"])
    assert sorted(merged["run_id"]) == sorted(ids["a"] + ids["b"] + ids["c"])
    assert dict(zip(merged["run_id"], merged["writer"])) == {
        **{r: writers["a"] for r in ids["a"]},
        **{r: writers["b"] for r in ids["b"]},
        **{r: writers["c"] for r in ids["c"]},
    }
    from playground.present.runs import history_table

    table = history_table(pgs["c"])
    assert len(table) == 7 and table["run_id"].is_unique and set(table["writer"]) == set(writers.values())
    # a's own view: its upload comes back in the pull but adds nothing twice (c never synced)
    assert cli(["sync", "--pull"], env, dirs["a"]).code == 0
    assert sorted(merged_log.runs(pgs["a"], ["run_id"])["run_id"]) == sorted(ids["a"] + ids["b"])
    assert hub.unhandled == []


def test_a_restarted_space_starts_with_its_history_back(hub, tmp_path):
    from support.app import launch_app

    env = hub_env(hub, tmp_path, SPACE_ID="team/demo", PLAYGROUND_HUB_EVERY_MIN="0.01")
    before = tmp_path / "before-restart"
    first = make_playground(env, before)
    earlier = local_runs(first, 2, "before")
    app, _ = launch_app(Settings.from_env(env=env, data_dir=before))
    try:
        sync = hub_sync.running(before)
        assert sync is not None and sync.writer.startswith("team--demo-")
        assert sync.wait_for(lambda s: s.state == "ok" and not s.waiting, WAIT_S), sync.status
    finally:
        app.close()
        sync.close()
    # the Space restarts without persistent storage: a new, empty disk
    after = tmp_path / "after-restart"
    app, _ = launch_app(Settings.from_env(env=env, data_dir=after))
    try:
        second = hub_sync.running(after)
        assert second is not None and second.writer.startswith("team--demo-") and second.writer != sync.writer
        assert second.wait_for(lambda s: s.pulled_runs == 2, WAIT_S), second.status
        from playground.present.runs import history_table

        table = history_table(make_playground(env, after))
        assert sorted(table["run_id"]) == sorted(earlier) and set(table["writer"]) == {sync.writer}
        # the old writer's file is left alone: the new life writes a file of its own
        local_runs(make_playground(env, after), 1, "after")
        second.trigger()
        assert second.wait_for(lambda s: f"runs/{second.writer}.csv" not in s.waiting and s.commits >= 1, WAIT_S)
        assert len(remote_rows(hub, f"runs/{sync.writer}.csv")) == 2
    finally:
        app.close()
        second.close()
    assert hub.unhandled == []


def test_a_failed_upload_is_retried_and_reported_without_showing_the_token(hub, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    env = hub_env(hub, tmp_path, PLAYGROUND_HUB_EVERY_MIN="0.005")
    pg = make_playground(env, tmp_path / "data")
    local_runs(pg, 2, "retry")
    hub.fail("commit", times=2, status=500)  # its error body echoes the Authorization header
    sync = hub_sync.HubSync(pg.settings, pg.secrets()).start()
    try:
        assert sync.wait_for(lambda s: s.failures >= 1, WAIT_S), sync.status
        failing = hub_sync.status_text(sync.status)
        assert "upload failing" in failing and f"runs/{sync.writer}.csv" in failing and "retried every" in failing
        assert sync.wait_for(lambda s: s.state == "ok" and s.commits >= 1 and not s.waiting, WAIT_S), sync.status
        assert sync.status.attempts >= 3 and "upload failing" not in hub_sync.status_text(sync.status)
    finally:
        sync.close()
    assert hub.files(REPO_ID)[f"runs/{sync.writer}.csv"] == (tmp_path / "data" / "runs.csv").read_bytes()
    seen = failing + "\n".join(r.getMessage() for r in caplog.records)
    assert "stand-in fault on commit" in seen and "[redacted]" in seen
    assert hub.token not in seen


def test_a_hanging_hub_never_blocks_a_run_and_shutdown_says_what_was_not_uploaded(hub, tmp_path, caplog):
    from gradio_client import Client

    from support.app import launch_app

    caplog.set_level(logging.INFO, logger="playground.hub_sync")
    env = hub_env(hub, tmp_path, PLAYGROUND_HUB_EVERY_MIN="0.01")
    data = tmp_path / "data"
    local_runs(make_playground(env, data), 1, "before")
    hub.hold_commits()  # the hub takes the commit and never answers
    app, url = launch_app(Settings.from_env(env=env, data_dir=data))
    sync = hub_sync.running(data)
    try:
        assert hub.commit_arrived.wait(WAIT_S)
        job = Client(url, verbose=False).submit(
            "a fox in the rain", "", 2, "local", "", "sequence", 7, "", [], api_name="/generate"
        )
        job.result(timeout=WAIT_S)
        assert len(make_playground(env, data).log.read()) == 2  # the run ended and was logged meanwhile
        assert sync.status.state != "ok"
        waiting = sync.close(timeout=0.5)  # the commit still hangs: shutdown does not wait for it
    finally:
        app.close()
        hub.release()
    assert waiting == [f"runs/{sync.writer}.csv"]
    said = [r.getMessage() for r in caplog.records if "at shutdown" in r.getMessage()]
    assert said and f"runs/{sync.writer}.csv" in said[0] and "python -m playground sync" in said[0]


def test_frames_go_through_lfs_and_come_back_with_the_pull(hub, tmp_path):
    """Frames are binary: the Hub (and the stand-in) send them down the LFS/Xet path. Only the
    legacy LFS protocol is tested (HF_HUB_DISABLE_XET=1); with Xet, the default when hf_xet is
    installed, the stand-in cannot take them: the log still goes up and the frames wait."""
    env = hub_env(hub, tmp_path, PLAYGROUND_HUB_INCLUDE="frames")
    writer_dir, reader_dir = tmp_path / "writer", tmp_path / "reader"
    run_id = local_runs(make_playground(env, writer_dir), 1, "frames")[0]

    with_xet = cli(["sync"], env, writer_dir)
    writer = merged_log.local_writer(writer_dir)
    assert with_xet.code == 1 and "xet" in with_xet.err.lower()
    assert f"runs/{writer}.csv" in hub.files(REPO_ID)  # the log went first, in a commit of its own

    with_lfs = cli(["sync", "--json"], {**env, "HF_HUB_DISABLE_XET": "1"}, writer_dir)
    assert with_lfs.code == 0, with_lfs.err
    frames = sorted(p for p in hub.files(REPO_ID) if p.startswith(f"runs/{run_id}/"))
    assert frames == [f"runs/{run_id}/frame_01.png", f"runs/{run_id}/frame_02.png"]
    assert all(line["key"] == "lfsFile" for line in hub.commit_bodies[-1][1:])

    assert cli(["sync", "--pull"], env, reader_dir).code == 0
    from playground.store.merged import load_run

    opened = load_run(make_playground(env, reader_dir), run_id)  # History's "Open run" of another writer's run
    assert [f.path.read_bytes() for f in opened.frames] == [
        (writer_dir / "runs" / run_id / name).read_bytes() for name in ("frame_01.png", "frame_02.png")
    ]
    assert [r for r in hub.unhandled if "xet" not in r[1]] == []


def test_nothing_changed_means_no_request_and_a_torn_tail_is_not_uploaded(hub, tmp_path):
    env = hub_env(hub, tmp_path)
    pg = make_playground(env, tmp_path / "data")
    local_runs(pg, 1, "once")
    sync = hub_sync.HubSync(pg.settings, pg.secrets())
    assert sync.push().uploaded == [f"runs/{sync.writer}.csv"]
    asked = len(hub.requests)
    assert sync.push().uploaded == [] and len(hub.requests) == asked  # nothing to send, nothing asked
    with open(tmp_path / "data" / "runs.csv", "ab") as f:
        f.write(b"20990101-000000-abcdef,,2099-01-01T00:00:00Z,loc")  # half a row a crash left behind
    sync.push()
    assert len(remote_rows(hub, f"runs/{sync.writer}.csv")) == 1


def test_writer_id_is_stable_per_data_dir_and_space_based_on_a_space(tmp_path):
    laptop = hub_sync.writer_id(tmp_path / "laptop", {})
    assert laptop == hub_sync.writer_id(tmp_path / "laptop", {"SPACE_ID": "x/y"}) and laptop.startswith("local-")
    space = hub_sync.writer_id(tmp_path / "space", {"SPACE_ID": "team/demo"})
    assert space.startswith("team--demo-") and space != hub_sync.writer_id(
        tmp_path / "other", {"SPACE_ID": "team/demo"}
    )
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "writer_id").write_text("../../etc")
    with pytest.raises(ConfigError, match="writer id"):
        hub_sync.writer_id(tmp_path / "bad", {})


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("PLAYGROUND_HUB_DATASET", "just-a-name", "owner/name"),
        ("PLAYGROUND_HUB_DATASET", "a/b/c", "owner/name"),
        ("PLAYGROUND_HUB_INCLUDE", "frames,keys", "frames and/or exports"),
        ("PLAYGROUND_HUB_EVERY_MIN", "0", "positive"),
        ("PLAYGROUND_HUB_EVERY_MIN", "soon", "number"),
    ],
)
def test_bad_sync_settings_are_refused_with_a_clear_message(name, value, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env={name: value})


def test_sync_without_a_dataset_says_how_to_turn_it_on(tmp_path):
    result = cli(["sync"], {}, tmp_path / "data")
    assert result.code == 2 and "PLAYGROUND_HUB_DATASET" in result.err and "Traceback" not in result.err


def test_a_hostile_snapshot_cannot_duplicate_runs_or_point_outside_it(tmp_path):
    pg = Playground(Settings.from_env(env={"PLAYGROUND_HUB_DATASET": REPO_ID}, data_dir=tmp_path / "data"))
    mine = local_runs(pg, 1, "mine")[0]
    root = merged_log.dataset_dir(pg.settings.data_dir, REPO_ID)
    (root / "runs").mkdir(parents=True)
    header = ",".join(RUN_COLUMNS)
    row = {c: "" for c in RUN_COLUMNS}
    rows = [
        {**row, "run_id": mine, "prompt": "a copy of my run", "created_at": "2030-01-01T00:00:00Z"},
        {**row, "run_id": "../../escape", "prompt": "sneaky", "created_at": "2030-01-01T00:00:00Z"},
    ]
    body = "\n".join(",".join(r[c] for c in RUN_COLUMNS) for r in rows)
    (root / "runs" / "other.csv").write_text(f"{header}\n{body}\n")
    (root / "runs" / ".hidden.csv").write_text(f"{header}\n")
    merged = merged_log.runs(pg, ["run_id", "prompt"])
    assert merged[merged["run_id"] == mine]["prompt"].tolist() == ["mine fox 0"]  # the local row wins
    assert merged_log.get(pg, "../../escape") is None
    assert [w for w, _ in merged_log.Snapshot(root).run_files()] == ["other"]
    assert json.loads(json.dumps(merged_log.writers(merged))) == {"local": 1, "other": 1}


def test_the_banner_says_where_the_data_goes_and_who_sees_it(tmp_path):
    from playground.present.providers import banner

    synced = banner(
        Playground(
            Settings.from_env(
                env={
                    "PLAYGROUND_HUB_DATASET": REPO_ID,
                    "PLAYGROUND_HUB_INCLUDE": "frames",
                    "HF_TOKEN": "hf_secret_0123456789abcdef",
                },
                data_dir=tmp_path / "a",
            )
        )
    )
    assert f"`{REPO_ID}`" in synced and "frames" in synced and "every 5 min" in synced
    assert "created private" in synced and "whoever can read it" in synced and "hf_secret" not in synced
    assert "dataset" not in banner(Playground(Settings.from_env(env={}, data_dir=tmp_path / "b")))
    status = hub_sync.SyncStatus(REPO_ID, "local-1234abcd", 5.0, private=False, state="ok")
    assert "**public: anyone can read it**" in hub_sync.status_text(status)


def test_bench_story_reads_the_newest_run_of_each_cell_from_every_writer(hub, tmp_path, capsys, monkeypatch):
    """The experiment id follows the file, arms and stories, so two writers running the same
    benchmark share it; the table keeps one run per cell, the newest that was sent: with --hub,
    the newest of every writer's."""
    from playground.cli.main import main

    story = tmp_path / "one_story.yaml"
    story.write_text(
        "animals:\n- concept_token: fox\n  style: A watercolour painting of\n"
        "  subject: A red fox with a blue scarf\n  settings: [crossing a river, sleeping in a log]\n"
    )
    for key, value in hub_env(hub, tmp_path).items():  # the CLI reads its settings from the environment
        monkeypatch.setenv(key, value)

    def bench(data: Path, *extra: str) -> dict:
        capsys.readouterr()
        code = main(["bench-story", str(story), "--arm", "local::sequence", "--json", "--data-dir", str(data), *extra])
        assert code == 0
        return json.loads(capsys.readouterr().out)

    def palette(result: dict) -> float:
        return result["table"][0]["palette_consistency_mean"]

    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    own = palette(bench(mine, "--seed", "2"))
    newer = bench(theirs, "--seed", "1")  # the same cell, later, drawn from another seed
    assert newer["experiment_id"] == bench(mine)["experiment_id"] and palette(newer) != own
    hub_sync.HubSync(Settings.from_env(data_dir=theirs), []).push()
    merged = bench(mine, "--hub", REPO_ID)  # pulls the dataset, then tabulates
    assert merged["sent"] == 0 and merged["table"][0]["runs"] == 1 and palette(merged) == palette(newer)
    assert palette(bench(mine)) == palette(newer)  # the pulled copy of $PLAYGROUND_HUB_DATASET is the default
    monkeypatch.delenv("PLAYGROUND_HUB_DATASET")
    assert palette(bench(mine)) == own  # without a dataset: this writer's own run


def test_a_wrong_token_is_a_clear_one_line_error_that_does_not_show_it(hub, tmp_path):
    wrong = "hf_wrongtoken0123456789abcdefXYZ"
    result = cli(["sync"], hub_env(hub, tmp_path, HF_TOKEN=wrong), tmp_path / "data")
    assert result.code == 1 and "HTTP 401" in result.err and "HF_TOKEN" in result.err
    assert wrong not in result.err + result.out and "Traceback" not in result.err


def test_tags_and_notes_sync_per_writer_and_replay_merged(hub, tmp_path):
    from playground.experiments.annotations import add_note, add_tag, annotations, remove_tag, tagged

    env = hub_env(hub, tmp_path)
    dirs = {name: tmp_path / name for name in "ab"}
    pgs = {name: make_playground(env, d) for name, d in dirs.items()}
    mine = local_runs(pgs["a"], 2, "a")
    add_tag(pgs["a"], mine[0], "keep")
    add_tag(pgs["a"], mine[1], "keep")
    add_note(pgs["a"], mine[0], "the scarf changes colour", author="ana")
    done = cli(["sync", "--json"], env, dirs["a"])
    assert done.code == 0, done.err
    writer_a = merged_log.local_writer(dirs["a"])
    # annotations.csv as it is, in a file of this writer's own
    assert hub.files(REPO_ID)[f"annotations/{writer_a}.csv"] == (dirs["a"] / "annotations.csv").read_bytes()
    assert [r["value"] for r in remote_rows(hub, f"annotations/{writer_a}.csv")] == [
        "keep",
        "keep",
        "the scarf changes colour",
    ]

    assert cli(["sync", "--pull"], env, dirs["b"]).code == 0  # b sees a's runs with their tags and notes
    seen = annotations(pgs["b"], mine[0])
    assert seen.tags == ["keep"] and [n[1:] for n in seen.notes] == [("ana", "the scarf changes colour")]
    assert tagged(pgs["b"], "keep") == set(mine)
    remove_tag(pgs["b"], mine[1], "keep")  # b untags a's run: its own file, a's is left alone
    assert tagged(pgs["b"], "keep") == {mine[0]}
    assert cli(["sync"], env, dirs["b"]).code == 0
    writer_b = merged_log.local_writer(dirs["b"])
    assert [r["kind"] for r in remote_rows(hub, f"annotations/{writer_b}.csv")] == ["untag"]
    assert len(remote_rows(hub, f"annotations/{writer_a}.csv")) == 3

    assert cli(["sync", "--pull"], env, dirs["a"]).code == 0  # a pulls: b's untag replays after a's tag
    assert tagged(pgs["a"], "keep") == {mine[0]}
    assert annotations(pgs["a"], mine[0]).notes[0][2] == "the scarf changes colour"  # its own row, once
    assert len(annotations(pgs["a"], mine[0]).notes) == 1
    listed = cli(["runs", "--tag", "keep", "--json"], env, dirs["a"])
    assert [r["run_id"] for r in listed.json()["runs"]] == [mine[0]]
    assert hub.unhandled == []
