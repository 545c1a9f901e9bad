"""Password-expiry nudges in Slack: finding people, the DM, the IT summary, ``helpdesk nudges``.

How an email becomes a Slack user id decides how fast a large run can be.
``users.lookupByEmail`` is Tier 3 (50+ a minute, api.slack.com/methods/users.lookupByEmail),
so one call per person caps a run at about 50 nudges a minute: 10,000 people take
200 minutes. ``users.list`` is Tier 2 (20+ a minute) but returns up to ~200 people
per page (api.slack.com/methods/users.list recommends no more than 200), so 100,000
members are 500 pages, 25 minutes at 20 a minute, and then the only limit left on
nudging is ``chat.postMessage`` itself. The default (``slack_lookup: auto``) does both
at once: it pages ``users.list`` and, with the lookup method's own budget, asks
``users.lookupByEmail`` for the people the list has not reached yet; each person
goes with whichever answers first, and paging stops as soon as nobody is waiting.
A run with few nudges ends after a few lookups; a big one is paced by
``chat.postMessage``.

``chat.postMessage`` takes the person's user id as the channel (their DM with the
app, api.slack.com/methods/chat.postMessage), so no ``conversations.open`` is
needed. Its limits are about one message a second per channel (each DM is its own
channel) plus a workspace-wide limit Slack does not publish; both are configurable
(``nudges.rate_limits``).

Every call here goes through the sweep's client-side limiters and handles 429
itself: slack_sdk's retry handlers are off for this client (its default one resends
on a dropped connection, which for ``chat.postMessage`` could post twice). A 429 is
never a lost request: the call waits ``Retry-After`` (every caller of that method
waits with it) and is sent again.

Each nudge carries its key's digest as the ``block_id`` of its first block, so after
a crash the next run can tell from the DM history (``conversations.history``, scope
``im:history``) whether it went out.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from actions.nudges import (
    Delivered,
    DeliveryFailed,
    HistoryUnavailable,
    Nudge,
    NudgeRunner,
    RunSummary,
    build_limiters,
    dry_run,
    sources_for,
)
from actions.providers import Providers
from actions.ratelimit import Clock, Limiters, SystemClock
from bot.slack.client import web_client
from bot.slack.limits import SlackLimiter
from bot.views.nudges import (
    NUDGE_BLOCK_PREFIX,
    nudge_marker,
    render_nudge,
    render_summary,
    short_duration,
    summary_lines,
)
from config.logging import get_logger
from config.nudges import NudgeSettings
from config.secrets import MissingSecret
from config.settings import HelpdeskConfig
from store.nudges import NudgeKey, NudgeStore, RunStatus, SlackDirectoryCache
from store.slack_directory import SlackDirectoryStore

log = get_logger("helpdesk.nudges.slack")

# Errors meaning the bot may not read its DM history: delivery can't be confirmed.
_NO_HISTORY = frozenset(
    {"unknown_method", "missing_scope", "not_allowed_token_type", "no_permission",
     "method_not_supported_for_channel_type"}
)
# A Slack call that failed without an answer is sent again this many times (backoff).
_MAX_TRANSIENT_ATTEMPTS = 5
_HISTORY_PAGES = 5


class SlackCallError(Exception):
    """A Web API call failed for good: Slack's ``error`` code, or the transport's.

    ``maybe_sent`` is True when Slack may have acted on it (a timeout or a 5xx after
    the request went out).
    """

    def __init__(self, method: str, error: str, *, maybe_sent: bool = False) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error
        self.maybe_sent = maybe_sent


def _retry_after(headers: Mapping[str, Any] | None) -> float:
    """Seconds from a 429's ``Retry-After`` (Slack sends whole seconds); 1 when absent."""
    for name, value in (headers or {}).items():
        if str(name).lower() == "retry-after":
            try:
                return max(0.0, float(value if not isinstance(value, list) else value[0]))
            except (TypeError, ValueError):
                break
    return 1.0


class SlackApi:
    """Web API calls for the sweep: paced by the limiters, 429s waited out and resent.

    ``stats`` counts, per method, calls sent, 429s seen (each then resent), and the
    errors Slack answered (``"users.lookupByEmail users_not_found"``...).
    """

    def __init__(
        self,
        client: AsyncWebClient,
        limiters: Limiters,
        *,
        clock: Clock | None = None,
        backoff: float = 0.5,
    ) -> None:
        self.client = client
        self.limiters = limiters
        self._clock = clock or SystemClock()
        self._backoff = backoff
        self.calls: collections.Counter[str] = collections.Counter()
        self.rate_limited: collections.Counter[str] = collections.Counter()
        self.retried: collections.Counter[str] = collections.Counter()
        self.failures: collections.Counter[str] = collections.Counter()
        self.waited_s: collections.defaultdict[str, float] = collections.defaultdict(float)

    def stats(self) -> dict[str, Any]:
        """Counters by method (JSON-ready)."""
        return {
            "calls": dict(self.calls),
            "rate_limited": dict(self.rate_limited),
            "rate_limited_total": sum(self.rate_limited.values()),
            "retry_after_waited_s": {k: round(v, 3) for k, v in self.waited_s.items()},
            "transient_retries": dict(self.retried),
            "failures": dict(self.failures),
        }

    async def _acquire(self, method: str, channel: str | None) -> None:
        bucket = self.limiters.bucket(method)
        if bucket is not None:
            await bucket.acquire()
        per_channel = self.limiters.per_key(f"{method}:channel")
        if per_channel is not None and channel is not None:
            await per_channel.acquire(channel)

    def _throttled(self, method: str, channel: str | None, wait: float) -> None:
        self.rate_limited[method] += 1
        self.waited_s[method] += wait
        # Slack does not say which limit answered; with one message per DM it is the
        # method's workspace-wide one, so every caller of the method waits.
        bucket = self.limiters.bucket(method)
        if bucket is not None:
            bucket.throttled(wait)
        per_channel = self.limiters.per_key(f"{method}:channel")
        if per_channel is not None and channel is not None:
            per_channel.bucket(channel).throttled(wait)

    async def call(
        self,
        method: str,
        send: Callable[[], Awaitable[AsyncSlackResponse]],
        *,
        channel: str | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Send one Web API call until Slack answers it; return the answer's data.

        429: wait ``Retry-After`` and send again, without limit (Slack did not act on
        it). No answer or a 5xx: send again with backoff when that cannot do anything
        twice (reads, or a connection that never opened); otherwise raise with
        ``maybe_sent``. Any other error: raise :class:`SlackCallError` with its code.
        """
        transient = 0
        while True:
            await self._acquire(method, channel)
            self.calls[method] += 1
            try:
                response = await send()
                data = response.data
                return data if isinstance(data, dict) else {}
            except SlackApiError as exc:
                status = int(getattr(exc.response, "status_code", 0) or 0)
                if status == 429:
                    wait = _retry_after(getattr(exc.response, "headers", None))
                    log.debug("slack_rate_limited", method=method, retry_after_s=wait)
                    self._throttled(method, channel, wait)
                    continue
                body = getattr(exc.response, "data", None)
                error = str(body.get("error")) if isinstance(body, dict) else f"http_{status}"
                if status >= 500 and idempotent:
                    transient += 1
                    if transient < _MAX_TRANSIENT_ATTEMPTS:
                        await self._pause(method, transient)
                        continue
                self.failures[f"{method} {error}"] += 1
                raise SlackCallError(
                    method, error, maybe_sent=status >= 500 and not idempotent
                ) from None
            except aiohttp.ClientConnectorError:
                # The connection never opened: the request cannot have reached Slack.
                transient += 1
                if transient < _MAX_TRANSIENT_ATTEMPTS:
                    await self._pause(method, transient)
                    continue
                self.failures[f"{method} connection_failed"] += 1
                raise SlackCallError(method, "connection_failed") from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                transient += 1
                if idempotent and transient < _MAX_TRANSIENT_ATTEMPTS:
                    await self._pause(method, transient)
                    continue
                self.failures[f"{method} {type(exc).__name__}"] += 1
                raise SlackCallError(
                    method, type(exc).__name__, maybe_sent=not idempotent
                ) from None

    async def _pause(self, method: str, attempt: int) -> None:
        self.retried[method] += 1
        ceiling = min(8.0, self._backoff * 2 ** (attempt - 1))
        await self._clock.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not secrets


def _usable(member: Mapping[str, Any]) -> bool:
    """A person who can get a DM and use the bot: not deactivated, a bot, or a guest."""
    return not (
        member.get("deleted")
        or member.get("is_bot")
        or member.get("is_app_user")
        or member.get("id") == "USLACKBOT"
        or member.get("is_restricted")
        or member.get("is_ultra_restricted")
    )


def _email_of(member: Mapping[str, Any]) -> str | None:
    profile = member.get("profile") or {}
    email = profile.get("email") if isinstance(profile, Mapping) else None
    return str(email).strip().lower() if email else None


class SlackRecipients:
    """Email → Slack user id for one run, by ``users.list`` pages and/or lookups.

    ``recipient(email)`` returns a future at once; it is resolved (None: no usable
    account) as soon as either source knows, in whatever order that happens.

    With a ``cache``, ``prepare()`` starts from what earlier runs learnt (entries
    younger than ``ttl``): after a listing that completed within ``ttl`` nobody is
    listed again, and only people missing from it are looked up (new hires); an
    unfinished pass continues from its saved cursor. Each page read is saved as it
    arrives, so a killed run loses nothing it had already listed.
    """

    def __init__(
        self,
        api: SlackApi,
        strategy: str,
        page_size: int,
        *,
        cache: SlackDirectoryCache | None = None,
        ttl: timedelta = timedelta(hours=12),
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.api = api
        self._now = now or (lambda: datetime.now(UTC))
        self.use_list = strategy in ("auto", "users_list")
        self.use_lookup = strategy in ("auto", "lookup_by_email")
        self.page_size = page_size
        self.cache = cache
        self.ttl = ttl
        self.listed_pages = 0
        self.cached_entries = 0
        self._known: dict[str, str | None] = {}
        self._pending: dict[str, list[asyncio.Future[str | None]]] = {}
        self._queue: collections.deque[str] = collections.deque()
        self._wake = asyncio.Event()
        self._listed = False  # this run listed everyone: absent means no account
        self._cached_listing = False  # a recent complete listing: absent means "look up"
        self._resume: tuple[str, datetime] | None = None
        self._list_failed: SlackCallError | None = None
        self._requests_done = False
        self._tasks: list[asyncio.Task[None]] = []

    async def prepare(self) -> None:
        """Load the cached directory and the listing position (no-op without a cache)."""
        if self.cache is None:
            return
        now = self._now()
        self._known.update(await self.cache.load(since=now - self.ttl))
        self.cached_entries = len(self._known)
        state = await self.cache.listing()
        if state is None:
            return
        if state.completed_at is not None and state.completed_at >= now - self.ttl:
            self._cached_listing = True
        elif state.cursor and state.started_at >= now - self.ttl:
            self._resume = (state.cursor, state.started_at)

    def recipient(self, email: str) -> asyncio.Future[str | None]:
        """A future of the user id for ``email`` (None: no usable Slack account)."""
        key = email.strip().lower()
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        if key in self._known:
            future.set_result(self._known[key])
            return future
        absent = self._listed or (self._cached_listing and not self.use_lookup)
        if absent:
            future.set_result(None)
            return future
        lists = self.use_list and not self._cached_listing
        if not self.use_lookup and self._list_failed is not None:
            future.set_exception(self._list_failed)
            return future
        waiting = self._pending.setdefault(key, [])
        waiting.append(future)
        if len(waiting) == 1 and self.use_lookup:
            self._queue.append(key)
            self._wake.set()
        self._start(lists)
        return future

    def requests_done(self) -> None:
        """No more emails will be asked for: stop once nobody is waiting."""
        self._requests_done = True
        self._maybe_stop()

    async def aclose(self) -> None:
        """Cancel the background paging and lookups."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for futures in self._pending.values():
            for future in futures:
                if not future.done():
                    future.cancel()

    def _start(self, lists: bool) -> None:
        if self._tasks:
            return
        if lists:
            self._tasks.append(asyncio.create_task(self._list(), name="slack-users-list"))
        if self.use_lookup:
            self._tasks.extend(
                asyncio.create_task(self._lookups(), name=f"slack-lookup-{i}") for i in range(2)
            )

    def _maybe_stop(self) -> None:
        if self._requests_done and not self._pending:
            current = asyncio.current_task()
            for task in self._tasks:
                if task is not current:
                    task.cancel()

    def _resolve(self, key: str, user_id: str | None) -> None:
        for future in self._pending.pop(key, ()):
            if not future.done():
                future.set_result(user_id)
        self._maybe_stop()

    def _fail(self, key: str, error: SlackCallError) -> None:
        for future in self._pending.pop(key, ()):
            if not future.done():
                future.set_exception(error)
        self._maybe_stop()

    async def _list(self) -> None:
        cursor, started = self._resume or (None, self._now())
        try:
            try:
                await self._list_from(cursor, started)
            except SlackCallError as exc:
                if cursor is None or exc.error != "invalid_cursor":
                    raise
                log.info("slack_users_list_restarted", reason="saved cursor refused")
                await self._list_from(None, self._now())
        except SlackCallError as exc:
            log.warning("slack_users_list_failed", error=exc.error)
            self._list_failed = exc
            if not self.use_lookup:
                for key in list(self._pending):
                    self._fail(key, exc)
            return
        # The whole workspace was listed: whoever is still waiting has no account.
        self._listed = True
        for key in list(self._pending):
            self._resolve(key, None)

    async def _list_from(self, cursor: str | None, started: datetime) -> None:
        client = self.api.client
        while True:
            data = await self.api.call(
                "users.list",
                functools.partial(client.users_list, limit=self.page_size, cursor=cursor),
            )
            self.listed_pages += 1
            entries: list[tuple[str, str | None]] = []
            for member in data.get("members") or ():
                email = _email_of(member)
                if not email:
                    continue
                user_id = str(member.get("id")) if _usable(member) else None
                entries.append((email, user_id))
                self._known[email] = user_id
                if email in self._pending:
                    self._resolve(email, user_id)
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "") or None
            if self.cache is not None:
                await self.cache.remember(
                    entries, now=self._now(), cursor=cursor, pass_started=started
                )
            if cursor is None:
                break
        if self.cache is not None:
            await self.cache.complete(pass_started=started, now=self._now())

    async def _lookups(self) -> None:
        client = self.api.client
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            key = self._queue.popleft()
            if key not in self._pending:
                continue
            try:
                data = await self.api.call(
                    "users.lookupByEmail", functools.partial(client.users_lookupByEmail, email=key)
                )
            except SlackCallError as exc:
                if exc.error == "users_not_found":
                    await self._learn(key, None)
                elif not self.use_list or self._cached_listing or self._list_failed is not None:
                    self._fail(key, exc)
                continue
            member = data.get("user") or {}
            await self._learn(key, str(member.get("id")) if _usable(member) else None)

    async def _learn(self, key: str, user_id: str | None) -> None:
        self._known[key] = user_id
        self._resolve(key, user_id)
        if self.cache is not None:
            await self.cache.remember([(key, user_id)], now=self._now())


# -- the transport -------------------------------------------------------------------------


class SlackNudgeTransport:
    """:class:`~actions.nudges.NudgeTransport` over Slack's Web API, for one run."""

    def __init__(
        self,
        api: SlackApi,
        settings: NudgeSettings,
        it_channel: str | None,
        *,
        cache: SlackDirectoryCache | None = None,
        now: Callable[[], datetime] | None = None,
        profiles: SlackDirectoryStore | None = None,
        dm_channel: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self.api = api
        self.dm_channel = dm_channel
        self.settings = settings
        self.zone = settings.zone
        self.profiles = profiles
        self._zones: dict[str, str] = {}
        self.it_channel = it_channel or None
        self.recipients = SlackRecipients(
            api,
            settings.slack_lookup,
            settings.users_list_page_size,
            cache=cache,
            ttl=settings.slack_directory_ttl,
            now=now,
        )

    async def prepare(self) -> None:
        """Load the cached Slack directory, and everyone's time zone from the stored profiles."""
        await self.recipients.prepare()
        if self.profiles is not None:
            self._zones = await self.profiles.zones_by_email()

    def zone_for(self, email: str) -> ZoneInfo | None:
        """The person's time zone from their stored Slack profile; None when unknown."""
        name = self._zones.get(email.strip().lower())
        if not name:
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None

    def recipient(self, email: str) -> asyncio.Future[str | None]:
        """The Slack user id for ``email`` (see :class:`SlackRecipients`)."""
        return self.recipients.recipient(email)

    def requests_done(self) -> None:
        """No more lookups this run."""
        self.recipients.requests_done()

    async def deliver(self, nudge: Nudge, recipient: str) -> Delivered:
        """Post the nudge in the person's DM (their user id as the channel)."""
        text, blocks = render_nudge(nudge, self.zone)  # the person's zone, when the nudge has it
        client = self.api.client
        try:
            data = await self.api.call(
                "chat.postMessage",
                lambda: client.chat_postMessage(
                    channel=recipient, text=text, blocks=blocks, unfurl_links=False
                ),
                channel=recipient,
                idempotent=False,
            )
        except SlackCallError as exc:
            raise DeliveryFailed(f"slack_{exc.error}", maybe_sent=exc.maybe_sent) from None
        return Delivered(str(data.get("channel") or recipient), str(data.get("ts") or ""))

    async def find_delivery(
        self, key: NudgeKey, recipient: str, since: datetime
    ) -> Delivered | None:
        """Look for the nudge's message in the DM history since ``since``."""
        client = self.api.client
        marker = nudge_marker(key)
        try:
            channel = await self._dm(recipient)
            cursor: str | None = None
            for _ in range(_HISTORY_PAGES):
                data = await self.api.call(
                    "conversations.history",
                    functools.partial(
                        client.conversations_history,
                        channel=channel,
                        oldest=f"{since.timestamp():.6f}",
                        inclusive=True,
                        limit=100,
                        cursor=cursor,
                    ),
                )
                for message in data.get("messages") or ():
                    for block in message.get("blocks") or ():
                        if isinstance(block, dict) and block.get("block_id") == marker:
                            return Delivered(channel, str(message.get("ts") or ""))
                cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
                if not data.get("has_more") or not cursor:
                    return None
        except SlackCallError as exc:
            if exc.error in _NO_HISTORY:
                raise HistoryUnavailable(exc.error) from None
            raise DeliveryFailed(f"slack_{exc.error}") from None
        raise DeliveryFailed("slack_history_too_long")

    async def _dm(self, recipient: str) -> str:
        """The DM with ``recipient``: the running bot's stored one, else conversations.open."""
        if self.dm_channel is not None:
            try:
                return await self.dm_channel(recipient)
            except SlackApiError as exc:
                error = exc.response.get("error", "unknown") if exc.response else "unknown"
                raise SlackCallError("conversations.open", str(error)) from None
        client = self.api.client
        opened = await self.api.call(
            "conversations.open", lambda: client.conversations_open(users=recipient)
        )
        return str((opened.get("channel") or {}).get("id") or "")

    async def post_summary(self, summary: RunSummary) -> None:
        """Post the run's summary to the IT channel (logged only when none is set)."""
        text, blocks = render_summary(summary, self.zone)
        if not self.it_channel:
            log.info("nudge_summary", text=" | ".join(summary_lines(summary, self.zone)))
            return
        channel = self.it_channel
        client = self.api.client
        try:
            await self.api.call(
                "chat.postMessage",
                lambda: client.chat_postMessage(channel=channel, text=text, blocks=blocks),
                channel=channel,
                idempotent=False,
            )
        except SlackCallError as exc:
            log.warning("nudge_summary_not_posted", channel=channel, error=exc.error)

    def stats(self) -> dict[str, Any]:
        """Calls and 429s by method, and the users.list pages read."""
        return {
            **self.api.stats(),
            "users_list_pages": self.recipients.listed_pages,
            "cached_directory_entries": self.recipients.cached_entries,
        }

    async def aclose(self) -> None:
        """Stop the run's background lookups."""
        await self.recipients.aclose()


# -- wiring --------------------------------------------------------------------------------


def nudge_client(
    token: str,
    base_url: str | None,
    settings: NudgeSettings,
    session: Any = None,
    limiter: SlackLimiter | None = None,
) -> AsyncWebClient:
    """A Web API client for the sweep: its own timeout, and no retries (see above).

    In the running bot ``limiter`` is the one its replies use, so a sweep and a burst of
    conversations share Slack's budgets; a 429 is handed to the sweep, which waits it out.
    """
    return web_client(
        token, base_url, session, limiter=limiter, retry_deadline=0.0,
        timeout=int(max(1, settings.request_timeout.total_seconds())),
    )


def it_channel_of(cfg: HelpdeskConfig) -> str | None:
    """``nudges.it_channel``, else the organisation's IT channel; "" means none."""
    channel = cfg.nudges.it_channel
    if channel is None:
        channel = cfg.organisation.it_channel
    return channel or None


def build_runner(
    cfg: HelpdeskConfig,
    providers: Providers,
    store: NudgeStore,
    client: AsyncWebClient,
    *,
    on_progress: Callable[[RunSummary], None] | None = None,
    now: Callable[[], datetime] | None = None,
    dm_channel: Callable[[str], Awaitable[str]] | None = None,
) -> NudgeRunner:
    """Everything a sweep needs, from the configuration and the running bot's parts.

    ``now`` replaces the wall clock the sweep decides by (tests); ``dm_channel`` is the
    running bot's stored DM channels (``SlackDirectory.dm_channel``).
    """
    settings = cfg.nudges
    sources = sources_for(cfg, providers)
    limiters = build_limiters(settings.rate_limits, [s.name for s in sources])
    api = SlackApi(client, limiters)
    channel = it_channel_of(cfg)
    cache = SlackDirectoryCache(store.engine)
    profiles = SlackDirectoryStore(store.engine)

    def transport() -> SlackNudgeTransport:
        return SlackNudgeTransport(
            api, settings, channel, cache=cache, now=now, profiles=profiles,
            dm_channel=dm_channel,
        )

    return NudgeRunner(
        settings, sources, store, transport, limiters, on_progress=on_progress, now=now
    )


def start_nudges(cfg: HelpdeskConfig, surface: Any) -> asyncio.Task[None] | None:
    """Start the nudge scheduler next to a running Slack surface; None when it is off.

    ``surface`` is a :class:`bot.slack.surface.SlackSurface`: its store, providers and the
    token, base URL and HTTP session of its Web API client are reused.
    """
    from bot.scheduler import NudgeScheduler

    settings = cfg.nudges
    runtime = surface.runtime
    if not settings.enabled:
        log.info("nudges_disabled")
        return None
    try:
        sources = sources_for(cfg, runtime.providers)
    except ValueError as exc:
        log.error("nudges_not_started", error=str(exc))
        return None
    if not sources:
        log.info("nudges_not_started", reason="no connector reports password expiry")
        return None
    base: AsyncWebClient = surface.client
    client = nudge_client(
        str(base.token), base.base_url, settings, base.session,
        getattr(base, "limiter", None),
    )
    store = NudgeStore(runtime.store.engine)
    directory = getattr(surface, "directory", None)
    runner = build_runner(
        cfg, runtime.providers, store, client,
        dm_channel=directory.dm_channel if directory is not None else None,
    )
    scheduler = NudgeScheduler(settings, runner, store)
    return asyncio.create_task(scheduler.run_forever(), name="nudge-scheduler")


# -- the command line ------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar on a terminal (a line every few seconds elsewhere).

    The directories are read as a stream, so the total is not known up front: the bar
    shows the people settled out of those found due so far, and the users scanned.
    """

    def __init__(self, stream: TextIO, *, width: int = 30, every: float = 5.0) -> None:
        self.stream = stream
        self.width = width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every = 0.1 if self.tty else every
        self._last = 0.0
        self._drawn = False

    def _line(self, summary: RunSummary) -> str:
        settled = summary.settled
        due = max(summary.due, 1)
        filled = int(self.width * min(settled, due) / due)
        bar = "█" * filled + "░" * (self.width - filled)
        return (
            f"[{bar}] {settled:,}/{summary.due:,} due settled · "
            f"{summary.scanned:,} expiring users scanned · {short_duration(summary.seconds)}"
        )

    def update(self, summary: RunSummary) -> None:
        """Redraw, at most every ``every`` seconds."""
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        self._draw(summary)

    def _draw(self, summary: RunSummary) -> None:
        line = self._line(summary)
        if self.tty:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._drawn = True

    def finish(self, summary: RunSummary) -> None:
        """Draw the final state and end the line."""
        self._draw(summary)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def print_dry_run(summary: RunSummary, zone: ZoneInfo, out: TextIO, *, verbose: bool) -> None:
    """Who would be nudged and why (``verbose``: who would not, and why not, too)."""
    for decision in sorted(summary.decisions, key=lambda d: (d.outcome, d.email)):
        if decision.outcome != "would_nudge" and not verbose:
            continue
        who = decision.email or f"(no email) {decision.user_id}"
        why = f": {decision.detail}" if decision.detail else ""
        out.write(f"{decision.outcome:<24} {who} [{decision.source} {decision.user_id}]{why}\n")
    for line in summary_lines(summary, zone):
        out.write(line + "\n")


async def run_cli(
    cfg: HelpdeskConfig,
    *,
    dry: bool,
    check_slack: bool = False,
    as_json: bool = False,
    verbose: bool = False,
    progress: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """``helpdesk nudges --dry-run`` or ``--now``; returns the exit status.

    0: the run completed and nothing failed; 1: some nudges failed, the run did not
    complete, or another replica is sweeping now; 2: the configuration is unusable.
    """
    from store.db import Store

    out = out or sys.stdout
    err = err or sys.stderr
    environ = os.environ if environ is None else environ
    settings = cfg.nudges
    need_slack = not dry or check_slack
    token: str | None = None
    if need_slack:
        try:
            token = cfg.slack.bot_token.resolve(environ).reveal()
        except MissingSecret as exc:
            err.write(f"nudges: no Slack bot token ({exc})\n")
            return 2
    providers = Providers.from_config(cfg, environ)
    try:
        sources = sources_for(cfg, providers)
    except ValueError as exc:
        err.write(f"nudges: {exc}\n")
        await providers.aclose()
        return 2
    bar = ProgressBar(err) if progress else None
    store = await Store.open(cfg.database_url)
    session = aiohttp.ClientSession() if need_slack else None
    try:
        nudge_store = NudgeStore(store.engine)
        client = (
            nudge_client(token, cfg.slack.api_base_url, settings, session)
            if token is not None
            else None
        )
        if dry:
            names = [s.name for s in sources]
            limiters = build_limiters(settings.rate_limits, names, SystemClock())
            transport = (
                SlackNudgeTransport(
                    SlackApi(client, limiters), settings, None,
                    profiles=SlackDirectoryStore(store.engine),
                )
                if client is not None
                else None
            )
            summary = await dry_run(
                settings, sources, store=nudge_store, transport=transport, limiters=limiters,
                on_progress=bar.update if bar else None,
            )
            if bar:
                bar.finish(summary)
            if as_json:
                out.write(json.dumps({**summary.as_dict(), "decisions": [
                    d.__dict__ for d in summary.decisions
                    if verbose or d.outcome == "would_nudge"
                ]}) + "\n")
            else:
                print_dry_run(summary, settings.zone, out, verbose=verbose)
            return 0 if summary.status == RunStatus.COMPLETED else 1
        assert client is not None
        runner = build_runner(
            cfg, providers, nudge_store, client, on_progress=bar.update if bar else None
        )
        result = await runner.run(trigger="manual")
        if result is None:
            err.write("nudges: another replica is sweeping now; nothing was done\n")
            return 1
        if bar:
            bar.finish(result)
        if as_json:
            out.write(json.dumps(result.as_dict()) + "\n")
        else:
            for line in summary_lines(result, settings.zone):
                out.write(line + "\n")
        return 0 if result.status == RunStatus.COMPLETED and not result.failed_total else 1
    finally:
        await providers.aclose()
        if session is not None:
            await session.close()
        await store.close()


__all__ = [
    "NUDGE_BLOCK_PREFIX",
    "ProgressBar",
    "SlackApi",
    "SlackCallError",
    "SlackNudgeTransport",
    "SlackRecipients",
    "build_runner",
    "it_channel_of",
    "nudge_client",
    "nudge_marker",
    "render_nudge",
    "render_summary",
    "run_cli",
    "start_nudges",
    "summary_lines",
]
