"""When to sweep: the cron schedule in its time zone, catch-up after downtime, resumption.

Every replica runs a :class:`NudgeScheduler`. Each one wakes at every scheduled slot
and at least every ``poll_interval``, and sweeps when the latest slot is *due*:

* no run of that slot has completed, and the slot is at most ``catch_up`` old (a
  bot restarted at 10:30 still sends the 09:00 nudges; one down all day does not
  send yesterday's late);
* its last attempt did not fail less than ``retry_failed_after`` ago (a directory
  outage is not hammered every minute); a run that died with its process
  (``interrupted``, or ``running`` under a lapsed lease) is resumed at once.

A due slot is a job (:class:`actions.nudges.NudgeRunner`), keyed by the slot: the
replica that claims it sweeps under the job's lease; the others find it held and
try again at their next poll, by which time the slot has usually completed. A sweep
that resumes another's skips every nudge already recorded and settles the ones its
predecessor left half-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from actions.nudges import NudgeRunner, RunSummary
from config.clock import Now, utc_now
from config.logging import get_logger
from config.nudges import NudgeSettings
from store.nudges import NudgeStore, RunStatus

log = get_logger("helpdesk.nudges.scheduler")

# After a run that failed (not one that was interrupted), wait this long before retrying.
RETRY_FAILED_AFTER = timedelta(minutes=15)


class CronSchedule:
    """A five-field cron expression read in a time zone (DST handled by croniter)."""

    def __init__(self, expression: str, zone: ZoneInfo) -> None:
        self.expression = expression
        self.zone = zone

    def latest(self, moment: datetime) -> datetime:
        """The last slot at or before ``moment``, in UTC."""
        local = moment.astimezone(self.zone) + timedelta(seconds=1)
        found: datetime = croniter(self.expression, local).get_prev(datetime)
        return found.astimezone(UTC)

    def following(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment``, in UTC."""
        found: datetime = croniter(self.expression, moment.astimezone(self.zone)).get_next(
            datetime
        )
        return found.astimezone(UTC)


class NudgeScheduler:
    """Runs the nudge sweep at its slots, on whichever replica claims the slot's job."""

    def __init__(
        self,
        settings: NudgeSettings,
        runner: NudgeRunner,
        store: NudgeStore,
        *,
        now: Now | None = None,
        retry_failed_after: timedelta = RETRY_FAILED_AFTER,
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.store = store
        self.schedule = CronSchedule(settings.schedule, settings.zone)
        self._now = now or utc_now
        self.retry_failed_after = retry_failed_after

    async def due_slot(self) -> datetime | None:
        """The slot to sweep now, if any (see the module docstring)."""
        now = self._now()
        slot = self.schedule.latest(now)
        if now - slot > self.settings.catch_up:
            return None
        runs = await self.store.runs_for_slot(slot)
        if any(run.status == RunStatus.COMPLETED for run in runs):
            return None
        last = runs[-1] if runs else None
        if (
            last is not None
            and last.status in (RunStatus.FAILED, RunStatus.ABORTED)
            and last.finished_at is not None
            and now - last.finished_at < self.retry_failed_after
        ):
            return None
        return slot

    async def tick(self) -> RunSummary | None:
        """Sweep if a slot is due and nobody sweeps now; the run's summary, else None."""
        slot = await self.due_slot()
        if slot is None:
            return None
        log.info("nudge_slot_due", slot=slot.isoformat())
        return await self.runner.run(trigger="schedule", slot=slot)

    def seconds_to_next(self) -> float:
        """How long to sleep: to the next slot, or the poll interval if sooner."""
        now = self._now()
        until_slot = (self.schedule.following(now) - now).total_seconds()
        return max(1.0, min(until_slot, self.settings.poll_interval.total_seconds()))

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Tick until ``stop`` is set (or the task is cancelled); errors are logged."""
        stop = stop or asyncio.Event()
        log.info(
            "nudge_scheduler_started",
            schedule=self.settings.schedule,
            timezone=self.settings.timezone,
            next_slot=self.schedule.following(self._now()).isoformat(),
        )
        while not stop.is_set():
            try:
                await self.tick()
            except Exception as exc:
                log.error("nudge_tick_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.seconds_to_next())
