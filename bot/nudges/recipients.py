"""Email -> Slack user id for a sweep, by ``users.list`` pages and ``users.lookupByEmail``.

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
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.nudges.slack_api import SlackApi, SlackCallError
from config.clock import Now, utc_now
from config.logging import get_logger
from store.nudges import SlackDirectoryCache

log = get_logger("helpdesk.nudges.slack")


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
        now: Now | None = None,
    ) -> None:
        self.api = api
        self._now = now or utc_now
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
