"""Spend caps stop a run before anything is sent, with a message naming the cap; the
emulator's request log proves nothing went out. The daily cap is per DATA_DIR, from the log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from playground.base.config import SPACE_DEFAULT_CAPS, Settings
from playground.base.errors import SpendCapError
from playground.base.types import GenerationRequest, RunRecord
from playground.core import Session
from support.faults import cli, make_playground, rows, run

# byteplus seedream-5-0-260128 is $0.035 an image in the price table
TWO = dict(provider="byteplus", frames=2, size="256x256")  # estimate $0.07


def refused(pg, session=None, **fields) -> str:
    with pytest.raises(SpendCapError) as caught:
        run(pg, session, **fields)
    return str(caught.value)


def test_per_run_cap(emulator, data_dir):
    pg = make_playground(emulator.env(), data_dir, PLAYGROUND_MAX_USD_PER_RUN="0.05")
    message = refused(pg, **TWO)
    assert "PLAYGROUND_MAX_USD_PER_RUN" in message and "$0.0700" in message
    assert emulator.requests == []
    row = rows(pg)[0]
    assert row["status"] == "error" and "PLAYGROUND_MAX_USD_PER_RUN" in row["error"] and row["estimate_usd"] == 0.07
    assert run(pg, provider="byteplus", frames=1, size="256x256").record.status == "ok"  # $0.035 passes


def test_per_session_cap_counts_what_the_session_spent(emulator, data_dir):
    pg = make_playground(emulator.env(), data_dir, PLAYGROUND_MAX_USD_PER_SESSION="0.10")
    session = Session()
    assert run(pg, session, **TWO).record.cost_usd == pytest.approx(0.07)
    assert session.spent_usd == pytest.approx(0.07)
    sent = len(emulator.requests)
    assert "PLAYGROUND_MAX_USD_PER_SESSION" in refused(pg, session, **TWO)
    assert len(emulator.requests) == sent
    assert run(pg, Session(), **TWO).record.status == "ok"  # another session has its own budget


def test_per_day_cap_is_shared_by_every_process_on_the_data_dir(emulator, data_dir):
    env = {**emulator.env(), "PLAYGROUND_MAX_USD_PER_DAY": "0.10"}
    first = make_playground(env, data_dir)
    assert run(first, **TWO).record.status == "ok"
    emulator.reset()
    second = make_playground(env, data_dir)  # a fresh process would read the same log
    message = refused(second, **TWO)
    assert "PLAYGROUND_MAX_USD_PER_DAY" in message and "$0.0700" in message
    assert emulator.requests == []
    result = cli(
        ["run", "--provider", "byteplus", "--frames", "2", "--size", "256x256", "--prompt", "a fox"], env, data_dir
    )
    assert result.code == 2 and "PLAYGROUND_MAX_USD_PER_DAY" in result.err
    assert emulator.requests == []
    assert [r["status"] for r in rows(second)] == ["ok", "error", "error"]


def test_yesterdays_spend_does_not_count(emulator, data_dir):
    pg = make_playground(emulator.env(), data_dir, PLAYGROUND_MAX_USD_PER_DAY="0.10")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT23:59:59Z")
    pg.log.append(RunRecord(run_id="old", created_at=yesterday, provider="byteplus", cost_usd=50.0, status="ok"))
    assert run(pg, **TWO).record.status == "ok"


def test_concurrent_runs_cannot_pass_a_cap_together(emulator, data_dir):
    """Ten runs started at once: those in flight count with their estimate."""
    emulator.latency_s = 0.3
    pg = make_playground(
        emulator.env(), data_dir, PLAYGROUND_MAX_USD_PER_DAY="0.25", PLAYGROUND_MAX_USD_PER_SESSION="0.20"
    )
    session = Session()

    async def one():
        return await pg.run(GenerationRequest(prompt="a fox", **TWO), session)

    async def all_at_once():
        return await asyncio.gather(*(one() for _ in range(10)), return_exceptions=True)

    outcomes = asyncio.run(all_at_once())
    done = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(done) == 2  # 2 x $0.07 fits $0.20; a third would not
    assert all(isinstance(o, SpendCapError) for o in outcomes if o not in done)
    assert len(emulator.requests_for("byteplus", "POST")) == 2
    assert session.spent_usd == pytest.approx(0.14) and session.reserved_usd == pytest.approx(0.0)


def test_free_runs_pass_any_cap(data_dir):
    pg = make_playground(
        {}, data_dir, PLAYGROUND_MAX_USD_PER_RUN="0", PLAYGROUND_MAX_USD_PER_DAY="0", PLAYGROUND_MAX_USD_PER_SESSION="0"
    )
    assert run(pg, provider="local", frames=2).record.status == "ok"


def test_a_cap_check_sends_nothing_even_for_a_broken_provider(emulator, data_dir):
    emulator.set_fault("byteplus", "server")
    pg = make_playground(emulator.env(), data_dir, PLAYGROUND_MAX_USD_PER_RUN="0.01")
    refused(pg, **TWO)
    assert emulator.requests == []


# -- on a public Space ---------------------------------------------------------------------------------


def test_a_space_gets_default_caps_unless_the_owner_sets_them(data_dir):
    on_space = Settings.from_env(env={"SPACE_ID": "someone/playground"}, data_dir=data_dir)
    assert on_space.max_usd_per_run == SPACE_DEFAULT_CAPS["PLAYGROUND_MAX_USD_PER_RUN"]
    assert on_space.max_usd_per_session == SPACE_DEFAULT_CAPS["PLAYGROUND_MAX_USD_PER_SESSION"]
    assert on_space.max_usd_per_day == SPACE_DEFAULT_CAPS["PLAYGROUND_MAX_USD_PER_DAY"]
    owner = Settings.from_env(
        env={"SPACE_ID": "x/y", "PLAYGROUND_MAX_USD_PER_DAY": "100", "PLAYGROUND_MAX_USD_PER_RUN": "inf"},
        data_dir=data_dir,
    )
    assert owner.max_usd_per_day == 100 and owner.max_usd_per_run == float("inf")
    local = Settings.from_env(env={}, data_dir=data_dir)
    assert (local.max_usd_per_run, local.max_usd_per_session, local.max_usd_per_day) == (None, None, None)


def test_the_space_default_refuses_a_big_run_before_sending(emulator, data_dir):
    pg = make_playground(emulator.env(), data_dir, SPACE_ID="someone/playground")
    assert run(pg, provider="byteplus", frames=15, size="256x256").record.status == "ok"  # $0.525 passes
    emulator.reset()
    big = make_playground(
        emulator.env(),
        data_dir,
        SPACE_ID="someone/playground",
        PLAYGROUND_PRICES='{"byteplus/seedream-5-0-260128": 0.10}',
    )
    message = refused(big, provider="byteplus", frames=15, size="256x256")  # $1.50 > $1.00
    assert "PLAYGROUND_MAX_USD_PER_RUN ($1.00)" in message
    assert emulator.requests == []


def test_a_bad_cap_value_is_a_clear_error(data_dir):
    result = cli(["run", "--frames", "2", "--prompt", "a fox"], {"PLAYGROUND_MAX_USD_PER_DAY": "ten dollars"}, data_dir)
    assert result.code == 2 and "PLAYGROUND_MAX_USD_PER_DAY must be a number" in result.err
    assert "Traceback" not in result.err


# -- calls that may have been billed count towards the caps ---------------------------------------------


def test_a_call_that_may_have_been_billed_counts_towards_the_day_cap(emulator, data_dir):
    """A 500 after the generation was sent: nothing came back, but the provider may bill it."""
    pg = make_playground(emulator.env(), data_dir, PLAYGROUND_MAX_USD_PER_DAY="0.10")
    emulator.set_fault("byteplus", "server", count=1)
    record = run(pg, **TWO).record
    assert record.status == "error" and record.frames_returned == 0
    assert record.images_billed == 0  # none known to be billed...
    assert (
        record.cost_usd == pytest.approx(0.07) and record.cost_source == "possibly billed (estimate)"
    )  # ...but may be
    assert "may have been billed" in record.error and "$0.0700" in record.error
    message = refused(pg, **TWO)  # $0.07 possibly spent + $0.07 passes $0.10
    assert "PLAYGROUND_MAX_USD_PER_DAY" in message and "$0.0700" in message


def test_a_call_refused_before_it_was_sent_costs_nothing(emulator, data_dir):
    pg = make_playground(emulator.env(), data_dir)
    emulator.set_fault("byteplus", "auth")
    record = run(pg, **TWO).record
    assert record.status == "error" and record.cost_usd == 0 and record.cost_source == "price table"


def test_wavespeed_possibly_billed_call_counts_its_max_images(emulator, data_dir):
    pg = make_playground(emulator.env(), data_dir)
    emulator.set_fault("wavespeed", "server", count=1)
    record = run(pg, provider="wavespeed", frames=3, size="256x256").record
    assert record.cost_usd == pytest.approx(3 * record.price_per_image_usd)
    assert record.cost_source == "possibly billed (estimate)"
