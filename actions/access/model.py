"""The access-request model: states, actions and the one transition table; kinds and results.

A request moves only along :data:`TRANSITIONS`::

    approve   pending   -> approved    (the vote that makes ``approvals_required``)
    deny      pending   -> denied
    cancel    pending   -> cancelled   (the requester)
    expire    pending   -> expired     (nobody decided in time)
    fulfil    approved  -> fulfilled   (the group add)
    fail      approved  -> failed      (the directory refused for good)
    revoke    fulfilled -> revoked     (time-bound access ended)

The store's conditional updates are generated from these rows (``store.access``:
``WHERE state IN sources``, ``SET state = target``), and the workflow asks
:func:`allows` instead of naming states, so the table is the only place that says
which state may follow which. A request is *open* (one per person and group) while
its state is in :data:`OPEN_STATES`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType

from config.settings import ApproverKind, CatalogueEntry
from store.access import RequestRecord


class RequestState(enum.StrEnum):
    """Where an access request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    FULFILLED = "fulfilled"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REVOKED = "revoked"


class Action(enum.StrEnum):
    """What moves a request; a vote is recorded under its action's name."""

    APPROVE = "approve"
    DENY = "deny"
    CANCEL = "cancel"
    EXPIRE = "expire"
    FULFIL = "fulfil"
    FAIL = "fail"
    REVOKE = "revoke"


#: States in which a request holds its ``open_key`` (one per person and group).
OPEN_STATES: frozenset[RequestState] = frozenset({RequestState.PENDING, RequestState.APPROVED})


@dataclass(frozen=True)
class Transition:
    """One row of the table: ``action`` moves a request from any of ``sources`` to ``target``."""

    action: Action
    sources: frozenset[RequestState]
    target: RequestState

    @property
    def closes(self) -> bool:
        """Whether the request stops being open (a new one for the group may be made)."""
        return self.target not in OPEN_STATES


def _row(action: Action, sources: set[RequestState], target: RequestState) -> Transition:
    return Transition(action, frozenset(sources), target)


_S = RequestState
TRANSITIONS: Mapping[Action, Transition] = MappingProxyType({
    row.action: row
    for row in (
        _row(Action.APPROVE, {_S.PENDING}, _S.APPROVED),
        _row(Action.DENY, {_S.PENDING}, _S.DENIED),
        _row(Action.CANCEL, {_S.PENDING}, _S.CANCELLED),
        _row(Action.EXPIRE, {_S.PENDING}, _S.EXPIRED),
        _row(Action.FULFIL, {_S.APPROVED}, _S.FULFILLED),
        _row(Action.FAIL, {_S.APPROVED}, _S.FAILED),
        _row(Action.REVOKE, {_S.FULFILLED}, _S.REVOKED),
    )
})


def allows(action: Action, state: str) -> bool:
    """Whether a request in ``state`` may be moved by ``action``."""
    return state in TRANSITIONS[action].sources


#: States in which a request waits for votes.
DECIDABLE: frozenset[RequestState] = TRANSITIONS[Action.APPROVE].sources


class JobKind(enum.StrEnum):
    """The durable jobs of a request."""

    FULFIL = "fulfil"  # add the requester to the group
    REMIND = "remind"  # remind the approvers, again every ``remind_after``
    EXPIRE = "expire"  # nobody decided in time
    WARN = "warn"  # time-bound access ends soon
    REVOKE = "revoke"  # time-bound access ended: remove the membership


class MessageRole(enum.StrEnum):
    """Why a message about a request was posted (and is kept, to be updated in place)."""

    APPROVER = "approver"


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
class AccessSnapshot(RequestRecord):
    """A request with who may decide it and the votes cast, read in one transaction."""

    @classmethod
    def of(cls, record: RequestRecord) -> AccessSnapshot:
        return cls(record.request, record.approvers, record.decisions)

    @property
    def approved_by(self) -> tuple[str, ...]:
        return self.voters(Action.APPROVE)

    @property
    def denied_by(self) -> str | None:
        return next(iter(self.voters(Action.DENY)), None)


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

    ``existing`` is set when they already have an open request for the group;
    ``already_member`` when there is nothing to request.
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


#: Group keys of identity checks (``actions.verification.approval``): a person vouches for
#: an employee before a self-service change. Their fulfilment changes no group.
IDENTITY_PREFIX = "verify:"


def is_identity_check(group_key: str) -> bool:
    """Whether a request is an identity check rather than a group request."""
    return group_key.startswith(IDENTITY_PREFIX)


REQUEST_ID_LENGTH = 16


def is_request_id(value: str) -> bool:
    """Whether ``value`` has the shape of a request id (button values are checked first)."""
    return len(value) == REQUEST_ID_LENGTH and all(c.isalnum() or c in "-_" for c in value)


__all__ = [
    "DECIDABLE",
    "IDENTITY_PREFIX",
    "OPEN_STATES",
    "TRANSITIONS",
    "AccessSnapshot",
    "Action",
    "ApproverKind",
    "Decision",
    "DecisionOutcome",
    "Event",
    "JobKind",
    "MessageRole",
    "Prepared",
    "RequestState",
    "Submitted",
    "Transition",
    "allows",
    "is_identity_check",
    "is_request_id",
]
