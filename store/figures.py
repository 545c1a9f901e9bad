"""Operational figures read from the shared store, for ``/metrics`` (one query each).

Every replica reads the same rows, so the figures are equal on each: dashboards and
alerts aggregate them with ``max()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store.jobs import JobState
from store.models import AccessRequest, Job
from store.nudge_models import NudgeRun
from store.nudges import RunStatus


@dataclass(frozen=True)
class Figures:
    jobs_due: int
    jobs_oldest_seconds: float
    approvals_pending: int
    last_sweep_finished: datetime | None
    sweep_running: bool


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def read_figures(
    engine: AsyncEngine, pending_state: str, now: datetime | None = None
) -> Figures:
    """Jobs due and how late, pending approvals, the last finished and a running sweep.

    ``pending_state``: the access request state that waits for a decision (spelled by
    ``actions.access.model.RequestState``, which the store does not import).
    """
    now = now or datetime.now(UTC)
    async with engine.connect() as conn:
        due = (await conn.execute(
            select(func.count(), func.min(Job.run_at)).where(
                Job.state == JobState.QUEUED.value, Job.run_at <= now)
        )).one()
        pending = (await conn.execute(
            select(func.count()).select_from(AccessRequest).where(
                AccessRequest.state == pending_state)
        )).scalar_one()
        finished = (await conn.execute(
            select(func.max(NudgeRun.finished_at)).where(
                NudgeRun.status == RunStatus.COMPLETED.value)
        )).scalar_one()
        running = (await conn.execute(
            select(func.count()).select_from(NudgeRun).where(
                NudgeRun.status == RunStatus.RUNNING.value)
        )).scalar_one()
    oldest = _aware(due[1])
    return Figures(
        jobs_due=int(due[0]),
        jobs_oldest_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        approvals_pending=int(pending),
        last_sweep_finished=_aware(finished),
        sweep_running=bool(running),
    )
