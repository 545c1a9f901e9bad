"""Password-expiry nudges: whom to remind today, at most once per threshold, and the sweep.

A run asks every connector with the expiry capability for the users whose password
expires within the largest threshold (``iter_expiring``: the directory filters on
its side where it can), and for each one decides:

* the days left, counted in calendar days of the schedule's time zone;
* the threshold due: the smallest one at or above the days left (with 14, 7, 3, 1,
  eight days left is the 14-day nudge, two days left the 3-day one);
* the durable key (provider, user id, password change time, threshold): a key that
  already has a row was handled, and a new password means new keys, so a changed
  password ends the nudges;
* exclusions (members of ``exclude_groups``), then the Slack account (quiet mode:
  no account is a skip, not a failure).

The sweep is a pipeline, so the slowest API sets the pace and the others keep up:
directory pages feed a screening stage (group checks), whose survivors wait for
their Slack id; each person whose id is known goes to delivery at once, whatever
the order the ids arrive in. Every call passes through a client-side limiter
(:mod:`actions.ratelimit`).

Exactly once: delivery writes the key's row (``sending``) before posting and marks
it ``sent`` after. A crash in between leaves ``sending``; the next run looks for
the message in Slack (the message carries the key's digest) and either records it
or sends it. Slack itself stays behind the :class:`NudgeTransport` protocol
(``bot.nudges`` implements it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable
from zoneinfo import ZoneInfo

from actions.jobs import Handler, JobLease, JobRunner, LeaseLost, RetryPolicy, exclusive_lease
from actions.providers import KIND_LABELS, Providers
from actions.ratelimit import Clock, KeyedBuckets, Limiters, SystemClock, TokenBucket
from config.logging import get_logger
from config.nudges import NudgeRateLimits, NudgeSettings, RateSpec
from config.settings import HelpdeskConfig
from connectors.base import (
    Capability,
    Directory,
    DirectoryGroup,
    DirectoryUser,
    ExpiringUser,
    ExpiryReporter,
    GroupManager,
    PasswordStatus,
)
from connectors.errors import ConnectorError, GroupNotFound, Unavailable
from store.jobs import JobStore, NewJob, job_key
from store.leases import Leases
from store.models import Job
from store.nudges import NudgeKey, NudgeStore, RunStatus

log = get_logger("helpdesk.nudges")
T = TypeVar("T")

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
    row: ExpiringUser, source: NudgeSource, settings: NudgeSettings, now: datetime
) -> Nudge | SkipReason:
    """Decide one swept user: the nudge due now, or why there is none."""
    status = row.status
    if status.never_expires or status.expires_at is None:
        return SkipReason.NEVER_EXPIRES
    if status.expires_at <= now:
        return SkipReason.EXPIRED
    days_left = days_until(status.expires_at, now, settings.zone)
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
                label=providers.labels.get(name) or KIND_LABELS.get(kind, name),
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


# -- the sweep ---------------------------------------------------------------------------


async def _patiently(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, asked again when the directory is unavailable (rate limited, down).

    The connectors retry and pace themselves first (the Okta one waits for
    ``X-Rate-Limit-Reset``); this is for what is still refused after that, so that a
    busy directory delays a person instead of losing them.
    """
    for attempt in range(DIRECTORY_RETRIES):
        try:
            return await call()
        except Unavailable as exc:
            wait = min(60.0, exc.retry_after or 5.0 * (attempt + 1))
            log.warning("nudge_directory_busy", wait_s=wait, error=exc.message)
            await asyncio.sleep(wait)
    return await call()


async def _member_ids(lister: GroupMemberLister, group: DirectoryGroup) -> set[str]:
    found: set[str] = set()
    async for page in lister.iter_group_member_ids(group):
        found.update(page)
    return found


class _Unclear(enum.Enum):
    RESEND = "resend"  # the message is not in Slack: send it again
    GIVEN_UP = "given_up"  # cannot be known: counted as sent (``unconfirmed: assume_sent``)


@dataclass
class _Exclusion:
    group: DirectoryGroup
    members: set[str] | None  # None: ask the directory person by person


class NudgeSweep:
    """One pass over the directories: decide, screen, resolve in Slack, deliver once.

    ``dry_run`` writes nothing and sends nothing; with ``check_slack`` it still finds
    each person's Slack account (read-only calls) to say who would be skipped.
    """

    def __init__(
        self,
        settings: NudgeSettings,
        sources: Sequence[NudgeSource],
        *,
        store: NudgeStore | None,
        transport: NudgeTransport | None,
        limiters: Limiters,
        summary: RunSummary,
        lease: JobLease | None = None,
        now: Callable[[], datetime] | None = None,
        check_slack: bool = True,
        record_decisions: bool = False,
        on_progress: Callable[[RunSummary], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sources = {s.name: s for s in sources}
        self.store = store
        self.transport = transport
        self.limiters = limiters
        self.summary = summary
        self.lease = lease
        self._clock = now or (lambda: datetime.now(UTC))
        self.check_slack = check_slack
        self.record_decisions = record_decisions
        self.on_progress = on_progress
        self.dry_run = summary.dry_run
        self.now = self._clock()
        self._seen: set[tuple[str, str]] = set()
        self._exclusions: dict[str, list[_Exclusion]] = {}
        self._screen: asyncio.Queue[Nudge] = asyncio.Queue()
        self._ready: asyncio.Queue[tuple[Nudge, asyncio.Future[str | None]]] = asyncio.Queue()
        self._inflight = 0
        self._producing = 0
        self._idle = asyncio.Event()

    # -- bookkeeping -------------------------------------------------------------------
    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.summary)

    def _decide(self, user: DirectoryUser, source: str, outcome: str, detail: str = "") -> None:
        if self.record_decisions:
            self.summary.decisions.append(Decision(user.email, source, user.id, outcome, detail))

    def _skip(self, user: DirectoryUser, source: str, reason: SkipReason, detail: str = "") -> None:
        self.summary.skipped[reason.value] += 1
        self._decide(user, source, reason.value, detail)

    def _done(self) -> None:
        self.summary.settled += 1
        self._inflight -= 1
        self._check_idle()
        self._progress()

    def _check_idle(self) -> None:
        if self._producing == 0 and self._inflight == 0:
            self._idle.set()

    @staticmethod
    def _why(nudge: Nudge) -> str:
        when = "today" if nudge.days_left == 0 else f"in {nudge.days_left} day(s)"
        return (
            f"expires {nudge.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({when}); "
            f"{nudge.key.threshold}-day reminder"
        )

    # -- the run -----------------------------------------------------------------------
    async def run(self) -> RunSummary:
        """Sweep every source and deliver what is due; returns the filled summary."""
        before = window_end(self.now, self.settings.zone, self.settings.window_days)
        log.info(
            "nudge_sweep_started",
            run_id=self.summary.run_id,
            dry_run=self.dry_run,
            before=before.isoformat(),
            sources=sorted(self.sources),
        )
        if self.transport is not None:
            await self.transport.prepare()
        if not self.dry_run and self.transport is not None and self.store is not None:
            await self._reconcile()
        await self._prepare_exclusions()
        workers = self.settings.workers
        self._producing = len(self.sources)
        self._check_idle()
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._screen_worker()) for _ in range(workers)]
            tasks += [group.create_task(self._deliver_worker()) for _ in range(workers)]
            for source in self.sources.values():
                group.create_task(self._produce(source, before))
            await self._idle.wait()
            if self.transport is not None:
                self.transport.requests_done()
            for task in tasks:
                task.cancel()
        self.summary.stats["directory"] = {
            name: source.stats() for name, source in self.sources.items() if source.stats
        }
        self.summary.stats["limiters"] = dict(self.limiters.stats())
        if self.transport is not None:
            self.summary.stats["slack"] = self.transport.stats()
        self._progress()
        return self.summary

    # -- crash leftovers -----------------------------------------------------------------
    async def _reconcile(self) -> None:
        """Settle rows other runs left ``sending``: found in Slack, sent; else send again.

        Each waits until its request must have finished (``request_timeout`` after the
        claim), so a sweeper whose lease lapsed mid-request cannot post after we
        looked. Whether that sweeper is still alive is never guessed: a paused process
        and a dead one look the same from here.
        """
        assert self.store is not None and self.transport is not None
        claims = await self.store.sending_claims(exclude_run=self.summary.run_id)
        if not claims:
            return
        settle_at = max(c.claimed_at for c in claims) + self.settings.request_timeout
        wait = (settle_at - self._clock()).total_seconds()
        log.info("nudge_reconcile", claims=len(claims), wait_s=round(max(wait, 0), 1))
        if wait > 0:
            await asyncio.sleep(wait)
        for claim in claims:
            since = claim.claimed_at - timedelta(seconds=5)
            try:
                found = await self.transport.find_delivery(claim.key, claim.slack_user, since)
            except HistoryUnavailable:
                if self.settings.unconfirmed == "assume_sent":
                    await self.store.mark_unconfirmed(claim.key, now=self._clock())
                    self.summary.recovered["unconfirmed"] += 1
                else:
                    await self.store.release(claim.key)
                    self.summary.recovered["resend_unconfirmed"] += 1
                continue
            except DeliveryFailed as exc:
                # Left as it is: this run skips the key, a later one settles it.
                self.summary.recovered["unsettled"] += 1
                self.summary.errors.append(f"reconcile: {exc.reason}")
                continue
            if found is not None:
                await self.store.mark_sent(
                    claim.key, channel=found.channel, ts=found.ts, now=self._clock()
                )
                self.summary.recovered["confirmed_sent"] += 1
            else:
                await self.store.release(claim.key)
                self.summary.recovered["not_sent"] += 1

    # -- exclusions ----------------------------------------------------------------------
    async def _prepare_exclusions(self) -> None:
        names = self.settings.exclude_groups
        if not names:
            return
        for source in self.sources.values():
            found: list[_Exclusion] = []
            if source.groups is None:
                self.summary.errors.append(
                    f"{source.name}: cannot read groups, exclude_groups not applied"
                )
                self._exclusions[source.name] = found
                continue
            groups = source.groups
            for name in names:
                try:
                    group = await _patiently(functools.partial(groups.find_group, name))
                except GroupNotFound:
                    # Said in the summary: people meant to be left alone would get nudges.
                    log.warning("nudge_exclude_group_missing", connector=source.name, group=name)
                    self.summary.errors.append(f"{source.name}: no group named {name!r} to exclude")
                    continue
                members: set[str] | None = None
                if isinstance(groups, GroupMemberLister):
                    members = await _patiently(functools.partial(_member_ids, groups, group))
                found.append(_Exclusion(group, members))
            self._exclusions[source.name] = found

    async def _excluded(self, source: NudgeSource, user: DirectoryUser) -> bool:
        bucket = self.limiters.bucket(f"directory_groups:{source.name}")
        for exclusion in self._exclusions.get(source.name, ()):
            if exclusion.members is not None:
                if user.id in exclusion.members:
                    return True
                continue
            assert source.groups is not None
            if bucket is not None:
                await bucket.acquire()
            if await source.groups.is_member(user, exclusion.group):
                return True
        return False

    # -- stage 1: the directories --------------------------------------------------------
    async def _produce(self, source: NudgeSource, before: datetime) -> None:
        try:
            for attempt in range(DIRECTORY_RETRIES + 1):
                try:
                    await self._read(source, before)
                    return
                except Unavailable as exc:
                    if attempt == DIRECTORY_RETRIES:
                        raise
                    wait = min(60.0, exc.retry_after or 5.0 * (attempt + 1))
                    log.warning(
                        "nudge_directory_retry", connector=source.name, wait_s=wait,
                        error=exc.message,
                    )
                    await asyncio.sleep(wait)
        except ConnectorError as exc:
            self.summary.incomplete = True
            self.summary.errors.append(f"{source.name}: {type(exc).__name__}: {exc.message}")
            log.error("nudge_directory_failed", connector=source.name, error=exc.message)
        finally:
            self._producing -= 1
            self._check_idle()

    async def _read(self, source: NudgeSource, before: datetime) -> None:
        bucket = self.limiters.bucket(f"directory_list:{source.name}")
        pages = source.reporter.iter_expiring(before)
        try:
            while True:
                if bucket is not None:
                    await bucket.acquire()
                try:
                    page = await anext(pages)
                except StopAsyncIteration:
                    return
                await self._take(source, page)
        finally:
            closer = getattr(pages, "aclose", None)
            if closer is not None:
                await closer()

    async def _take(self, source: NudgeSource, page: Sequence[ExpiringUser]) -> None:
        due: list[Nudge] = []
        for row in page:
            ident = (source.name, row.user.id)
            if ident in self._seen:
                continue
            self._seen.add(ident)
            self.summary.scanned += 1
            outcome = assess(row, source, self.settings, self.now)
            if isinstance(outcome, SkipReason):
                self._skip(row.user, source.name, outcome)
            else:
                due.append(outcome)
        existing = await self.store.existing(n.key for n in due) if self.store else set()
        for nudge in due:
            if nudge.key in existing:
                self._skip(nudge.user, source.name, SkipReason.ALREADY_NUDGED, self._why(nudge))
                continue
            self.summary.due += 1
            self._inflight += 1
            self._screen.put_nowait(nudge)
        self._progress()

    # -- stage 2: exclusions, then the Slack account ---------------------------------------
    async def _screen_worker(self) -> None:
        while True:
            nudge = await self._screen.get()
            try:
                await self._screen_one(nudge)
            finally:
                self._screen.task_done()

    async def _screen_one(self, nudge: Nudge) -> None:
        source = self.sources[nudge.source]
        try:
            excluded = await _patiently(lambda: self._excluded(source, nudge.user))
        except ConnectorError as exc:
            self._fail(nudge, "group_check_failed", exc.message)
            return
        if excluded:
            self._skip(nudge.user, nudge.source, SkipReason.EXCLUDED, self._why(nudge))
            self._done()
            return
        if not nudge.user.email:
            self._skip(nudge.user, nudge.source, SkipReason.NO_EMAIL, self._why(nudge))
            self._done()
            return
        if self.transport is None or (self.dry_run and not self.check_slack):
            self._would(nudge)
            return
        future = self.transport.recipient(nudge.user.email)

        def ready(done: asyncio.Future[str | None]) -> None:
            self._ready.put_nowait((nudge, done))

        future.add_done_callback(ready)

    def _would(self, nudge: Nudge) -> None:
        self.summary.would_nudge += 1
        self._decide(nudge.user, nudge.source, "would_nudge", self._why(nudge))
        self._done()

    def _fail(self, nudge: Nudge, reason: str, detail: str = "") -> None:
        self.summary.failed[reason] += 1
        self._decide(nudge.user, nudge.source, f"failed:{reason}", detail)
        log.warning(
            "nudge_failed", connector=nudge.source, user_id=nudge.user.id, reason=reason,
            detail=detail[:200],
        )
        self._done()

    # -- stage 3: delivery ---------------------------------------------------------------
    async def _deliver_worker(self) -> None:
        while True:
            nudge, future = await self._ready.get()
            try:
                await self._deliver_one(nudge, future)
            finally:
                self._ready.task_done()

    async def _deliver_one(self, nudge: Nudge, future: asyncio.Future[str | None]) -> None:
        if future.cancelled():
            self._fail(nudge, "slack_lookup_failed", "cancelled")
            return
        error = future.exception()
        if error is not None:
            self._fail(nudge, "slack_lookup_failed", getattr(error, "reason", type(error).__name__))
            return
        recipient = future.result()
        if recipient is None:
            if self.settings.quiet_without_slack:
                self._skip(nudge.user, nudge.source, SkipReason.NO_SLACK, self._why(nudge))
                self._done()
            else:
                self._fail(nudge, SkipReason.NO_SLACK.value)
            return
        if self.dry_run:
            self._would(nudge)
            return
        assert self.store is not None and self.transport is not None
        if self.lease is not None:
            self.lease.check()
        claimed_at = self._clock()
        if not await self.store.claim(
            nudge.key,
            run_id=self.summary.run_id,
            slack_user=recipient,
            expires_at=nudge.expires_at,
            now=claimed_at,
        ):
            self._skip(nudge.user, nudge.source, SkipReason.ALREADY_NUDGED, self._why(nudge))
            self._done()
            return
        await self._send(nudge, recipient, claimed_at)

    async def _send(self, nudge: Nudge, recipient: str, claimed_at: datetime) -> None:
        assert self.store is not None and self.transport is not None
        reason = "delivery_failed"
        for _ in range(DELIVERY_ATTEMPTS):
            try:
                delivered = await self.transport.deliver(nudge, recipient)
            except DeliveryFailed as exc:
                reason = exc.reason
                if not exc.maybe_sent:
                    break
                settled = await self._settle_unclear(nudge, recipient, claimed_at)
                if settled is _Unclear.RESEND:
                    continue  # not in Slack: send again
                if not isinstance(settled, Delivered):
                    return  # counted as unconfirmed
                delivered = settled
            await self.store.mark_sent(
                nudge.key, channel=delivered.channel, ts=delivered.ts, now=self._clock()
            )
            self.summary.nudged += 1
            self._decide(nudge.user, nudge.source, "nudged", self._why(nudge))
            self._done()
            return
        await self.store.release(nudge.key)
        self._fail(nudge, reason)

    async def _settle_unclear(
        self, nudge: Nudge, recipient: str, claimed_at: datetime
    ) -> Delivered | _Unclear:
        """After a delivery that may have happened: the message found, or what to do."""
        assert self.store is not None and self.transport is not None
        since = claimed_at - timedelta(seconds=5)
        try:
            found = await self.transport.find_delivery(nudge.key, recipient, since)
        except (HistoryUnavailable, DeliveryFailed):
            found = None
            if self.settings.unconfirmed == "assume_sent":
                await self.store.mark_unconfirmed(nudge.key, now=self._clock())
                self.summary.recovered["unconfirmed"] += 1
                self._skip(nudge.user, nudge.source, SkipReason.UNCONFIRMED, self._why(nudge))
                self._done()
                return _Unclear.GIVEN_UP
        return found if found is not None else _Unclear.RESEND


# -- one run as a job --------------------------------------------------------------------


class NudgeRunner:
    """Runs sweeps as jobs: one per scheduled slot (or manual run), one at a time.

    A sweep is a job of the exclusive kind ``nudge_sweep`` (:mod:`actions.jobs`),
    keyed by its slot, so a slot is swept by one replica at a time, under the job's
    lease, which the runner renews; a sweep that loses it stops before it claims
    another nudge (``aborted``). A slot whose sweep died with its process is swept
    again by the next replica that finds it due, once the lease has run out. A
    manual run (``helpdesk nudges --now``) is a job of its own and is not resumed.

    ``transport_factory`` makes a fresh transport per run (its Slack directory is
    per run); ``limiters`` outlive runs, like the servers' budgets they mirror.
    """

    def __init__(
        self,
        settings: NudgeSettings,
        sources: Sequence[NudgeSource],
        store: NudgeStore,
        transport_factory: Callable[[], NudgeTransport],
        limiters: Limiters,
        *,
        now: Callable[[], datetime] | None = None,
        on_progress: Callable[[RunSummary], None] | None = None,
        jobs: JobStore | None = None,
        leases: Leases | None = None,
    ) -> None:
        self.settings = settings
        self.sources = list(sources)
        self.store = store
        self.transport_factory = transport_factory
        self.limiters = limiters
        self._now = now or (lambda: datetime.now(UTC))
        self.on_progress = on_progress
        self.jobs = JobRunner(
            jobs or JobStore(store.engine),
            leases or Leases(store.engine),
            {SWEEP_JOB: Handler(self._sweep_job, exclusive=True)},
            lease=settings.lease,
            # A sweep records its own failures (the scheduler retries a failed slot);
            # this is for the store failing under it.
            retry=RetryPolicy(timedelta(minutes=1), timedelta(minutes=15), 3),
            clock=lambda: self._now(),
        )
        self._results: dict[str, RunSummary | Exception | None] = {}

    @property
    def holder(self) -> str:
        """Who this runner is in the leases and the runs it records."""
        return self.jobs.owner

    async def run(
        self, *, trigger: str = "manual", slot: datetime | None = None
    ) -> RunSummary | None:
        """One sweep here, now; None when a sweep is running elsewhere (or the slot is done)."""
        subject = slot.isoformat() if slot is not None else f"{trigger}:{uuid.uuid4().hex}"
        key = job_key(SWEEP_JOB, subject)
        payload = {"trigger": trigger, "slot": slot.isoformat() if slot is not None else None}
        if not await self.jobs.run_now(NewJob(SWEEP_JOB, key, self._now(), payload=payload)):
            log.info("nudge_run_skipped", reason="a sweep is running elsewhere", trigger=trigger)
            return None
        result = self._results.pop(key, None)
        if isinstance(result, Exception):
            raise result
        return result

    async def _sweep_job(self, job: Job, lease: JobLease) -> None:
        payload = job.payload or {}
        trigger = str(payload.get("trigger") or "manual")
        slot = datetime.fromisoformat(payload["slot"]) if payload.get("slot") else None
        self._results[job.key] = None
        if slot is None and job.attempts > 1:
            log.info("nudge_manual_run_not_resumed", job_id=job.id)
            return
        if slot is not None and any(
            r.status == RunStatus.COMPLETED for r in await self.store.runs_for_slot(slot)
        ):
            return  # swept meanwhile, by another replica
        try:
            self._results[job.key] = await self._run_leased(job, lease, trigger, slot)
        except Exception as exc:  # the store failed under the run: the caller hears of it
            self._results[job.key] = exc
            raise

    async def _sweep(
        self, summary: RunSummary, transport: NudgeTransport, lease: JobLease
    ) -> str | None:
        """Run the sweep into ``summary``; the error that ended it early, if any."""
        error: str | None = None
        try:
            sweep = NudgeSweep(
                self.settings,
                self.sources,
                store=self.store,
                transport=transport,
                limiters=self.limiters,
                summary=summary,
                lease=lease,
                now=self._now,
                on_progress=self.on_progress,
            )
            await sweep.run()
            summary.status = RunStatus.FAILED if summary.incomplete else RunStatus.COMPLETED
        except* LeaseLost:
            summary.status = RunStatus.ABORTED
            error = "the sweep lease was lost to another replica"
        except* Exception as group:
            summary.status = RunStatus.FAILED
            error = "; ".join(f"{type(e).__name__}: {e}"[:300] for e in group.exceptions)
            log.error("nudge_run_failed", run_id=summary.run_id, error=error)
        if error:
            summary.errors.append(error)
        return error

    async def _run_leased(
        self, job: Job, lease: JobLease, trigger: str, slot: datetime | None
    ) -> RunSummary:
        started = self._now()
        summary = RunSummary(uuid.uuid4().hex, trigger, slot, False, started)
        interrupted = await self.store.interrupt_others(except_run=summary.run_id, now=started)
        if interrupted:
            log.info("nudge_runs_interrupted", runs=interrupted)
        await self.jobs.jobs.abandon(SWEEP_JOB, except_id=job.id, reason="interrupted")
        await self.store.start_run(
            run_id=summary.run_id, trigger=trigger, slot=slot, holder=self.holder, now=started,
        )
        transport = self.transport_factory()
        try:
            error = await self._sweep(summary, transport, lease)
            summary.finished_at = self._now()
            await self.store.finish_run(
                summary.run_id, status=summary.status, counts=summary.as_dict(),
                now=summary.finished_at, error=error,
            )
            if summary.status != RunStatus.ABORTED:
                await transport.post_summary(summary)
            oldest = summary.finished_at - self.settings.retention
            await self.store.prune(older_than=oldest)
            await self.jobs.jobs.prune(SWEEP_JOB, finished_before=oldest)
        finally:
            await transport.aclose()
        log.info(
            "nudge_run_finished",
            run_id=summary.run_id,
            status=summary.status,
            scanned=summary.scanned,
            nudged=summary.nudged,
            skipped=summary.skipped_total,
            failed=summary.failed_total,
            seconds=round(summary.seconds, 1),
        )
        return summary


async def dry_run(
    settings: NudgeSettings,
    sources: Sequence[NudgeSource],
    *,
    store: NudgeStore | None,
    transport: NudgeTransport | None,
    limiters: Limiters,
    now: Callable[[], datetime] | None = None,
    on_progress: Callable[[RunSummary], None] | None = None,
) -> RunSummary:
    """Who would be nudged now and why; writes nothing, sends nothing, needs no lease.

    With a ``transport`` it also looks each person up in Slack (read-only).
    """
    clock = now or (lambda: datetime.now(UTC))
    summary = RunSummary(uuid.uuid4().hex, "dry_run", None, True, clock())
    sweep = NudgeSweep(
        settings,
        sources,
        store=store,
        transport=transport,
        limiters=limiters,
        summary=summary,
        now=clock,
        check_slack=transport is not None,
        record_decisions=True,
        on_progress=on_progress,
    )
    try:
        await sweep.run()
    finally:
        if transport is not None:
            await transport.aclose()
    summary.status = RunStatus.FAILED if summary.incomplete else RunStatus.COMPLETED
    summary.finished_at = clock()
    return summary


def _largest_first(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def format_counts(counts: Mapping[str, int]) -> str:
    """``no slack account 3, already nudged 1`` (largest first), or ``none``."""
    ordered = sorted(counts.items(), key=_largest_first)
    return ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in ordered if v) or "none"


__all__ = [
    "LEASE_NAME",
    "SWEEP_JOB",
    "Decision",
    "Delivered",
    "DeliveryFailed",
    "GroupMemberLister",
    "HistoryUnavailable",
    "LeaseLost",
    "Nudge",
    "NudgeKey",
    "NudgeRunner",
    "NudgeSource",
    "NudgeSweep",
    "NudgeTransport",
    "RunSummary",
    "SkipReason",
    "assess",
    "build_limiters",
    "days_until",
    "dry_run",
    "due_threshold",
    "format_counts",
    "password_version",
    "sources_for",
    "window_end",
]
