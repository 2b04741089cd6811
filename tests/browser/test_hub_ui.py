"""History on a synced Space: every writer's runs (pulled from the Hub dataset) and a failing
upload said in the sync status, at desktop and phone widths (the sync itself:
tests/store/test_hub_sync.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from playground.base.config import Settings
from playground.store import hub_sync
from support.app import launch_app
from support.browser import console_errors, shot
from support.faults import make_playground
from support.hub import REPO_ID, WAIT_S, hub_env, local_runs


@pytest.mark.parametrize("width, height", [(1400, 900), (390, 844)])
def test_history_shows_every_writer_and_a_failing_sync(hub, tmp_path, page, width, height):
    env = hub_env(hub, tmp_path, PLAYGROUND_HUB_EVERY_MIN="0.01")
    other, data = tmp_path / "other-writer", tmp_path / "data"
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        theirs = pool.submit(local_runs, make_playground(env, other), 1, "theirs").result()[0]
        mine = pool.submit(local_runs, make_playground(env, data), 1, "mine").result()[0]
    other_pg = make_playground(env, other)
    hub_sync.HubSync(other_pg.settings, other_pg.secrets()).push()
    hub.fail("commit", times=1000)  # from now on every commit fails
    app, url = launch_app(Settings.from_env(env=env, data_dir=data))
    sync = hub_sync.running(data)
    try:
        assert sync.wait_for(lambda s: s.pulled_runs == 1 and s.failures >= 1, WAIT_S), sync.status
        page.set_viewport_size({"width": width, "height": height})
        page.goto(url)
        page.locator("#banner", has_text=f"Synced to the Hugging Face dataset {REPO_ID}").wait_for(timeout=15_000)
        page.get_by_role("tab", name="History").click()
        for run_id in (mine, theirs):
            page.locator("#history-table span", has_text=run_id).first.wait_for(timeout=15_000)
        status = page.locator("#hub-sync-status")
        status.get_by_text("upload failing").wait_for(timeout=15_000)
        assert sync.writer in status.inner_text() and "private" in status.inner_text()
        assert hub.token not in page.content()
        shot(page, f"hub-sync-history-{width}")
        assert console_errors(page.console_errors) == []
    finally:
        app.close()
        sync.close(timeout=1)
