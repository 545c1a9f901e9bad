"""Group access requests, free of Slack: prepare, submit, decide, cancel, and read them back.

A request is a row in the store that moves along the transition table of
:mod:`actions.access.model`. Every move is one conditional transaction with its
audit record (``store.access``), so a double click, a redelivery, two approvers at
once or two replicas produce one decision and one group add.

The group add and everything time-driven are jobs (:mod:`actions.access.jobs`),
run by the durable job runner (:mod:`actions.jobs`): the click that approves runs
its fulfilment at once, and the ``worker`` of every replica picks up whatever is
due, including work a crashed replica left behind and retries while the directory
is down.

Who may approve is :mod:`actions.access.policy`; messages go out through the ports
of :mod:`actions.access.ports`. Business refusals are ``Refusal``; anything else
is a bug and propagates.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from actions.access.jobs import AccessJobs, access_job
from actions.access.model import (
    DECIDABLE,
    TRANSITIONS,
    AccessSnapshot,
    Action,
    Decision,
    DecisionOutcome,
    Event,
    JobKind,
    Prepared,
    RequestState,
    Submitted,
    allows,
    is_request_id,
)
from actions.access.notices import Notices
from actions.access.policy import ApprovalPolicy
from actions.access.ports import AccessNotifier, PeopleDirectory
from actions.access.targets import GroupTarget, Targets
from actions.access.trail import AccessTrail
from actions.audit import Actor, correlation_id
from actions.errors import Refusal, protections_that_count
from actions.providers import Providers
from config.clock import Now, utc_now
from config.i18n import t, tn
from config.logging import get_logger
from config.settings import CatalogueEntry, HelpdeskConfig
from connectors.base import DirectoryGroup, DirectoryUser
from connectors.errors import GroupNotFound, Unavailable, UserNotFound
from store.access import AuditFactory, VoteResult
from store.db import Store
from store.jobs import Claim, NewJob
from store.models import AccessRequest

log = get_logger("helpdesk.access")


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
        clock: Now = utc_now,
        owner: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.settings = cfg.access
        self.providers = providers
        self.store = store
        self.notifier = notifier
        self.people = people
        self.clock = clock
        self.catalogue: dict[str, CatalogueEntry] = {e.key: e for e in cfg.catalogue}
        self.targets = Targets(cfg, providers)
        self.policy = ApprovalPolicy(self.settings, people)
        self.trail = AccessTrail(store, clock)
        self.notices = Notices(store, notifier)
        self.jobs = AccessJobs(
            self.settings, store, self.targets, self.notices, self.trail, clock, owner
        )

    # -- catalogue ------------------------------------------------------------------
    @property
    def offered(self) -> bool:
        """Whether requests can be made at all: a catalogue and a groups connector."""
        return bool(self.catalogue) and any(
            self.targets.for_entry_or_none(e) is not None for e in self.catalogue.values()
        )

    def durations_for(self, entry: CatalogueEntry) -> tuple[timedelta, ...]:
        """The durations offered for a time-bound group, shortest first; empty if not bound."""
        if entry.max_duration is None:
            return ()
        shorter = {d for d in self.settings.durations if d < entry.max_duration}
        return tuple(sorted(shorter | {entry.max_duration}))

    def _entry(self, key: str) -> CatalogueEntry:
        entry = self.catalogue.get(key)
        if entry is None:
            raise Refusal(
                "not_requestable",
                t(
                    "That group can't be requested here. Please ask {where}.",
                    where=self.targets.where_to_go(),
                ),
            )
        return entry

    # -- requesting -------------------------------------------------------------------
    async def prepare(self, actor: Actor, key: str) -> Prepared:
        """Check a request before the employee confirms it; ``Refusal`` when it can't be made."""
        entry = self._entry(key)
        existing = await self._open(actor, key)
        if existing is not None:
            return Prepared(entry, self.targets.for_entry(entry).label, existing=existing)
        target = self.targets.for_entry(entry)
        user, group = await self._resolve(actor, entry, target)
        if await self.targets.call(target, target.groups.is_member(user, group)):
            return Prepared(entry, target.label, already_member=True)
        return Prepared(entry, target.label, durations=self.durations_for(entry))

    async def _open(self, actor: Actor, key: str) -> AccessSnapshot | None:
        """The employee's open request for the group, if any."""
        row = await self.store.access.open_request(actor.slack_user_id, key)
        return await self.snapshot(row.id) if row is not None else None

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
        target = self.targets.for_entry(entry)
        justification = " ".join(justification.split())
        if entry.justification_required and (
            len(justification) < self.settings.justification_min_length
        ):
            raise Refusal(
                "justification_required",
                tn(
                    "Please say why you need {group} (at least {count} character).",
                    "Please say why you need {group} (at least {count} characters).",
                    self.settings.justification_min_length, group=entry.display_name,
                ),
            )
        offered = self.durations_for(entry)
        if offered and duration not in offered:
            raise Refusal(
                "duration_required",
                t("Please choose how long you need {group}.", group=entry.display_name),
            )
        if not offered:
            duration = None
        existing = await self._open(actor, key)
        if existing is not None:
            return Submitted(existing, created=False)
        user, group = await self._resolve(actor, entry, target)
        if await self.targets.call(target, target.groups.is_member(user, group)):
            raise Refusal(
                "already_member",
                t("You're already a member of {group}.", group=entry.display_name),
            )
        approvers = await self.policy.approvers(entry, user, target.connector)
        if not self.policy.enough(entry, approvers, actor.slack_user_id):
            await self.trail.request_refused(actor, "no_approvers", entry, user)
            raise Refusal(
                "no_approvers",
                t(
                    "I couldn't find enough approvers for {group}, so I didn't send the "
                    "request. Please ask {where}.",
                    group=entry.display_name, where=self.targets.where_to_go(),
                ),
            )
        now = self.clock()
        auto = entry.auto_approve
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
            # Approved automatically: the approval is made with the request itself.
            state=TRANSITIONS[Action.APPROVE].target if auto else RequestState.PENDING,
            approvals_required=entry.approvals_required,
            approvals=0,
            channels=list(approvers.channels),
            decided_by=actor.slack_user_id if auto else None,
            decided_at=now if auto else None,
            correlation_id=correlation_id(),
            created_at=now,
            updated_at=now,
            expires_at=now + self.settings.request_ttl,
        )
        jobs: list[NewJob] = []
        if auto:
            jobs.append(access_job(JobKind.FULFIL, row.id, now))
        else:
            if self.settings.remind_after < self.settings.request_ttl:
                jobs.append(access_job(JobKind.REMIND, row.id, now + self.settings.remind_after))
            jobs.append(access_job(JobKind.EXPIRE, row.id, row.expires_at))
        audit = self.trail.record(
            actor.slack_user_id, actor.email, "access_request",
            "auto_approved" if auto else "submitted", row,
            {"approvers": len(approvers.eligible(actor.slack_user_id)),
             "duration": _seconds(duration)},
        )
        if not await self.store.access.create(row, sorted(approvers.deciders), jobs, audit):
            # Another click or replica made it a moment ago: point to that one.
            again = await self._open(actor, key)
            if again is None:
                raise Refusal("busy", t("Something changed meanwhile; please try again."))
            return Submitted(again, created=False)
        self.trail.log(audit)
        snap = await self.notices.snapshot(row.id)
        notified: list[str] = []
        if auto:
            await self.jobs.run_kind(row.id, JobKind.FULFIL)
            snap = await self.notices.snapshot(row.id)
        else:
            notified = await self.notices.ask(snap, approvers)
        return Submitted(snap, created=True, notified=tuple(notified))

    async def _resolve(
        self, actor: Actor, entry: CatalogueEntry, target: GroupTarget
    ) -> tuple[DirectoryUser, DirectoryGroup]:
        where = self.targets.where_to_go()
        try:
            user = await target.connector.find_user_by_email(actor.email)
        except UserNotFound:
            raise Refusal(
                "unknown_user",
                t(
                    "I couldn't find an account for {email} in {label}. Please contact {where}.",
                    email=actor.email, label=target.label, where=where,
                ),
            ) from None
        except Unavailable:
            raise self.targets.unavailable(target.label) from None
        found = await self.targets.call(
            target, target.connector.protections(user, self.cfg.protected.groups)
        )
        if protections_that_count(found, self.cfg.protected.refuse_admin_roles):
            await self.trail.request_refused(actor, "protected", entry, user)
            raise Refusal(
                "protected",
                t(
                    "Your account has elevated access, so I won't change its groups from chat. "
                    "A person from IT will help: please ask {where}.",
                    where=where,
                ),
            )
        try:
            group = await target.groups.find_group(entry.provider_group)
        except GroupNotFound:
            log.warning("catalogue_group_missing", group=entry.key, provider=target.connector.name)
            raise Refusal(
                "group_missing",
                t(
                    "{group} isn't set up correctly in {label}. Please ask {where}.",
                    group=entry.display_name, label=target.label, where=where,
                ),
            ) from None
        except Unavailable:
            raise self.targets.unavailable(target.label) from None
        return user, group

    # -- deciding -------------------------------------------------------------------
    async def authorise(self, actor: Actor, request_id: str) -> AccessSnapshot | None:
        """Check ``actor`` may decide this request (before showing the deny form).

        ``None`` for an unknown request; ``Refusal`` for someone who is not an
        approver, or for the requester themselves.
        """
        snap = await self.snapshot(request_id)
        if snap is None:
            return None
        who = actor.slack_user_id
        if who not in snap.approvers and who != snap.request.requester:
            await self.trail.decision_refused(actor, snap, "not_approver")
            raise Refusal("not_approver", t("You are not an approver for this group."))
        if actor.slack_user_id == snap.request.requester:
            await self.trail.decision_refused(actor, snap, "own_request")
            raise Refusal(
                "own_request",
                t(
                    "You can't approve or deny your own request; another approver will. "
                    "You can cancel it while it's pending."
                ),
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
        if allows(Action.EXPIRE, req.state) and req.expires_at <= now:
            await self.jobs.expire_now(req.id)
            return Decision(DecisionOutcome.ALREADY_DECIDED, await self.notices.snapshot(req.id))
        if req.state not in DECIDABLE:
            return Decision(DecisionOutcome.ALREADY_DECIDED, snap)
        if snap.has_voted(actor.slack_user_id):
            return Decision(DecisionOutcome.ALREADY_VOTED, snap)
        action = "access_approve" if approve else "access_deny"
        factory: AuditFactory = self.trail.factory(
            actor, action, req, {} if approve else {"reason": reason}
        )
        if approve:
            move = TRANSITIONS[Action.APPROVE]
            # The fulfilment is written with the deciding vote, already claimed by this
            # process's runner: it runs here next, with no claim of its own.
            runner = self.jobs.runner
            vote = await self.store.access.approve(
                req.id, actor.slack_user_id, move, now, factory,
                then=[access_job(JobKind.FULFIL, req.id, now)],
                claim=Claim(runner.owner, runner.lease),
            )
        else:
            move = TRANSITIONS[Action.DENY]
            vote = await self.store.access.deny(
                req.id, actor.slack_user_id, reason, move, now, factory
            )
        if vote.result is VoteResult.DUPLICATE:
            return Decision(DecisionOutcome.ALREADY_VOTED, await self.notices.snapshot(req.id))
        if vote.result is VoteResult.CLOSED:
            return Decision(DecisionOutcome.ALREADY_DECIDED, await self.notices.snapshot(req.id))
        decided = vote.result is VoteResult.DECIDED
        self.trail.log_step(actor.slack_user_id, action,
                            move.target if decided else vote.result, req)
        if not decided:
            fresh = await self.notices.moved(req.id, Event.APPROVAL_RECORDED)
            return Decision(DecisionOutcome.RECORDED, fresh)
        if not approve:
            fresh = await self.notices.moved(req.id, Event.DENIED)
            return Decision(DecisionOutcome.DENIED, fresh)
        # Approved: the fulfilment job was written with the approval, leased to this
        # process; run it now. If this process dies first, the worker of any replica
        # picks it up once that lease runs out.
        if vote.job is not None:
            await self.jobs.runner.run_claimed(vote.job)
        elif vote.job_id is not None:
            await self.jobs.runner.run_job(vote.job_id)
        return Decision(DecisionOutcome.APPROVED, await self.notices.snapshot(req.id))

    async def cancel(self, actor: Actor, request_id: str) -> Decision:
        """The requester withdraws their pending request."""
        snap = await self.snapshot(request_id)
        if snap is None or snap.request.requester != actor.slack_user_id:
            return Decision(DecisionOutcome.UNKNOWN)
        move = TRANSITIONS[Action.CANCEL]
        now = self.clock()
        audit = self.trail.record(actor.slack_user_id, actor.email, "access_cancel",
                                  move.target, snap.request, {})
        if not await self.store.access.transition(
            request_id, move, now, audit, requester=actor.slack_user_id,
            values={"decided_by": actor.slack_user_id, "decided_at": now},
        ):
            return Decision(DecisionOutcome.ALREADY_DECIDED,
                            await self.notices.snapshot(request_id))
        self.trail.log_step(actor.slack_user_id, "access_cancel", move.target, snap.request)
        fresh = await self.notices.snapshot(request_id)
        await self.notices.refresh(fresh)
        return Decision(DecisionOutcome.CANCELLED, fresh)

    # -- reading ----------------------------------------------------------------------
    async def my_requests(self, actor: Actor, limit: int = 10) -> list[AccessRequest]:
        return await self.store.access.requests_of(actor.slack_user_id, limit)

    async def waiting_for_me(self, actor: Actor, limit: int = 20) -> list[AccessRequest]:
        return await self.store.access.waiting_for(
            actor.slack_user_id, self.clock(), DECIDABLE, limit
        )

    async def snapshot(self, request_id: str) -> AccessSnapshot | None:
        if not is_request_id(request_id):
            return None
        record = await self.store.access.snapshot(request_id)
        return AccessSnapshot.of(record) if record is not None else None

    # -- jobs -------------------------------------------------------------------------
    @property
    def owner(self) -> str:
        """Who this process is in the jobs table (its runner's lease owner)."""
        return self.jobs.runner.owner

    async def worker(self) -> None:
        """Run due access jobs until cancelled (see :meth:`actions.jobs.JobRunner.worker`)."""
        await self.jobs.runner.worker()

    def wake(self) -> None:
        self.jobs.runner.wake()

    async def run_due_jobs(self, limit: int = 50, concurrency: int = 8) -> int:
        """Claim and run due access jobs (up to ``limit``); how many this process ran."""
        return await self.jobs.runner.run_due(limit, concurrency)

    async def run_job(self, job_id: int) -> bool:
        """Claim one job and run it; ``False`` when another worker holds it or it isn't due."""
        return await self.jobs.runner.run_job(job_id)


def _seconds(duration: timedelta | None) -> str:
    return str(int(duration.total_seconds())) if duration else ""
