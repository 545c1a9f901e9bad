"""The schedule: cron in a time zone, catch-up after downtime, resumption, one replica."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.scheduler import CronSchedule, NudgeScheduler
from tests.conftest import fresh_pg_database
from tests.nudges.helpers import NUDGED, make_world

LONDON = ZoneInfo("Europe/London")


def test_weekday_mornings_in_the_zone_across_dst() -> None:
    schedule = CronSchedule("0 9 * * 1-5", LONDON)
    friday_noon = datetime(2025, 3, 28, 12, 0, tzinfo=UTC)
    assert schedule.latest(friday_noon) == datetime(2025, 3, 28, 9, 0, tzinfo=UTC)
    # The clocks go forward on Sunday 30 March: Monday 09:00 London is 08:00 UTC.
    assert schedule.following(friday_noon) == datetime(2025, 3, 31, 8, 0, tzinfo=UTC)
    on_the_dot = datetime(2025, 3, 31, 8, 0, tzinfo=UTC)
    assert schedule.latest(on_the_dot) == on_the_dot
    assert schedule.following(on_the_dot) == datetime(2025, 4, 1, 8, 0, tzinfo=UTC)


def _scheduler(world: object, now: datetime, **kw: object) -> NudgeScheduler:
    from tests.nudges.helpers import World

    assert isinstance(world, World)
    runner = world.runner()
    runner._now = lambda: now
    return NudgeScheduler(world.cfg.nudges, runner, world.nudges, now=lambda: now, **kw)  # type: ignore[arg-type]


async def test_due_slot_catches_up_then_completes(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        slot = CronSchedule(world.cfg.nudges.schedule, world.cfg.nudges.zone).latest(
            datetime.now(UTC)
        )
        # Five hours late (catch-up is six): due. Seven hours late: given up.
        late = _scheduler(world, slot + timedelta(hours=5))
        assert await late.due_slot() == slot
        assert await _scheduler(world, slot + timedelta(hours=7)).due_slot() is None
        summary = await late.tick()
        assert summary is not None and summary.slot == slot and summary.nudged == len(NUDGED)
        assert await late.due_slot() is None  # completed
        assert await late.tick() is None


async def test_a_failed_run_is_retried_later_an_interrupted_one_at_once(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        slot = CronSchedule(world.cfg.nudges.schedule, world.cfg.nudges.zone).latest(
            datetime.now(UTC)
        )
        now = slot + timedelta(minutes=10)
        await world.nudges.start_run(run_id="f1", trigger="schedule", slot=slot, holder="h",
                                     now=now - timedelta(minutes=5))
        await world.nudges.finish_run("f1", status="failed", counts={}, now=now)
        scheduler = _scheduler(world, now)
        assert await scheduler.due_slot() is None
        assert await _scheduler(world, now + timedelta(minutes=16)).due_slot() == slot
        await world.nudges.start_run(run_id="i1", trigger="schedule", slot=slot, holder="h",
                                     now=now)
        await world.nudges.finish_run("i1", status="interrupted", counts={}, now=now)
        assert await scheduler.due_slot() == slot


async def test_two_replicas_one_sweep(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        first, second = world.runner(), world.runner()
        results = await asyncio.gather(first.run(), second.run())
        done = [r for r in results if r is not None]
        assert len(done) == 1 and done[0].nudged == len(NUDGED)
        assert len(world.all_nudges()) == len(NUDGED)
        # Once the winner has finished, the other one may sweep: it finds nothing to do.
        again = await second.run()
        assert again is not None and again.nudged == 0


async def test_run_forever_stops_when_told(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        scheduler = NudgeScheduler(world.cfg.nudges, world.runner(), world.nudges)
        stop = asyncio.Event()
        task = asyncio.create_task(scheduler.run_forever(stop))
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_two_replicas_on_postgresql(tmp_path: Path) -> None:
    async with fresh_pg_database() as url, make_world(tmp_path, database_url=url) as world:
        runners = [world.runner() for _ in range(3)]
        results = await asyncio.gather(*(r.run() for r in runners))
        done = [r for r in results if r is not None]
        assert len(done) == 1 and done[0].nudged == len(NUDGED)
        assert len(world.all_nudges()) == len(NUDGED)
