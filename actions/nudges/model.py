"""What the nudges are made of: sources, nudges, the transport port, a run's summary."""

from __future__ import annotations

import asyncio
import enum
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from actions.jobs import exclusive_lease
from config.logging import get_logger
from connectors.base import (
    DirectoryGroup,
    DirectoryUser,
    ExpiryReporter,
    GroupManager,
)
from store.nudges import NudgeKey, RunStatus

log = get_logger("helpdesk.nudges")

# A sweep is a job of this kind, one at a time across replicas (its kind is exclusive).
SWEEP_JOB = "nudge_sweep"
LEASE_NAME = exclusive_lease(SWEEP_JOB)
# A directory that fails mid-sweep (after its own retries) is read again from the start
# this many times; users already handled in the run are not handled twice.
DIRECTORY_RETRIES = 2
# Attempts at one delivery whose outcome Slack left unclear (timeout after sending).
DELIVERY_ATTEMPTS = 3


class SkipReason(enum.StrEnum):
    """Why someone was not nudged in a run, without it being a failure."""

    ALREADY_NUDGED = "already_nudged"
    NOT_DUE = "not_due"
    EXPIRED = "already_expired"
    NEVER_EXPIRES = "never_expires"
    EXCLUDED = "excluded_group"
    NO_EMAIL = "no_email"
    NO_SLACK = "no_slack_account"
    UNCONFIRMED = "unconfirmed_after_crash"


@runtime_checkable
class GroupMemberLister(Protocol):
    """Optional connector role: every member id of a group, page by page.

    With it, ``exclude_groups`` costs a few list calls per run; without it, one
    membership check per person about to be nudged.
    """

    def iter_group_member_ids(self, group: DirectoryGroup) -> AsyncIterator[list[str]]:
        """Yield the ids of the group's members, one page at a time."""
        ...


@dataclass(frozen=True, slots=True)
class NudgeSource:
    """One connector swept for expiring passwords, and how to present its people's nudges."""

    name: str
    kind: str
    label: str
    reporter: ExpiryReporter
    groups: GroupManager | None = None
    offer_reset: bool = False
    note: str | None = None
    stats: Callable[[], dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Nudge:
    """A reminder due now: the key, the person, the expiry and how to word it."""

    key: NudgeKey
    user: DirectoryUser
    source: str
    label: str
    kind: str
    expires_at: datetime
    days_left: int
    offer_reset: bool
    note: str | None
    zone: ZoneInfo | None = None
    """The person's own time zone (their Slack profile's) when known: days are counted and
    dates shown in it; None: the schedule's zone."""


@dataclass(frozen=True, slots=True)
class Delivered:
    """Where a nudge landed in Slack."""

    channel: str
    ts: str


class DeliveryFailed(Exception):
    """A nudge did not go out (``maybe_sent`` False) or may have (a timeout after sending)."""

    def __init__(self, reason: str, *, maybe_sent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.maybe_sent = maybe_sent


class HistoryUnavailable(Exception):
    """Slack will not show the bot its DM history (scope or method missing)."""


class NudgeTransport(Protocol):
    """The chat side of a run: find people, send nudges, find sent ones, post the summary."""

    async def prepare(self) -> None:
        """Load what earlier runs left (a cached directory); called once, first."""
        ...

    def zone_for(self, email: str) -> ZoneInfo | None:
        """The time zone of the person with ``email`` (their chat profile's); None if unknown."""
        ...

    def recipient(self, email: str) -> asyncio.Future[str | None]:
        """A future of the chat user id for ``email``; None when there is no usable account."""
        ...

    def requests_done(self) -> None:
        """No more ``recipient`` calls will come in this run."""
        ...

    async def deliver(self, nudge: Nudge, recipient: str) -> Delivered:
        """Send one nudge; raise :class:`DeliveryFailed`."""
        ...

    async def find_delivery(
        self, key: NudgeKey, recipient: str, since: datetime
    ) -> Delivered | None:
        """The message of ``key`` sent to ``recipient`` after ``since``, if there is one.

        Raises :class:`HistoryUnavailable` when it cannot be known.
        """
        ...

    async def post_summary(self, summary: RunSummary) -> None:
        """Tell IT how the run went."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counters of the calls made (for the run's record and benchmarks)."""
        ...

    async def aclose(self) -> None:
        """Stop background work and release what the run held."""
        ...


# -- a run's outcome ------------------------------------------------------------------------


@dataclass
class Decision:
    """One person's outcome in a run, kept for ``--dry-run`` listings."""

    email: str
    source: str
    user_id: str
    outcome: str
    detail: str


@dataclass
class RunSummary:
    """What a run did; ``as_dict`` is what the store and ``--json`` keep."""

    run_id: str
    trigger: str
    slot: datetime | None
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None = None
    status: str = RunStatus.RUNNING
    scanned: int = 0
    due: int = 0
    settled: int = 0
    nudged: int = 0
    would_nudge: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    recovered: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    incomplete: bool = False
    decisions: list[Decision] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        """People skipped, for any reason."""
        return sum(self.skipped.values())

    @property
    def failed_total(self) -> int:
        """Nudges that should have gone out and did not."""
        return sum(self.failed.values())

    @property
    def seconds(self) -> float:
        """Wall time of the run so far."""
        end = self.finished_at or datetime.now(UTC)
        return (end - self.started_at).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts (no personal data beyond what ``decisions`` lists)."""
        return {
            "run_id": self.run_id,
            "trigger": self.trigger,
            "slot": self.slot.isoformat() if self.slot else None,
            "dry_run": self.dry_run,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "seconds": round(self.seconds, 3),
            "scanned": self.scanned,
            "due": self.due,
            "settled": self.settled,
            "nudged": self.nudged,
            "would_nudge": self.would_nudge,
            "skipped": dict(sorted(self.skipped.items())),
            "failed": dict(sorted(self.failed.items())),
            "recovered": dict(sorted(self.recovered.items())),
            "errors": list(self.errors),
            "stats": self.stats,
        }


def _largest_first(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def format_counts(counts: Mapping[str, int]) -> str:
    """``no slack account 3, already nudged 1`` (largest first), or ``none``."""
    ordered = sorted(counts.items(), key=_largest_first)
    return ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in ordered if v) or "none"
