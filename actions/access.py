"""Group access requests, free of Slack: request, decide, cancel, and the durable jobs.

A request is a row in the store that moves through ``pending → approved →
fulfilled → revoked`` (or ends ``denied``, ``expired``, ``cancelled``,
``failed``). Every move is one conditional transaction with its audit record
(``AccessStore``), so a double click, a redelivery, two approvers at once or
two replicas produce one decision and one group add.

The group add and everything time-driven are jobs in the store (``fulfil``,
``remind``, ``expire``, ``warn``, ``revoke``), claimed under a lease by
``run_job``: the click that approves runs its fulfilment at once, and the
``worker`` loop of every replica picks up whatever is due, including work a
crashed replica left behind and retries while the directory is down.

Messages go out through two ports: ``AccessNotifier`` (approval messages,
updates in place, reminders, news for the requester) and ``PeopleDirectory``
(Slack user groups and users by email). Business refusals are ``Refusal``;
anything else is a bug and propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from actions.audit import Actor, correlation_id
from actions.errors import Refusal, connector_call, protections_that_count, unavailable
from actions.providers import Providers
from config.logging import get_logger, scrub_text
from config.settings import CatalogueEntry, HelpdeskConfig, approver_kind
from connectors.base import (
    Capability,
    Directory,
    DirectoryGroup,
    DirectoryUser,
    GroupManager,
)
from connectors.errors import (
    ConnectorError,
    GroupNotFound,
    Unavailable,
    UserNotFound,
)
from store.db import AccessSnapshot, Store
from store.models import AccessMessage, AccessRequest, AuditRecord, Job

log = get_logger("helpdesk.access")
audit_log = get_logger("helpdesk.audit")

class Event(enum.StrEnum):
    """News for the requester about their request."""

    APPROVAL_RECORDED = "approval_recorded"
    FULFILLED = "fulfilled"
    DENIED = "denied"
    EXPIRED = "expired"
    REMINDED = "reminded"
    RETRYING = "retrying"
    FAILED = "failed"
    ENDING_SOON = "ending_soon"
    REVOKED = "revoked"


@dataclass(frozen=True)
class MessageRef:
    """Where a posted message lives, so it can be updated in place."""

    channel: str
    ts: str


class AccessNotifier(Protocol):
    async def post_request(self, snapshot: AccessSnapshot, destination: str) -> MessageRef:
        """Post the approval request, with Approve and Deny, to a user's DM or a channel."""
        ...

    async def update_request(self, snapshot: AccessSnapshot, ref: MessageRef) -> None:
        """Replace an approval message with the request's current state."""
        ...

    async def remind(
        self, snapshot: AccessSnapshot, ref: MessageRef, recipient: str | None
    ) -> None:
        """Remind an approver (``recipient``) or a channel (``None``) of a waiting request."""
        ...

    async def tell_requester(self, snapshot: AccessSnapshot, event: Event) -> None:
        """Tell the requester what happened to their request."""
        ...

    async def security_notice(self, text: str) -> None:
        """Tell the security team about something a person must look at."""
        ...


class PeopleDirectory(Protocol):
    async def usergroup_members(self, usergroup: str) -> list[str]:
        """Slack user ids in a user group (``S123`` or ``@handle``); empty if unknown."""
        ...

    async def user_for_email(self, email: str) -> str | None:
        """The active Slack user with this email, if any."""
        ...


class DecisionOutcome(enum.StrEnum):
    APPROVED = "approved"  # this vote completed the approvals; fulfilment has run or is queued
    RECORDED = "recorded"  # counted; more approvals are needed
    DENIED = "denied"
    CANCELLED = "cancelled"
    ALREADY_VOTED = "already_voted"
    ALREADY_DECIDED = "already_decided"  # decided, expired or cancelled before this click
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Decision:
    """What one click did; ``snapshot`` is the request as it now stands (None if unknown)."""

    outcome: DecisionOutcome
    snapshot: AccessSnapshot | None = None


@dataclass(frozen=True)
class Prepared:
    """A request the employee may make, checked but not yet made.

    ``existing`` is set when they already have a pending or approved request for
    the group; ``already_member`` when there is nothing to request.
    """

    entry: CatalogueEntry
    label: str
    existing: AccessSnapshot | None = None
    already_member: bool = False
    durations: tuple[timedelta, ...] = ()


@dataclass(frozen=True)
class Submitted:
    """A request made (``created``) or the open one found instead; who was asked."""

    snapshot: AccessSnapshot
    created: bool
    notified: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Approvers:
    deciders: frozenset[str]
    direct: tuple[str, ...]  # users who get a DM
    channels: tuple[str, ...]


@dataclass
class _GroupTarget:
    connector: Directory
    groups: GroupManager
    label: str


REQUEST_ID_LENGTH = 16


def is_request_id(value: str) -> bool:
    """Whether ``value`` has the shape of a request id (button values are checked first)."""
    return len(value) == REQUEST_ID_LENGTH and all(c.isalnum() or c in "-_" for c in value)


class AccessService:
    """Group access requests for one deployment; one instance per process."""

    def __init__(
        self,
        cfg: HelpdeskConfig,
        providers: Providers,
        store: Store,
        notifier: AccessNotifier,
        people: PeopleDirectory,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        owner: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.settings = cfg.access
        self.providers = providers
        self.store = store
        self.notifier = notifier
        self.people = people
        self.clock = clock
        # The lease owner: unique per process, readable in the jobs table.
        self.owner = owner or f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.catalogue: dict[str, CatalogueEntry] = {e.key: e for e in cfg.catalogue}
        self._wake = asyncio.Event()
        self._backlog = False
        self._handlers: dict[str, Callable[[Job], Awaitable[None]]] = {
            "fulfil": self._fulfil,
            "remind": self._remind,
            "expire": self._expire,
            "warn": self._warn,
            "revoke": self._revoke,
        }

    # -- catalogue ------------------------------------------------------------------
    @property
    def offered(self) -> bool:
        """Whether requests can be made at all: a catalogue and a groups connector."""
        return bool(self.catalogue) and any(
            self._target_or_none(e) is not None for e in self.catalogue.values()
        )

    def durations_for(self, entry: CatalogueEntry) -> tuple[timedelta, ...]:
        """The durations offered for a time-bound group, shortest first; empty if not bound."""
        if entry.max_duration is None:
            return ()
        shorter = {d for d in self.settings.durations if d < entry.max_duration}
        return tuple(sorted(shorter | {entry.max_duration}))

    def _where_to_go(self) -> str:
        org = self.cfg.organisation
        where = f"{org.it_contact} in {org.it_channel}"
        return f"{where} ({org.it_portal_url})" if org.it_portal_url else where

    def _target_or_none(self, entry: CatalogueEntry) -> _GroupTarget | None:
        name = entry.provider or self.providers.routes.get(Capability.GROUPS)
        conn = self.providers.connectors.get(name or "")
        if conn is None or Capability.GROUPS not in conn.capabilities:
            return None
        return _GroupTarget(conn, cast(GroupManager, conn), self.providers.label(conn))

    def _target(self, entry: CatalogueEntry) -> _GroupTarget:
        target = self._target_or_none(entry)
        if target is None:
            raise Refusal(
                "not_available",
                f"I can't handle requests for {entry.display_name} here. "
                f"Please ask {self._where_to_go()}.",
            )
        return target

    def _entry(self, key: str) -> CatalogueEntry:
        entry = self.catalogue.get(key)
        if entry is None:
            raise Refusal(
                "not_requestable",
                "That group can't be requested here. "
                f"Please ask {self._where_to_go()}.",
            )
        return entry

    # -- requesting -------------------------------------------------------------------
    async def prepare(self, actor: Actor, key: str) -> Prepared:
        """Check a request before the employee confirms it; ``Refusal`` when it can't be made."""
        entry = self._entry(key)
        existing = await self.store.access.open_request(actor.slack_user_id, key)
        if existing is not None:
            snap = await self.store.access.snapshot(existing.id)
            if snap is not None:
                return Prepared(entry, self._target(entry).label, existing=snap)
        target = self._target(entry)
        user, group = await self._resolve(actor, entry, target)
        if await self._call(target, target.groups.is_member(user, group)):
            return Prepared(entry, target.label, already_member=True)
        return Prepared(entry, target.label, durations=self.durations_for(entry))

    async def submit(
        self,
        actor: Actor,
        key: str,
        justification: str = "",
        duration: timedelta | None = None,
    ) -> Submitted:
        """Make the request, ask its approvers, and (auto-approved) fulfil it.

        Refusals: not requestable, already a member, missing justification, a
        duration not offered, not enough approvers. An open request for the same
        group is returned instead of a new one (``created`` False).
        """
        entry = self._entry(key)
        target = self._target(entry)
        justification = " ".join(justification.split())
        if entry.justification_required and (
            len(justification) < self.settings.justification_min_length
        ):
            raise Refusal(
                "justification_required",
                f"Please say why you need {entry.display_name} "
                f"(at least {self.settings.justification_min_length} characters).",
            )
        offered = self.durations_for(entry)
        if offered and duration not in offered:
            raise Refusal(
                "duration_required", f"Please choose how long you need {entry.display_name}."
            )
        if not offered:
            duration = None
        existing = await self.store.access.open_request(actor.slack_user_id, key)
        if existing is not None:
            snap = await self.store.access.snapshot(existing.id)
            if snap is not None:
                return Submitted(snap, created=False)
        user, group = await self._resolve(actor, entry, target)
        if await self._call(target, target.groups.is_member(user, group)):
            raise Refusal("already_member", f"You're already a member of {entry.display_name}.")
        approvers = await self._approvers(entry, user, target)
        eligible = approvers.deciders - {actor.slack_user_id}
        if not entry.auto_approve and len(eligible) < entry.approvals_required:
            await self._audit_refusal(actor, "access_request", "no_approvers", entry, user)
            raise Refusal(
                "no_approvers",
                f"I couldn't find enough approvers for {entry.display_name}, so I didn't send "
                f"the request. Please ask {self._where_to_go()}.",
            )
        now = self.clock()
        row = AccessRequest(
            id=secrets.token_urlsafe(12),
            requester=actor.slack_user_id,
            requester_email=actor.email,
            directory_user_id=user.id,
            group_key=entry.key,
            group_name=entry.display_name,
            provider=target.connector.name,
            provider_group=group.name,
            provider_group_id=group.id,
            justification=justification or None,
            duration_seconds=int(duration.total_seconds()) if duration else None,
            state="approved" if entry.auto_approve else "pending",
            approvals_required=entry.approvals_required,
            approvals=0,
            channels=list(approvers.channels),
            decided_by=actor.slack_user_id if entry.auto_approve else None,
            decided_at=now if entry.auto_approve else None,
            correlation_id=correlation_id(),
            created_at=now,
            updated_at=now,
            expires_at=now + self.settings.request_ttl,
        )
        jobs: list[tuple[str, datetime]] = []
        if entry.auto_approve:
            jobs.append(("fulfil", now))
        else:
            if self.settings.remind_after < self.settings.request_ttl:
                jobs.append(("remind", now + self.settings.remind_after))
            jobs.append(("expire", row.expires_at))
        result = "auto_approved" if entry.auto_approve else "submitted"
        audit = self._record(
            actor.slack_user_id, actor.email, "access_request", result, row,
            {"approvers": len(eligible), "duration": _seconds(duration)},
        )
        if not await self.store.access.create(row, sorted(approvers.deciders), jobs, audit):
            # Another click or replica made it a moment ago: point to that one.
            again = await self.store.access.open_request(actor.slack_user_id, key)
            snap = await self.store.access.snapshot(again.id) if again else None
            if snap is None:
                raise Refusal("busy", "Something changed meanwhile; please try again.")
            return Submitted(snap, created=False)
        self._log_audit(audit)
        snap = await self._snapshot(row.id)
        notified: list[str] = []
        if entry.auto_approve:
            await self._run_kind(row.id, "fulfil")
            snap = await self._snapshot(row.id)
        else:
            notified = await self._ask(snap, approvers)
        return Submitted(snap, created=True, notified=tuple(notified))

    async def _resolve(
        self, actor: Actor, entry: CatalogueEntry, target: _GroupTarget
    ) -> tuple[DirectoryUser, DirectoryGroup]:
        try:
            user = await target.connector.find_user_by_email(actor.email)
        except UserNotFound:
            raise Refusal(
                "unknown_user",
                f"I couldn't find an account for {actor.email} in {target.label}. "
                f"Please contact {self._where_to_go()}.",
            ) from None
        except Unavailable:
            raise self._unavailable(target.label) from None
        found = await self._call(
            target, target.connector.protections(user, self.cfg.protected.groups)
        )
        if protections_that_count(found, self.cfg.protected.refuse_admin_roles):
            await self._audit_refusal(actor, "access_request", "protected", entry, user)
            raise Refusal(
                "protected",
                "Your account has elevated access, so I won't change its groups from chat. "
                f"A person from IT will help: please ask {self._where_to_go()}.",
            )
        try:
            group = await target.groups.find_group(entry.provider_group)
        except GroupNotFound:
            log.warning("catalogue_group_missing", group=entry.key, provider=target.connector.name)
            raise Refusal(
                "group_missing",
                f"{entry.display_name} isn't set up correctly in {target.label}. "
                f"Please ask {self._where_to_go()}.",
            ) from None
        except Unavailable:
            raise self._unavailable(target.label) from None
        return user, group

    async def _call(self, target: _GroupTarget, pending: Awaitable[Any]) -> Any:
        async with connector_call(target.label, self._where_to_go(), catch=Unavailable):
            return await pending

    def _unavailable(self, label: str) -> Refusal:
        return unavailable(label)

    async def _approvers(
        self, entry: CatalogueEntry, user: DirectoryUser, target: _GroupTarget
    ) -> _Approvers:
        """Resolve the entry's approvers to Slack users and channels, now, for this request."""
        deciders: set[str] = set()
        direct: list[str] = []
        channels: list[str] = []
        for item in entry.approvers:
            kind = approver_kind(item)
            if kind == "user":
                deciders.add(item)
                direct.append(item)
            elif kind == "usergroup":
                members = await self.people.usergroup_members(item)
                if not members:
                    log.warning("approver_group_empty", group=entry.key, usergroup=item)
                deciders.update(members)
                if not entry.approvers_of("channel"):
                    direct.extend(members)
            elif kind == "manager":
                manager = await self._manager(user, target)
                if manager is not None:
                    deciders.add(manager)
                    direct.append(manager)
            else:
                channels.append(item)
        return _Approvers(frozenset(deciders), tuple(dict.fromkeys(direct)), tuple(channels))

    async def _manager(self, user: DirectoryUser, target: _GroupTarget) -> str | None:
        """The requester's manager in Slack, from the first manager attribute that is set."""
        attributes = user.attributes
        value = next(
            (attributes[a] for a in self.settings.manager_attributes if attributes.get(a)), None
        )
        if not value:
            log.info("manager_unknown", reason="no manager attribute", user_id=user.id)
            return None
        email = value if "@" in value else None
        if email is None:
            try:
                email = (await target.connector.get_user(value)).email
            except (UserNotFound, Unavailable):
                log.info("manager_unknown", reason="manager not found", user_id=user.id)
                return None
            except ConnectorError:
                # Some directories hold a reference the connector can't look up (an AD DN).
                log.info("manager_unknown", reason="unresolvable reference", user_id=user.id)
                return None
        return await self.people.user_for_email(email)

    async def _ask(self, snap: AccessSnapshot, approvers: _Approvers) -> list[str]:
        """Post the approval message to every destination; remember each one to update it."""
        requester = snap.request.requester
        destinations = [d for d in approvers.direct if d != requester] + list(approvers.channels)

        async def post(destination: str) -> str | None:
            try:
                ref = await self.notifier.post_request(snap, destination)
            except Exception as exc:
                log.warning("approval_message_failed", request_id=snap.request.id,
                            destination=destination, error=type(exc).__name__)
                return None
            recipient = None if approver_kind(destination) == "channel" else destination
            await self.store.access.add_message(
                snap.request.id, "approver", recipient, ref.channel, ref.ts
            )
            # A channel is named by the id it was posted to, so it renders as a link.
            return destination if recipient else ref.channel

        posted = await asyncio.gather(*(post(d) for d in destinations))
        return [d for d in posted if d is not None]

    # -- deciding -------------------------------------------------------------------
    async def authorise(self, actor: Actor, request_id: str) -> AccessSnapshot | None:
        """Check ``actor`` may decide this request (before showing the deny form).

        ``None`` for an unknown request; ``Refusal`` for someone who is not an
        approver, or for the requester themselves.
        """
        snap = await self.store.access.snapshot(request_id) if is_request_id(request_id) else None
        if snap is None:
            return None
        who = actor.slack_user_id
        if who not in snap.approvers and who != snap.request.requester:
            await self._decision_refused(actor, snap, "not_approver")
            raise Refusal("not_approver", "You are not an approver for this group.")
        if actor.slack_user_id == snap.request.requester:
            await self._decision_refused(actor, snap, "own_request")
            raise Refusal(
                "own_request",
                "You can't approve or deny your own request; another approver will. "
                "You can cancel it while it's pending.",
            )
        return snap

    async def decide(
        self, actor: Actor, request_id: str, approve: bool, reason: str = ""
    ) -> Decision:
        """An approver's click: approve, or deny with a reason. ``Refusal`` for non-approvers."""
        snap = await self.authorise(actor, request_id)
        if snap is None:
            return Decision(DecisionOutcome.UNKNOWN)
        req = snap.request
        now = self.clock()
        if req.state == "pending" and req.expires_at <= now:
            await self._expire_now(req.id)
            return Decision(DecisionOutcome.ALREADY_DECIDED, await self._snapshot(req.id))
        if req.state != "pending":
            return Decision(DecisionOutcome.ALREADY_DECIDED, snap)
        if snap.has_voted(actor.slack_user_id):
            return Decision(DecisionOutcome.ALREADY_VOTED, snap)
        action = "access_approve" if approve else "access_deny"
        detail: dict[str, Any] = {} if approve else {"reason": reason}
        factory = self._factory(actor, action, req, detail)
        if approve:
            vote = await self.store.access.approve(req.id, actor.slack_user_id, now, factory)
        else:
            vote = await self.store.access.deny(req.id, actor.slack_user_id, reason, now, factory)
        if vote.outcome == "duplicate":
            return Decision(DecisionOutcome.ALREADY_VOTED, await self._snapshot(req.id))
        if vote.outcome == "not_pending":
            return Decision(DecisionOutcome.ALREADY_DECIDED, await self._snapshot(req.id))
        self._log_decision(actor, action, vote.outcome, req)
        if vote.outcome in ("recorded", "denied"):
            fresh = await self._snapshot(req.id)
            await self._refresh(fresh)
            if vote.outcome == "recorded":
                await self._tell(fresh, Event.APPROVAL_RECORDED)
                return Decision(DecisionOutcome.RECORDED, fresh)
            await self._tell(fresh, Event.DENIED)
            return Decision(DecisionOutcome.DENIED, fresh)
        # Approved: the fulfilment job was written with the approval; run it now. If this
        # process dies first, the worker of any replica picks it up when its lease is free.
        if vote.job_id is not None:
            await self.run_job(vote.job_id)
        return Decision(DecisionOutcome.APPROVED, await self._snapshot(req.id))

    async def cancel(self, actor: Actor, request_id: str) -> Decision:
        """The requester withdraws their pending request."""
        snap = await self.store.access.snapshot(request_id) if is_request_id(request_id) else None
        if snap is None or snap.request.requester != actor.slack_user_id:
            return Decision(DecisionOutcome.UNKNOWN)
        factory = self._factory(actor, "access_cancel", snap.request, {})
        now = self.clock()
        if not await self.store.access.cancel(request_id, actor.slack_user_id, now, factory):
            return Decision(DecisionOutcome.ALREADY_DECIDED, await self._snapshot(request_id))
        self._log_decision(actor, "access_cancel", "cancelled", snap.request)
        fresh = await self._snapshot(request_id)
        await self._refresh(fresh)
        return Decision(DecisionOutcome.CANCELLED, fresh)

    async def my_requests(self, actor: Actor, limit: int = 10) -> list[AccessRequest]:
        return await self.store.access.requests_of(actor.slack_user_id, limit)

    async def waiting_for_me(self, actor: Actor, limit: int = 20) -> list[AccessRequest]:
        return await self.store.access.waiting_for(actor.slack_user_id, self.clock(), limit)

    async def snapshot(self, request_id: str) -> AccessSnapshot | None:
        if not is_request_id(request_id):
            return None
        return await self.store.access.snapshot(request_id)

    # -- jobs -------------------------------------------------------------------------
    async def worker(self) -> None:
        """Run due jobs until cancelled: every ``poll_interval``, or at once when woken."""
        interval = self.settings.poll_interval.total_seconds()
        while True:
            try:
                await self.run_due_jobs()
            except Exception as exc:
                self._backlog = False  # the store is failing: wait before the next round
                log.warning("access_worker_round_failed", error=type(exc).__name__)
            if self._backlog:
                continue  # a full round: more may be due already (a burst of expiries)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    async def run_due_jobs(self, limit: int = 50, concurrency: int = 8) -> int:
        """Claim and run every due job (up to ``limit``); how many this process ran."""
        ids = await self.store.access.due_jobs(self.clock(), limit)
        self._backlog = len(ids) >= limit
        slots = asyncio.Semaphore(concurrency)

        async def one(job_id: int) -> bool:
            async with slots:
                return await self.run_job(job_id)

        return sum(await asyncio.gather(*(one(i) for i in ids)))

    async def run_job(self, job_id: int) -> bool:
        """Claim one job and run it; ``False`` when another worker holds it or it isn't due."""
        job = await self.store.access.claim_job(
            job_id, self.owner, self.clock(), self.settings.lease
        )
        if job is None:
            return False
        handler = self._handlers.get(job.kind)
        if handler is None:
            log.error("access_job_unknown_kind", job_id=job.id, kind=job.kind)
            await self.store.access.finish_job(job, self.clock(), "dead")
            return True
        keeper = asyncio.create_task(self._keep_lease(job))
        try:
            await handler(job)
        except Exception as exc:
            # A bug or an unexpected failure: log it and try again later, a bounded
            # number of times, rather than lose the work.
            log.error("access_job_crashed", job_id=job.id, kind=job.kind,
                      error=type(exc).__name__, detail=scrub_text(str(exc))[:300])
            if job.attempts >= self.settings.max_attempts:
                await self.store.access.finish_job(job, self.clock(), "dead")
            else:
                await self.store.access.retry_job(
                    job, self.clock() + self._backoff(job), type(exc).__name__
                )
        finally:
            keeper.cancel()
        return True

    async def _keep_lease(self, job: Job) -> None:
        """Renew the lease while the job runs, so a slow directory call isn't taken over."""
        every = self.settings.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            try:
                if not await self.store.access.renew_lease(job, self.clock() + self.settings.lease):
                    return
            except Exception as exc:
                log.warning("lease_renewal_failed", job_id=job.id, error=type(exc).__name__)

    async def _run_kind(self, request_id: str, kind: str) -> None:
        for job in await self.store.access.jobs_of(request_id):
            if job.kind == kind and job.state == "queued":
                await self.run_job(job.id)

    def _backoff(self, job: Job, hint: float | None = None) -> timedelta:
        base: timedelta = self.settings.retry_after * (2 ** max(0, job.attempts - 1))
        delay: timedelta = min(base, self.settings.retry_max)
        if hint is not None:
            delay = max(delay, timedelta(seconds=hint))
        return delay

    async def _fulfil(self, job: Job) -> None:
        snap = await self.store.access.snapshot(job.request_id)
        if snap is None or snap.request.state != "approved":
            await self.store.access.finish_job(job, self.clock())
            return
        req = snap.request
        try:
            target = self._target_for_provider(req.provider)
            user = await target.connector.get_user(req.directory_user_id)
            group = DirectoryGroup(req.provider, req.provider_group_id, req.provider_group)
            change = await target.groups.add_to_group(user, group)
        except Unavailable as exc:
            if job.attempts >= self.settings.max_attempts:
                await self._give_up(job, snap, "unavailable")
                return
            await self.store.access.retry_job(
                job, self.clock() + self._backoff(job, exc.retry_after), "unavailable"
            )
            log.info("access_grant_retry", request_id=req.id, attempts=job.attempts)
            if job.attempts == 1:
                await self._refresh(snap)
                await self._tell(snap, Event.RETRYING)
            return
        except ConnectorError as exc:
            await self._give_up(job, snap, type(exc).__name__)
            return
        now = self.clock()
        until = now + timedelta(seconds=req.duration_seconds) if req.duration_seconds else None
        follow_up: list[tuple[str, datetime]] = []
        if until is not None:
            follow_up.append(("revoke", until))
            warn_at = until - self.settings.warn_before_end
            if warn_at > now:
                follow_up.append(("warn", warn_at))
        approved_by = ", ".join(snap.approved_by) or req.decided_by or ""
        audit = self._record(
            req.decided_by or req.requester, None, "access_grant", "success", req,
            {"change": change.value, "approved_by": approved_by,
             "until": until.isoformat() if until else ""},
            target=user,
        )
        if await self.store.access.fulfil(req.id, job, now, until, follow_up, audit):
            self._log_audit(audit)
            fresh = await self._snapshot(req.id)
            await self._refresh(fresh)
            await self._tell(fresh, Event.FULFILLED)

    async def _give_up(self, job: Job, snap: AccessSnapshot, reason: str) -> None:
        req = snap.request
        audit = self._record(
            req.decided_by or req.requester, None, "access_grant", "failed", req,
            {"reason": reason, "attempts": job.attempts},
        )
        if await self.store.access.fail(req.id, job, self.clock(), reason, audit):
            self._log_audit(audit)
            fresh = await self._snapshot(req.id)
            await self._refresh(fresh)
            await self._tell(fresh, Event.FAILED)

    async def _remind(self, job: Job) -> None:
        snap = await self.store.access.snapshot(job.request_id)
        if snap is None or snap.request.state != "pending":
            await self.store.access.finish_job(job, self.clock())
            return
        refs = await self.store.access.messages(job.request_id)
        waiting = [
            m for m in refs
            if m.role == "approver" and (m.recipient is None or not snap.has_voted(m.recipient))
        ]
        await asyncio.gather(*(self._remind_one(snap, m) for m in waiting))
        await self._tell(snap, Event.REMINDED)
        await self._note(snap, "access_remind", {"approver_messages": len(waiting)})
        following = job.run_at + self.settings.remind_after
        if following < snap.request.expires_at:
            await self.store.access.retry_job(job, following, "", reset_attempts=True)
        else:
            await self.store.access.finish_job(job, self.clock())

    async def _remind_one(self, snap: AccessSnapshot, message: AccessMessage) -> None:
        try:
            await self.notifier.remind(snap, MessageRef(message.channel, message.ts),
                                       message.recipient)
        except Exception as exc:
            log.warning("reminder_failed", request_id=snap.request.id, error=type(exc).__name__)

    async def _expire(self, job: Job) -> None:
        snap = await self.store.access.snapshot(job.request_id)
        if snap is not None and snap.request.state == "pending":
            if snap.request.expires_at > self.clock():
                # Clocks of replicas differ a little: come back when it is really due.
                await self.store.access.retry_job(job, snap.request.expires_at, "early")
                return
            await self._expire_now(snap.request.id)
        await self.store.access.finish_job(job, self.clock())

    async def _expire_now(self, request_id: str) -> None:
        snap = await self._snapshot(request_id)
        req = snap.request
        factory = self._factory(None, "access_expire", req, {})
        if await self.store.access.expire(request_id, self.clock(), factory):
            audit_log.info(
                "audit", actor="system", action="access_expire", result="expired",
                provider=req.provider, target_user_id=req.directory_user_id,
                correlation_id=req.correlation_id,
                detail={"request_id": req.id, "group": req.group_key},
            )
            fresh = await self._snapshot(request_id)
            await self._refresh(fresh)
            await self._tell(fresh, Event.EXPIRED)

    async def _warn(self, job: Job) -> None:
        snap = await self.store.access.snapshot(job.request_id)
        if snap is not None and snap.request.state == "fulfilled":
            await self._tell(snap, Event.ENDING_SOON)
            await self._note(snap, "access_warn", {"access_until": str(snap.request.access_until)})
        await self.store.access.finish_job(job, self.clock())

    async def _note(self, snap: AccessSnapshot, action: str, detail: dict[str, Any]) -> None:
        """Audit a step the system took on its own (a reminder, a warning)."""
        audit = self._record("system", None, action, "sent", snap.request, detail)
        await self.store.add_audit(audit)
        self._log_audit(audit)

    async def _revoke(self, job: Job) -> None:
        snap = await self.store.access.snapshot(job.request_id)
        if snap is None or snap.request.state != "fulfilled":
            await self.store.access.finish_job(job, self.clock())
            return
        req = snap.request
        detail: dict[str, Any] = {}
        user: DirectoryUser | None = None
        try:
            target = self._target_for_provider(req.provider)
            user = await target.connector.get_user(req.directory_user_id)
            group = DirectoryGroup(req.provider, req.provider_group_id, req.provider_group)
            detail["change"] = (await target.groups.remove_from_group(user, group)).value
        except Unavailable as exc:
            # Removing access must not be given up on: retry, capped, for as long as it takes.
            await self.store.access.retry_job(
                job, self.clock() + self._backoff(job, exc.retry_after), "unavailable"
            )
            log.warning("access_revoke_retry", request_id=req.id, attempts=job.attempts)
            return
        except (UserNotFound, GroupNotFound) as exc:
            detail["change"] = f"gone ({type(exc).__name__})"
        except ConnectorError as exc:
            audit = self._record(req.requester, req.requester_email, "access_revoke", "failed",
                                 req, {"reason": type(exc).__name__})
            await self.store.add_audit(audit)
            self._log_audit(audit)
            await self.store.access.finish_job(job, self.clock(), "dead")
            await self._security(
                f"Time-bound access could not be removed: <@{req.requester}> "
                f"({req.requester_email}) is still in {req.group_name} ({req.provider}: "
                f"{type(exc).__name__}). Please remove it by hand."
            )
            return
        audit = self._record(req.requester, req.requester_email, "access_revoke", "success",
                             req, detail, target=user)
        if await self.store.access.revoke(req.id, job, self.clock(), audit):
            self._log_audit(audit)
            fresh = await self._snapshot(req.id)
            await self._refresh(fresh)
            await self._tell(fresh, Event.REVOKED)

    def _target_for_provider(self, provider: str) -> _GroupTarget:
        conn = self.providers.connectors.get(provider)
        if conn is None or Capability.GROUPS not in conn.capabilities:
            raise GroupNotFound(provider, "no groups connector of that name is configured")
        return _GroupTarget(conn, cast(GroupManager, conn), self.providers.label(conn))

    # -- messages ---------------------------------------------------------------------
    async def _snapshot(self, request_id: str) -> AccessSnapshot:
        snap = await self.store.access.snapshot(request_id)
        assert snap is not None, "requests are never deleted"
        return snap

    async def _refresh(self, snap: AccessSnapshot) -> None:
        """Update every approval message of the request in place to show its state.

        Two transitions close together (a vote, then the approval that completes it,
        perhaps on another replica) refresh concurrently, and the older picture may
        reach Slack last. So after updating, the request is read again and, if it
        moved on meanwhile, the messages are updated again: the last refresher
        always leaves the latest state on screen.
        """
        messages = await self.store.access.messages(snap.request.id)
        refs = [m for m in messages if m.role == "approver"]
        if not refs:
            return

        async def one(current: AccessSnapshot, message: AccessMessage) -> None:
            try:
                await self.notifier.update_request(
                    current, MessageRef(message.channel, message.ts)
                )
            except Exception as exc:
                log.warning("approval_update_failed", request_id=snap.request.id,
                            error=type(exc).__name__)

        for _ in range(3):
            await asyncio.gather(*(one(snap, m) for m in refs))
            fresh = await self._snapshot(snap.request.id)
            if _picture(fresh) == _picture(snap):
                return
            snap = fresh

    async def _tell(self, snap: AccessSnapshot, event: Event) -> None:
        try:
            await self.notifier.tell_requester(snap, event)
        except Exception as exc:
            log.warning("requester_message_failed", request_id=snap.request.id,
                        event=event.value, error=type(exc).__name__)

    async def _security(self, text: str) -> None:
        try:
            await self.notifier.security_notice(text)
        except Exception as exc:
            log.warning("security_notice_failed", error=type(exc).__name__)

    # -- audit ------------------------------------------------------------------------
    def _record(
        self,
        actor: str,
        actor_email: str | None,
        action: str,
        result: str,
        req: AccessRequest,
        detail: dict[str, Any],
        *,
        target: DirectoryUser | None = None,
    ) -> AuditRecord:
        clean = {k: scrub_text(str(v)) for k, v in detail.items()}
        clean.update(request_id=req.id, group=req.group_key)
        return AuditRecord(
            at=self.clock(),
            correlation_id=req.correlation_id or correlation_id(),
            actor=actor,
            actor_email=actor_email,
            action=action,
            provider=req.provider,
            target_user_id=target.id if target else req.directory_user_id,
            target=target.email if target else req.requester_email,
            result=result,
            detail=clean,
        )

    def _factory(
        self, actor: Actor | None, action: str, req: AccessRequest, detail: dict[str, Any]
    ) -> Callable[[str, dict[str, Any]], AuditRecord]:
        def make(result: str, extra: dict[str, Any]) -> AuditRecord:
            return self._record(
                actor.slack_user_id if actor else "system", actor.email if actor else None,
                action, result, req, {**detail, **extra},
            )

        return make

    def _log_audit(self, record: AuditRecord) -> None:
        audit_log.info(
            "audit", actor=record.actor, action=record.action, result=record.result,
            provider=record.provider, target_user_id=record.target_user_id,
            correlation_id=record.correlation_id, detail=record.detail,
        )

    def _log_decision(self, actor: Actor, action: str, result: str, req: AccessRequest) -> None:
        audit_log.info(
            "audit", actor=actor.slack_user_id, action=action, result=result,
            provider=req.provider, target_user_id=req.directory_user_id,
            correlation_id=req.correlation_id,
            detail={"request_id": req.id, "group": req.group_key},
        )

    async def _decision_refused(self, actor: Actor, snap: AccessSnapshot, why: str) -> None:
        record = self._record(
            actor.slack_user_id, actor.email, "access_decide", "refused", snap.request,
            {"reason": why},
        )
        await self.store.add_audit(record)
        self._log_audit(record)

    async def _audit_refusal(
        self, actor: Actor, action: str, why: str, entry: CatalogueEntry, user: DirectoryUser
    ) -> None:
        record = AuditRecord(
            at=self.clock(), correlation_id=correlation_id(), actor=actor.slack_user_id,
            actor_email=actor.email, action=action, provider=user.provider,
            target_user_id=user.id, target=user.email, result="refused",
            detail={"reason": why, "group": entry.key},
        )
        await self.store.add_audit(record)
        self._log_audit(record)


def _picture(snap: AccessSnapshot) -> tuple[str, int, int]:
    """What an approval message shows, in short: state, approvals, votes."""
    return snap.request.state, snap.request.approvals, len(snap.decisions)


def _seconds(duration: timedelta | None) -> str:
    return str(int(duration.total_seconds())) if duration else ""


@dataclass
class NullAccessNotifier:
    """Records what would have been sent; where no chat surface is attached (the demo, tests)."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)

    async def post_request(self, snapshot: AccessSnapshot, destination: str) -> MessageRef:
        self.sent.append(("post", snapshot.request.id, destination))
        return MessageRef(destination, f"{len(self.sent)}.000000")

    async def update_request(self, snapshot: AccessSnapshot, ref: MessageRef) -> None:
        self.sent.append(("update", snapshot.request.id, snapshot.request.state))

    async def remind(
        self, snapshot: AccessSnapshot, ref: MessageRef, recipient: str | None
    ) -> None:
        self.sent.append(("remind", snapshot.request.id, recipient or ref.channel))

    async def tell_requester(self, snapshot: AccessSnapshot, event: Event) -> None:
        self.sent.append(("tell", snapshot.request.id, event.value))

    async def security_notice(self, text: str) -> None:
        self.sent.append(("security", "", text))


@dataclass
class StaticPeople:
    """A fixed user-group and email table (tests, the demo)."""

    groups: dict[str, list[str]] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)

    async def usergroup_members(self, usergroup: str) -> list[str]:
        return list(self.groups.get(usergroup, []))

    async def user_for_email(self, email: str) -> str | None:
        return self.emails.get(email.lower())


__all__ = [
    "AccessNotifier",
    "AccessService",
    "Decision",
    "DecisionOutcome",
    "Event",
    "MessageRef",
    "NullAccessNotifier",
    "PeopleDirectory",
    "Prepared",
    "Refusal",
    "StaticPeople",
    "Submitted",
    "is_request_id",
]
