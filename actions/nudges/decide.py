"""Who is due a nudge now, and what a sweep reads: its sources and its rate limiters.

Days left are calendar days in the person's own time zone (their Slack profile's,
when stored), else the schedule's zone; the threshold due is the
smallest one at or above them; a nudge's key names the user, the password and the
threshold, so a new password starts new keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from actions.nudges.model import (
    Nudge,
    NudgeSource,
    SkipReason,
)
from actions.providers import Providers
from actions.ratelimit import KeyedBuckets, Limiters, TokenBucket
from config.clock import Clock, SystemClock
from config.nudges import NudgeRateLimits, NudgeSettings, RateSpec
from config.settings import HelpdeskConfig
from connectors.base import (
    Capability,
    Directory,
    ExpiringUser,
    ExpiryReporter,
    GroupManager,
    PasswordStatus,
)
from store.nudges import NudgeKey

# -- decisions ---------------------------------------------------------------------------


def password_version(status: PasswordStatus) -> str | None:
    """What identifies one password: its change time (UTC, microseconds), else its expiry."""
    if status.last_changed is not None:
        return status.last_changed.astimezone(UTC).isoformat(timespec="microseconds")
    if status.expires_at is not None:
        return "expires:" + status.expires_at.astimezone(UTC).isoformat(timespec="seconds")
    return None


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day of ``moment`` in ``zone``."""
    return moment.astimezone(zone).date()


def days_until(expires_at: datetime, now: datetime, zone: ZoneInfo) -> int:
    """Calendar days from today to the expiry day in ``zone`` (0: today; negative: past)."""
    return (local_day(expires_at, zone) - local_day(now, zone)).days


def window_end(now: datetime, zone: ZoneInfo, days: int) -> datetime:
    """The start of the day after ``today + days`` in ``zone``, in UTC: the sweep's ``before``."""
    last = local_day(now, zone) + timedelta(days=days + 1)
    return datetime.combine(last, time(0), tzinfo=zone).astimezone(UTC)


def due_threshold(days_left: int, thresholds: Sequence[int]) -> int | None:
    """The smallest threshold at or above ``days_left``; None when none is reached yet."""
    reached = [t for t in thresholds if days_left <= t]
    return min(reached) if reached else None


def assess(
    row: ExpiringUser,
    source: NudgeSource,
    settings: NudgeSettings,
    now: datetime,
    zone: ZoneInfo | None = None,
) -> Nudge | SkipReason:
    """Decide one swept user: the nudge due now, or why there is none.

    Days are counted in ``zone`` (the person's own) when given, else the schedule's.
    """
    status = row.status
    if status.never_expires or status.expires_at is None:
        return SkipReason.NEVER_EXPIRES
    if status.expires_at <= now:
        return SkipReason.EXPIRED
    days_left = days_until(status.expires_at, now, zone or settings.zone)
    threshold = due_threshold(days_left, settings.thresholds)
    version = password_version(status)
    if threshold is None or version is None:
        return SkipReason.NOT_DUE
    return Nudge(
        key=NudgeKey(source.name, row.user.id, version, threshold),
        user=row.user,
        source=source.name,
        label=source.label,
        kind=source.kind,
        expires_at=status.expires_at,
        days_left=days_left,
        offer_reset=source.offer_reset,
        note=source.note,
        zone=zone,
    )


def sources_for(cfg: HelpdeskConfig, providers: Providers) -> list[NudgeSource]:
    """The connectors to sweep: ``nudges.connectors``, else all with the expiry capability.

    The "Change it now" button is offered for a connector only when it is also the one
    serving password resets: a reset elsewhere would not change the expiring password.
    """
    settings = cfg.nudges
    names = list(settings.connectors or ())
    if not names:
        names = [
            name
            for name, conn in providers.connectors.items()
            if Capability.PASSWORD_EXPIRY in conn.capabilities
        ]
    resetter = providers.provider_for(Capability.PASSWORD_RESET)
    found: list[NudgeSource] = []
    for name in names:
        conn = providers.connectors.get(name)
        if conn is None:
            raise ValueError(f"nudges.connectors: no connector named {name!r}")
        if Capability.PASSWORD_EXPIRY not in conn.capabilities or not isinstance(
            conn, ExpiryReporter
        ):
            raise ValueError(f"nudges.connectors: {name!r} cannot report password expiry")
        block = cfg.connectors.get(name)
        kind = block.kind if block is not None else name
        groups = (
            conn
            if Capability.GROUPS in conn.capabilities and isinstance(conn, GroupManager)
            else None
        )
        found.append(
            NudgeSource(
                name=name,
                kind=kind,
                label=providers.labels.get(name, name),
                reporter=conn,
                groups=groups,
                offer_reset=resetter is not None and resetter.name == conn.name,
                note=settings.note_for(name, kind),
                stats=_stats_of(conn),
            )
        )
    return found


def _stats_of(conn: Directory) -> Callable[[], dict[str, Any]] | None:
    """A connector's transport counters (the Okta connector's ``HttpStats``), if it has any."""
    stats = getattr(conn, "stats", None)
    if stats is None or not dataclasses.is_dataclass(stats) or isinstance(stats, type):
        return None

    def read() -> dict[str, Any]:
        return dataclasses.asdict(stats)

    return read


def build_limiters(
    limits: NudgeRateLimits, sources: Sequence[str], clock: Clock | None = None
) -> Limiters:
    """The sweep's buckets: per connector for the directory, per method for Slack."""
    clock = clock or SystemClock()

    def bucket(name: str, spec: RateSpec) -> TokenBucket:
        return TokenBucket(
            name, spec.per_minute, spec.capacity, headroom=limits.headroom, clock=clock
        )

    buckets: dict[str, TokenBucket] = {}
    for source in sources:
        if limits.directory_list is not None:
            name = f"directory_list:{source}"
            buckets[name] = bucket(name, limits.directory_list)
        if limits.directory_groups is not None:
            name = f"directory_groups:{source}"
            buckets[name] = bucket(name, limits.directory_groups)
    buckets["users.list"] = bucket("users.list", limits.users_list)
    buckets["users.lookupByEmail"] = bucket("users.lookupByEmail", limits.users_lookup_by_email)
    buckets["chat.postMessage"] = bucket("chat.postMessage", limits.post_message)
    buckets["conversations.open"] = bucket("conversations.open", limits.conversations)
    buckets["conversations.history"] = bucket("conversations.history", limits.conversations)
    channel = limits.post_message_per_channel
    keyed = {
        "chat.postMessage:channel": KeyedBuckets(
            "chat.postMessage:channel",
            channel.per_minute,
            channel.capacity,
            headroom=min(limits.headroom, channel.capacity - 1),
            clock=clock,
        )
    }
    return Limiters(buckets, keyed)
