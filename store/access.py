"""Access requests in the store: requests, approvers, votes, message references.

Every transition is one transaction whose ``UPDATE`` is conditioned on the current
state; the audit record and any follow-up job are written in the same transaction,
so a transition, its audit record and its jobs exist together or not at all, and a
double click, two approvers at once or two replicas cannot both win.

The store knows no state by name: each transition is a :class:`Move` from the
access model's transition table (``actions.access.model.TRANSITIONS``), and the
conditional update is generated from it (``WHERE state IN sources``, ``SET state =
target``; a move to a closed state frees ``open_key``). Times are passed in
(``now``) so tests control them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Table, bindparam, case, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import make_transient_to_detached

from store.jobs import Claim, JobState, NewJob, add_claimed, aware_job, finish_in, queue_jobs
from store.leases import aware
from store.models import (
    AccessApprover,
    AccessDecision,
    AccessMessage,
    AccessRequest,
    AuditRecord,
    Job,
)


class Move(Protocol):
    """One row of the transition table, as the store needs it."""

    @property
    def action(self) -> str:
        """The action's name; a vote records it as its decision."""
        ...

    @property
    def sources(self) -> frozenset[str]:
        """The states the request may be in."""
        ...

    @property
    def target(self) -> str:
        """The state it moves to."""
        ...

    @property
    def closes(self) -> bool:
        """Whether the request stops being open (its ``open_key`` is freed)."""
        ...


class VoteResult(enum.StrEnum):
    """What one vote did."""

    DECIDED = "decided"  # the request moved (the last approval needed, or a denial)
    RECORDED = "recorded"  # counted; more approvals are needed
    DUPLICATE = "duplicate"  # this approver already voted
    CLOSED = "closed"  # the request no longer takes votes (decided, expired, cancelled)


@dataclass(frozen=True)
class Vote:
    """The result of one vote; ``job_id`` is the first job queued when it decided.

    ``job``: that job, when it was written already claimed (``approve(claim=...)``).
    """

    result: VoteResult
    job_id: int | None = None
    job: Job | None = None


@dataclass(frozen=True)
class RequestRecord:
    """A request with who may decide it and the votes cast, read in one transaction."""

    request: AccessRequest
    approvers: tuple[str, ...]
    decisions: tuple[AccessDecision, ...]

    def voters(self, decision: str) -> tuple[str, ...]:
        """Who voted ``decision`` (an action name), in the order they did."""
        return tuple(d.approver for d in self.decisions if d.decision == decision)

    def has_voted(self, approver: str) -> bool:
        return any(d.approver == approver for d in self.decisions)


AuditFactory = Callable[[str, dict[str, Any]], AuditRecord]
"""Builds the audit record of a transition from its result and extra detail."""


class _Lost(Exception):
    """Raised inside a transaction whose condition no longer held: roll back, report."""


class AccessStore:
    """Access requests, their votes and message references, over the store's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    # -- reading ------------------------------------------------------------------------
    async def snapshot(self, request_id: str) -> RequestRecord | None:
        """The request, its approvers and its votes, read in one transaction.

        Read several times per click, so on a Core connection with statements built once
        (no ORM session, no statement to build and key per call); the rows come back as
        the mapped classes, detached, as a closed session leaves them.
        """
        params = {"request_id": request_id}
        async with self._engine.connect() as conn:
            row = (await conn.execute(_REQUEST, params)).first()
            if row is None:
                return None
            approvers = (await conn.execute(_APPROVERS, params)).scalars().all()
            decisions = (await conn.execute(_DECISIONS, params)).all()
        request = _detached(AccessRequest, row._mapping)
        found = RequestRecord(
            request, tuple(approvers),
            tuple(_detached(AccessDecision, d._mapping) for d in decisions),
        )
        _aware_request(found.request)
        return found

    async def open_request(self, requester: str, group_key: str) -> AccessRequest | None:
        """The requester's open request for this group, if any."""
        async with self._session() as s:
            key = _open_key(requester, group_key)
            row = await s.scalar(select(AccessRequest).where(AccessRequest.open_key == key))
        return _aware_request(row) if row is not None else None

    async def requests_of(self, requester: str, limit: int = 10) -> list[AccessRequest]:
        """The requester's latest requests, newest first."""
        async with self._session() as s:
            rows = await s.scalars(
                select(AccessRequest)
                .where(AccessRequest.requester == requester)
                .order_by(AccessRequest.created_at.desc(), AccessRequest.id)
                .limit(limit)
            )
            found = list(rows.all())
        return [_aware_request(r) for r in found]

    async def waiting_for(
        self, approver: str, now: datetime, states: Collection[str], limit: int = 20
    ) -> list[AccessRequest]:
        """Unexpired requests in ``states`` this approver may decide and has not voted on."""
        voted = exists().where(
            AccessDecision.request_id == AccessRequest.id, AccessDecision.approver == approver
        )
        async with self._session() as s:
            rows = await s.scalars(
                select(AccessRequest)
                .join(AccessApprover, AccessApprover.request_id == AccessRequest.id)
                .where(
                    AccessApprover.approver == approver,
                    AccessRequest.state.in_(list(states)),
                    AccessRequest.expires_at > now,
                    AccessRequest.requester != approver,
                    ~voted,
                )
                .order_by(AccessRequest.created_at, AccessRequest.id)
                .limit(limit)
            )
            found = list(rows.all())
        return [_aware_request(r) for r in found]

    async def messages(self, request_id: str) -> list[AccessMessage]:
        # Read at every refresh of the cards: Core, a statement built once, as ``snapshot``.
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_MESSAGES, {"request_id": request_id})).all()
        return [_detached(AccessMessage, row._mapping) for row in rows]

    async def add_message(
        self, request_id: str, role: str, recipient: str | None, channel: str, ts: str
    ) -> None:
        """Keep a message about the request; the same message (channel and ts) once."""
        async with self._session.begin() as s:
            known = await s.scalar(
                select(AccessMessage.id).where(
                    AccessMessage.request_id == request_id,
                    AccessMessage.channel == channel,
                    AccessMessage.ts == ts,
                )
            )
            if known is None:
                s.add(
                    AccessMessage(
                        request_id=request_id, role=role, recipient=recipient,
                        channel=channel, ts=ts,
                    )
                )

    # -- transitions --------------------------------------------------------------------
    async def create(
        self,
        row: AccessRequest,
        approvers: Sequence[str],
        jobs: Sequence[NewJob],
        audit: AuditRecord,
    ) -> bool:
        """Insert a new request with its approvers, jobs and audit record.

        ``False`` when the requester already has an open request for the group
        (the ``open_key`` constraint), even one another replica just made.
        """
        row.open_key = _open_key(row.requester, row.group_key)
        try:
            async with self._session.begin() as s:
                s.add(row)
                await s.flush()
                s.add_all(AccessApprover(request_id=row.id, approver=a) for a in set(approvers))
                await queue_jobs(s, jobs, row.created_at)
                s.add(audit)
        except IntegrityError:
            return False
        return True

    async def approve(
        self,
        request_id: str,
        approver: str,
        move: Move,
        now: datetime,
        audit: AuditFactory,
        *,
        then: Sequence[NewJob] = (),
        claim: Claim | None = None,
    ) -> Vote:
        """Record one approval; the vote that reaches ``approvals_required`` makes ``move``.

        The decision row (unique per approver) and the conditional UPDATE are one
        transaction: on PostgreSQL the UPDATE of a concurrent vote waits for this
        one's row lock and then sees its count, so two last votes cannot both
        decide and two half votes cannot both miss. ``then`` is queued when it decides.

        ``claim``: the first job of ``then`` is written already leased to ``claim.owner``
        (``Vote.job``), in the same transaction as the decision, for the caller to run at
        once (``JobRunner.run_claimed``): no claim of its own, no other replica's worker
        taking it first, and a decision never leaves its job unwritten.
        """
        try:
            async with self._session.begin() as s:
                # Statements built once (a vote is several per click): the decision row,
                # then the conditional count (it raises at once on a second vote).
                await s.execute(_INSERT_DECISION, {
                    "request_id": request_id, "approver": approver, "decision": move.action,
                    "at": now,
                })
                found = (
                    await s.execute(_vote_statement(move),
                                    {"b_id": request_id, "b_now": now, "b_approver": approver})
                ).first()
                if found is None:
                    raise _Lost
                decided, approvals = str(found[0]) == move.target, int(found[1])
                job_id: int | None = None
                job: Job | None = None
                if decided and then:
                    if claim is not None:
                        job = await add_claimed(s, then[0], claim, now)
                        job_id = job.id if job is not None else None
                    else:
                        first = await queue_jobs(s, then[:1], now)
                        job_id = first[0] if first else None
                    await queue_jobs(s, then[1:], now)
                result = move.target if decided else VoteResult.RECORDED
                record = audit(result, {"approvals": approvals})
                await s.execute(_INSERT_AUDIT, _audit_values(record))
        except IntegrityError:
            return Vote(VoteResult.DUPLICATE)
        except _Lost:
            return Vote(VoteResult.CLOSED)
        return Vote(VoteResult.DECIDED if decided else VoteResult.RECORDED, job_id,
                    aware_job(job) if job is not None else None)

    async def deny(
        self,
        request_id: str,
        approver: str,
        reason: str,
        move: Move,
        now: datetime,
        audit: AuditFactory,
    ) -> Vote:
        """One approver's denial makes ``move`` at once, with its reason."""
        r = AccessRequest
        try:
            async with self._session.begin() as s:
                s.add(AccessDecision(request_id=request_id, approver=approver,
                                     decision=move.action, reason=reason, at=now))
                await s.flush()
                result = await s.execute(
                    update(r)
                    .where(r.id == request_id, r.state.in_(move.sources), r.expires_at > now)
                    .values({**_moved(move, now), "decided_by": approver, "decided_at": now,
                             "reason": reason})
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(result) != 1:
                    raise _Lost
                s.add(audit(move.target, {}))
        except IntegrityError:
            return Vote(VoteResult.DUPLICATE)
        except _Lost:
            return Vote(VoteResult.CLOSED)
        return Vote(VoteResult.DECIDED)

    async def transition(
        self,
        request_id: str,
        move: Move,
        now: datetime,
        audit: AuditRecord,
        *,
        requester: str | None = None,
        lapsed: bool = False,
        values: Mapping[str, Any] | None = None,
        job: Job | None = None,
        job_state: JobState = JobState.DONE,
        follow_up: Sequence[NewJob] = (),
    ) -> bool:
        """Make ``move`` if the request is in one of its sources; True when this call did.

        ``requester``: only that person's request (a cancellation); ``lapsed``: only
        once ``expires_at`` has passed (an expiry); ``values``: more columns to set.
        When it wins, the audit record and ``follow_up`` jobs are written with it. The
        ``job`` that asked for it (if any) is finished either way, ``job_state`` on a
        win: when the move is no longer possible there is nothing left for it to do.
        """
        r = AccessRequest
        conditions = [r.id == request_id, r.state.in_(move.sources)]
        if requester is not None:
            conditions.append(r.requester == requester)
        if lapsed:
            conditions.append(r.expires_at <= now)
        async with self._session.begin() as s:
            result = await s.execute(
                update(r)
                .where(*conditions)
                .values({**_moved(move, now), **(values or {})})
                .execution_options(synchronize_session=False)
            )
            won = _rowcount(result) == 1
            if won:
                s.add(audit)
                await queue_jobs(s, follow_up, now)
            finished = job is not None and await finish_in(
                s, job, job_state if won else JobState.DONE
            )
        if finished:
            assert job is not None
            job.state = job_state if won else JobState.DONE  # committed: over, for its runner
        return won


_REQUESTS = cast(Table, AccessRequest.__table__)
_APPROVER_ROWS = cast(Table, AccessApprover.__table__)
_DECISION_ROWS = cast(Table, AccessDecision.__table__)
_REQUEST = select(_REQUESTS).where(_REQUESTS.c.id == bindparam("request_id"))
_APPROVERS = (
    select(_APPROVER_ROWS.c.approver)
    .where(_APPROVER_ROWS.c.request_id == bindparam("request_id"))
    .order_by(_APPROVER_ROWS.c.approver)
)
_DECISIONS = (
    select(_DECISION_ROWS)
    .where(_DECISION_ROWS.c.request_id == bindparam("request_id"))
    .order_by(_DECISION_ROWS.c.at, _DECISION_ROWS.c.id)
)

_INSERT_DECISION = insert(_DECISION_ROWS)
_AUDIT_ROWS = cast(Table, AuditRecord.__table__)
_INSERT_AUDIT = insert(_AUDIT_ROWS)
_VOTES: dict[tuple[str, frozenset[str], str], Any] = {}


def _vote_statement(move: Move) -> Any:
    """The conditional UPDATE of one vote for ``move`` (built once per move): one more
    approval, and ``move`` made when it is the last one needed; returns state and count."""
    key = (move.action, move.sources, move.target)
    statement = _VOTES.get(key)
    if statement is None:
        r = _REQUESTS.c
        now = bindparam("b_now", type_=r.updated_at.type)
        approver = bindparam("b_approver", type_=r.decided_by.type)
        completes = r.approvals + 1 >= r.approvals_required
        statement = _VOTES[key] = (
            update(_REQUESTS)
            .where(r.id == bindparam("b_id"), r.state.in_(sorted(move.sources)),
                   r.expires_at > now)
            .values(
                approvals=r.approvals + 1,
                state=case((completes, move.target), else_=r.state),
                decided_by=case((completes, approver), else_=r.decided_by),
                decided_at=case((completes, now), else_=r.decided_at),
                updated_at=now,
            )
            .returning(r.state, r.approvals)
        )
    return statement


def _audit_values(record: AuditRecord) -> dict[str, Any]:
    """An audit record's columns for a Core insert (unset ones left to their defaults)."""
    values = {c.key: getattr(record, c.key) for c in _AUDIT_ROWS.columns if c.key != "id"}
    return {k: v for k, v in values.items() if v is not None}


_MESSAGE_ROWS = cast(Table, AccessMessage.__table__)
_MESSAGES = (
    select(_MESSAGE_ROWS)
    .where(_MESSAGE_ROWS.c.request_id == bindparam("request_id"))
    .order_by(_MESSAGE_ROWS.c.id)
)

_Mapped = TypeVar("_Mapped", AccessRequest, AccessDecision, AccessMessage)


def _detached(cls: type[_Mapped], values: Mapping[Any, Any]) -> _Mapped:
    """A row read with Core as its mapped class, detached with no changes pending (as a
    closed session leaves what it loaded)."""
    instance = cls(**values)
    make_transient_to_detached(instance)
    return instance


def _moved(move: Move, now: datetime) -> dict[str, Any]:
    """The columns every move sets: the new state, and ``open_key`` freed when it closes."""
    values: dict[str, Any] = {"state": move.target, "updated_at": now}
    if move.closes:
        values["open_key"] = None
    return values


def _open_key(requester: str, group_key: str) -> str:
    return f"{requester}:{group_key}"


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)


def _aware_request(row: AccessRequest) -> AccessRequest:
    for name in ("created_at", "updated_at", "expires_at", "decided_at", "fulfilled_at",
                 "access_until", "revoked_at"):
        value = getattr(row, name)
        if value is not None:
            setattr(row, name, aware(value))
    return row
