"""The access jobs: fulfil, remind, expire, warn, revoke; run by the durable job runner.

Each is written with the transition that makes it due (``fulfil`` with the last
approval, ``remind``/``expire`` with the request, ``warn``/``revoke`` with the
fulfilment), so a crash between a decision and its consequence leaves a job that
any replica's runner picks up once its lease runs out. A handler that finds the
request no longer in a state its action allows (:func:`allows`) has nothing to do.

Directory outages are retried with a capped backoff: a grant is given up (the
request fails) after ``max_attempts``; removing access never is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from actions.access.model import (
    TRANSITIONS,
    AccessSnapshot,
    Action,
    Event,
    JobKind,
    allows,
    is_identity_check,
)
from actions.access.notices import Notices
from actions.access.targets import Targets
from actions.access.trail import SYSTEM, AccessTrail
from actions.jobs import Handler, JobLease, JobRunner, RetryPolicy
from config.clock import Now
from config.logging import get_logger
from config.settings import AccessSettings
from connectors.base import DirectoryGroup, DirectoryUser
from connectors.errors import ConnectorError, GroupNotFound, Unavailable, UserNotFound
from store.db import Store
from store.job_wakeups import JobWakeups
from store.jobs import JobState, NewJob, job_key
from store.models import Job

log = get_logger("helpdesk.access")


def access_job(kind: JobKind, request_id: str, run_at: datetime) -> NewJob:
    """The one job of ``kind`` for a request."""
    return NewJob(kind, job_key(kind, request_id), run_at, request_id=request_id)


class AccessJobs:
    """The handlers of the access job kinds, and the runner that serves them."""

    def __init__(
        self,
        settings: AccessSettings,
        store: Store,
        targets: Targets,
        notices: Notices,
        trail: AccessTrail,
        clock: Now,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.targets = targets
        self.notices = notices
        self.trail = trail
        self.clock = clock
        self.runner = JobRunner(
            store.jobs,
            store.leases,
            {
                JobKind.FULFIL: Handler(self._fulfil),
                JobKind.REMIND: Handler(self._remind),
                JobKind.EXPIRE: Handler(self._expire),
                JobKind.WARN: Handler(self._warn),
                JobKind.REVOKE: Handler(self._revoke),
            },
            lease=settings.lease,
            retry=RetryPolicy(settings.retry_after, settings.retry_max, settings.max_attempts),
            poll_interval=settings.poll_interval,
            clock=clock,
            owner=owner,
            # Woken when a job is queued (on any replica, with PostgreSQL), not only by the poll.
            wakeups=JobWakeups(store.engine),
        )

    async def run_kind(self, request_id: str, kind: JobKind) -> None:
        """Run a request's queued job of ``kind`` here, now (an auto-approved fulfilment)."""
        for job in await self.store.jobs.of_request(request_id):
            if job.kind == kind and job.state == JobState.QUEUED:
                await self.runner.run_job(job.id)

    async def _current(self, job: Job, action: Action) -> AccessSnapshot | None:
        """The job's request if ``action`` may still move it; else the job is finished."""
        assert job.request_id is not None, "access jobs name their request"
        record = await self.store.access.snapshot(job.request_id)
        if record is None or not allows(action, record.request.state):
            await self.store.jobs.finish(job)
            return None
        return AccessSnapshot.of(record)

    # -- fulfil ---------------------------------------------------------------------------
    async def _fulfil(self, job: Job, _lease: JobLease) -> None:
        snap = await self._current(job, Action.FULFIL)
        if snap is None:
            return
        req = snap.request
        if is_identity_check(req.group_key):
            await self._vouched(job, snap)
            return
        try:
            target = self.targets.for_provider(req.provider)
            user = await target.connector.get_user(req.directory_user_id)
            group = DirectoryGroup(req.provider, req.provider_group_id, req.provider_group)
            change = await target.groups.add_to_group(user, group)
        except Unavailable as exc:
            if job.attempts >= self.settings.max_attempts:
                await self._give_up(job, snap, "unavailable")
                return
            await self.runner.retry_later(job, "unavailable", exc.retry_after)
            log.info("access_grant_retry", request_id=req.id, attempts=job.attempts)
            if job.attempts == 1:
                await self.notices.refresh(snap)
                await self.notices.tell(snap, Event.RETRYING)
            return
        except ConnectorError as exc:
            await self._give_up(job, snap, type(exc).__name__)
            return
        now = self.clock()
        until = now + timedelta(seconds=req.duration_seconds) if req.duration_seconds else None
        follow_up: list[NewJob] = []
        if until is not None:
            follow_up.append(access_job(JobKind.REVOKE, req.id, until))
            warn_at = until - self.settings.warn_before_end
            if warn_at > now:
                follow_up.append(access_job(JobKind.WARN, req.id, warn_at))
        approved_by = ", ".join(snap.approved_by) or req.decided_by or ""
        audit = self.trail.record(
            req.decided_by or req.requester, None, "access_grant", "success", req,
            {"change": change.value, "approved_by": approved_by,
             "until": until.isoformat() if until else ""},
            target=user,
        )
        if await self.store.access.transition(
            req.id, TRANSITIONS[Action.FULFIL], now, audit, job=job, follow_up=follow_up,
            values={"fulfilled_at": now, "access_until": until},
        ):
            self.trail.log(audit)
            await self.notices.moved(req.id, Event.FULFILLED)

    async def _vouched(self, job: Job, snap: AccessSnapshot) -> None:
        """An identity check approved: nothing to change in the directory; the employee may
        now go ahead with the change it was for (``actions.verification.approval``)."""
        req = snap.request
        now = self.clock()
        audit = self.trail.record(
            req.decided_by or req.requester, None, "verification_approved", "success", req,
            {"approved_by": ", ".join(snap.approved_by)},
        )
        if await self.store.access.transition(
            req.id, TRANSITIONS[Action.FULFIL], now, audit, job=job, values={"fulfilled_at": now}
        ):
            self.trail.log(audit)
            await self.notices.moved(req.id, Event.FULFILLED)

    async def _give_up(self, job: Job, snap: AccessSnapshot, reason: str) -> None:
        req = snap.request
        audit = self.trail.record(
            req.decided_by or req.requester, None, "access_grant", "failed", req,
            {"reason": reason, "attempts": job.attempts},
        )
        if await self.store.access.transition(
            req.id, TRANSITIONS[Action.FAIL], self.clock(), audit, job=job,
            job_state=JobState.DEAD, values={"reason": reason},
        ):
            self.trail.log(audit)
            await self.notices.moved(req.id, Event.FAILED)

    # -- remind, expire, warn ---------------------------------------------------------------
    async def _remind(self, job: Job, _lease: JobLease) -> None:
        snap = await self._current(job, Action.APPROVE)
        if snap is None:
            return
        reminded = await self.notices.remind(snap)
        await self.notices.tell(snap, Event.REMINDED)
        await self.trail.note(snap, "access_remind", {"approver_messages": reminded})
        following = job.run_at + self.settings.remind_after
        if following < snap.request.expires_at:
            await self.store.jobs.retry(job, following, "", reset_attempts=True)

    async def _expire(self, job: Job, _lease: JobLease) -> None:
        snap = await self._current(job, Action.EXPIRE)
        if snap is None:
            return
        if snap.request.expires_at > self.clock():
            # Clocks of replicas differ a little: come back when it is really due.
            await self.store.jobs.retry(job, snap.request.expires_at, "early")
            return
        await self.expire_now(snap.request.id)

    async def expire_now(self, request_id: str) -> None:
        """Expire a request whose time is up (a job, or a click that came too late)."""
        req = (await self.notices.snapshot(request_id)).request
        move = TRANSITIONS[Action.EXPIRE]
        now = self.clock()
        audit = self.trail.record(SYSTEM, None, "access_expire", move.target, req, {})
        if await self.store.access.transition(request_id, move, now, audit, lapsed=True,
                                              values={"decided_at": now}):
            self.trail.log_step(SYSTEM, "access_expire", move.target, req)
            await self.notices.moved(request_id, Event.EXPIRED)

    async def _warn(self, job: Job, _lease: JobLease) -> None:
        # Access that can still be revoked is access the requester still has.
        snap = await self._current(job, Action.REVOKE)
        if snap is None:
            return
        await self.notices.tell(snap, Event.ENDING_SOON)
        await self.trail.note(snap, "access_warn",
                              {"access_until": str(snap.request.access_until)})

    # -- revoke -----------------------------------------------------------------------------
    async def _revoke(self, job: Job, _lease: JobLease) -> None:
        snap = await self._current(job, Action.REVOKE)
        if snap is None:
            return
        req = snap.request
        detail: dict[str, Any] = {}
        user: DirectoryUser | None = None
        try:
            target = self.targets.for_provider(req.provider)
            user = await target.connector.get_user(req.directory_user_id)
            group = DirectoryGroup(req.provider, req.provider_group_id, req.provider_group)
            detail["change"] = (await target.groups.remove_from_group(user, group)).value
        except Unavailable as exc:
            # Removing access must not be given up on: retry, capped, for as long as it takes.
            await self.runner.retry_later(job, "unavailable", exc.retry_after)
            log.warning("access_revoke_retry", request_id=req.id, attempts=job.attempts)
            return
        except (UserNotFound, GroupNotFound) as exc:
            detail["change"] = f"gone ({type(exc).__name__})"
        except ConnectorError as exc:
            await self.trail.write(self.trail.record(
                req.requester, req.requester_email, "access_revoke", "failed", req,
                {"reason": type(exc).__name__},
            ))
            await self.store.jobs.finish(job, JobState.DEAD, type(exc).__name__)
            await self.notices.security(
                f"Time-bound access could not be removed: <@{req.requester}> "
                f"({req.requester_email}) is still in {req.group_name} ({req.provider}: "
                f"{type(exc).__name__}). Please remove it by hand."
            )
            return
        audit = self.trail.record(req.requester, req.requester_email, "access_revoke",
                                  "success", req, detail, target=user)
        now = self.clock()
        if await self.store.access.transition(req.id, TRANSITIONS[Action.REVOKE], now, audit,
                                              job=job, values={"revoked_at": now}):
            self.trail.log(audit)
            await self.notices.moved(req.id, Event.REVOKED)
