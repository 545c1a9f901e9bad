"""One sweep: a pipeline from the directories to Slack, delivering each nudge once."""

from __future__ import annotations

import asyncio
import enum
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from actions.jobs import JobLease
from actions.nudges.decide import (
    assess,
    window_end,
)
from actions.nudges.model import (
    DELIVERY_ATTEMPTS,
    DIRECTORY_RETRIES,
    Decision,
    Delivered,
    DeliveryFailed,
    GroupMemberLister,
    HistoryUnavailable,
    Nudge,
    NudgeSource,
    NudgeTransport,
    RunSummary,
    SkipReason,
)
from actions.ratelimit import Limiters
from config import metrics
from config.clock import Now, utc_now
from config.logging import get_logger
from config.nudges import NudgeSettings
from connectors.base import DirectoryGroup, DirectoryUser, ExpiringUser
from connectors.errors import ConnectorError, GroupNotFound, Unavailable
from store.nudges import NudgeStore

log = get_logger("helpdesk.nudges")
T = TypeVar("T")


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
        now: Now | None = None,
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
        self._clock = now or utc_now
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
        if not self.dry_run:
            metrics.sweep_progress(self.summary.settled, self._inflight)
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
        days = nudge.days_left
        when = "today" if days == 0 else ("in 1 day" if days == 1 else f"in {days} days")
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
        completed = False
        try:
            await self._sweep(before)
            completed = True
        finally:
            if not self.dry_run:
                metrics.sweep_ended(completed)
        return self.summary

    async def _sweep(self, before: datetime) -> None:
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
            zone = self.transport.zone_for(row.user.email) if self.transport else None
            outcome = assess(row, source, self.settings, self.now, zone)
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
