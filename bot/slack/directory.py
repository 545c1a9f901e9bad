"""The Slack people the bot knows: stored profiles and DM channels, so a burst costs no lookups.

Each reply of a burst used to cost a ``users.info`` (Tier 4, 100+ a minute) and a
``conversations.open`` (Tier 3, 50+ a minute) before the message itself; at those tiers
a burst of 500 conversations waits minutes for them (api.slack.com/docs/rate-limits).
``SlackDirectory`` removes both:

- **Profiles** are stored (``store.slack_directory``) and read from the store; they are
  refreshed in bulk with ``users.list`` (Tier 2, up to 200 people a page) at start-up and
  every ``slack.directory_refresh`` (one replica at a time, under a lease), and one by one
  from the ``user_change`` and ``team_join`` events. ``users.info`` is asked only about
  someone not stored yet. A replica keeps a profile in memory for ``ttl`` seconds
  (default 30), so a change Slack announces reaches every replica within a minute; the
  replica that got the event forgets its copy at once.
- **DM channels**: an employee's DM event names its channel, which the bot answers in and
  keeps. For a message the bot starts (an approval card, a result, a nudge) the channel
  is read from the store; only for someone never seen does one replica call
  ``conversations.open`` (``claim_dm`` makes it one across replicas), once per person.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from config.logging import get_logger
from store.leases import Leases, new_holder
from store.slack_directory import SlackDirectoryStore, StoredProfile

log = get_logger("helpdesk.slack")

#: The lease under which one replica reads everyone with users.list.
LISTING_LEASE = "slack-directory-listing"
#: A conversations.open claim older than this is taken over (its replica died).
CLAIM_STALE = timedelta(seconds=30)
#: DM channels whose person a replica keeps in memory (forgotten all at once past it).
MAX_OWNERS_KEPT = 100_000


def profile_of(user: Mapping[str, Any]) -> StoredProfile:
    """A Slack user object (users.info, users.list, an event) as a stored profile."""
    profile: Mapping[str, Any] = user.get("profile") or {}
    email = str(profile.get("email") or "").strip() or None
    confirmed = user.get("is_email_confirmed")
    enterprise = (user.get("enterprise_user") or {}).get("enterprise_id") or ""
    return StoredProfile(
        user_id=str(user.get("id") or ""),
        team_id=str(user.get("team_id") or ""),
        enterprise_id=str(enterprise),
        email=email,
        email_confirmed=None if confirmed is None else bool(confirmed),
        real_name=str(profile.get("real_name") or user.get("real_name") or user.get("name") or ""),
        deleted=bool(user.get("deleted")),
        is_bot=bool(user.get("is_bot") or user.get("is_app_user")),
        is_restricted=bool(user.get("is_restricted")),
        is_ultra_restricted=bool(user.get("is_ultra_restricted")),
        is_external=bool(user.get("is_external") or user.get("is_stranger")),
        tz=str(user.get("tz") or "").strip() or None,
        locale=str(user.get("locale") or "").strip() or None,
        updated=int(user.get("updated") or 0),
    )


def user_of(stored: StoredProfile) -> dict[str, Any]:
    """A stored profile in the shape of Slack's user object, for the identity rules."""
    user: dict[str, Any] = {
        "id": stored.user_id,
        "team_id": stored.team_id,
        "deleted": stored.deleted,
        "is_bot": stored.is_bot,
        "is_restricted": stored.is_restricted,
        "is_ultra_restricted": stored.is_ultra_restricted,
        "is_external": stored.is_external,
        "real_name": stored.real_name,
        "tz": stored.tz,
        "locale": stored.locale,
        "profile": {"email": stored.email, "real_name": stored.real_name},
    }
    if stored.email_confirmed is not None:
        user["is_email_confirmed"] = stored.email_confirmed
    if stored.enterprise_id:
        user["enterprise_user"] = {"enterprise_id": stored.enterprise_id}
    return user


class SlackDirectory:
    """Profiles and DM channels of Slack users: memory, then the store, then Slack."""

    def __init__(
        self,
        client: AsyncWebClient,
        store: SlackDirectoryStore,
        *,
        leases: Leases | None = None,
        ttl: float = 30.0,
        page_size: int = 200,
        clock: Callable[[], float] = time.monotonic,
        wait_step: float = 0.2,
    ) -> None:
        self.client = client
        self.store = store
        self.leases = leases
        self.ttl = ttl
        self.page_size = page_size
        self._clock = clock
        self._wait_step = wait_step
        self._holder = new_holder()
        self._profiles: dict[str, tuple[float, StoredProfile]] = {}
        # Shared with the client, whose per-channel budget then applies to a message
        # posted to a user id as to one posted to their DM channel.
        found = getattr(client, "dm_channels", None)
        self._dms: dict[str, str] = found if isinstance(found, dict) else {}
        # DM channel -> its person, as read from the store: a DM channel is one person's for
        # good, so a card's updates (their language) need no read after the first. A channel
        # of nobody known is asked again after ``ttl`` (when the person is known by then).
        self._owners: dict[str, tuple[float, str | None]] = {}
        self._opening: dict[str, asyncio.Future[str]] = {}
        self.listed_pages = 0

    # -- profiles -------------------------------------------------------------------
    async def user(self, user_id: str) -> dict[str, Any]:
        """The person's Slack user object, from the stored profile (users.info if unknown).

        Raises ``SlackApiError`` when Slack must be asked and refuses.
        """
        hit = self._profiles.get(user_id)
        if hit is not None and hit[0] > self._clock():
            return user_of(hit[1])
        stored = await self.store.profile(user_id)
        if stored is None:
            resp = await self.client.users_info(user=user_id, include_locale=True)
            stored = profile_of(resp.get("user") or {})
            await self.store.save_profiles([stored])
        self._profiles[user_id] = (self._clock() + self.ttl, stored)
        return user_of(stored)

    async def learn(self, user: Mapping[str, Any]) -> None:
        """Store a profile Slack sent (``user_change``, ``team_join``); forget the memory copy."""
        stored = profile_of(user)
        if not stored.user_id:
            return
        if stored.locale is None:
            # Slack sends a locale only when asked (include_locale), never in events:
            # keep the one users.list or users.info gave.
            known = await self.store.profile(stored.user_id)
            if known is not None and known.locale:
                stored = dataclasses.replace(stored, locale=known.locale)
        await self.store.save_profiles([stored])
        self._profiles.pop(stored.user_id, None)
        log.info("slack_profile_changed", slack_user=stored.user_id, deleted=stored.deleted)

    async def refresh(self) -> int:
        """Read everyone with users.list and store their profiles; how many were stored."""
        cursor: str | None = None
        stored = 0
        while True:
            resp = await self.client.users_list(
                limit=self.page_size, cursor=cursor, include_locale=True
            )
            self.listed_pages += 1
            members = [m for m in resp.get("members") or () if isinstance(m, Mapping)]
            stored += await self.store.save_profiles(profile_of(m) for m in members if m.get("id"))
            cursor = str((resp.get("response_metadata") or {}).get("next_cursor") or "") or None
            if cursor is None:
                return stored

    async def refresher(self, every: timedelta, retry: float = 60.0) -> None:
        """Refresh now, then every ``every``, on one replica at a time (a lease of ``every``).

        The lease is kept, not released, after a reading: no replica reads again before
        ``every`` has passed. ``every`` of zero: once, unless another replica already did.
        """
        hold = every if every > timedelta(0) else timedelta(days=3650)
        while True:
            try:
                if self.leases is None or await self.leases.take(LISTING_LEASE, self._holder, hold):
                    started = time.monotonic()
                    count = await self.refresh()
                    log.info("slack_directory_refreshed", profiles=count,
                             pages=self.listed_pages, seconds=round(time.monotonic() - started, 1))
                if every <= timedelta(0):
                    return
                await asyncio.sleep(min(every.total_seconds(), 3600.0))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("slack_directory_refresh_failed", error=type(exc).__name__)
                if self.leases is not None:
                    await self._release()
                await asyncio.sleep(retry)

    async def _release(self) -> None:
        assert self.leases is not None
        try:
            await self.leases.release(LISTING_LEASE, self._holder)
        except Exception as exc:
            log.warning("slack_directory_lease_not_released", error=type(exc).__name__)

    # -- DM channels ----------------------------------------------------------------
    async def heard_from(self, user_id: str, channel: str) -> None:
        """The person wrote in their DM ``channel``: keep it (stored once, for every replica)."""
        if not channel.startswith("D") or self._dms.get(user_id) == channel:
            return
        self._dms[user_id] = channel
        self._owners[channel] = (self._clock() + self.ttl, user_id)
        await self.store.remember_dm(user_id, channel)

    async def dm_owner(self, channel: str) -> str | None:
        """The person whose DM with the app ``channel`` is, when known (memory, then store)."""
        hit = self._owners.get(channel)
        if hit is not None and (hit[1] is not None or hit[0] > self._clock()):
            return hit[1]
        owner = await self.store.dm_owner(channel)
        if len(self._owners) >= MAX_OWNERS_KEPT:
            self._owners.clear()
        self._owners[channel] = (self._clock() + self.ttl, owner)
        return owner

    def known_dm(self, user_id: str) -> str | None:
        """The DM channel this replica already knows, without a store read."""
        return self._dms.get(user_id)

    async def dm_channel(self, user_id: str) -> str:
        """The app's DM channel with the person; conversations.open only for someone new."""
        known = self._dms.get(user_id)
        if known is not None:
            return known
        opening = self._opening.get(user_id)
        if opening is not None:
            return await asyncio.shield(opening)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._opening[user_id] = future
        try:
            channel = await self._find_or_open(user_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            self._opening.pop(user_id, None)
        self._dms[user_id] = channel
        future.set_result(channel)
        return channel

    async def _find_or_open(self, user_id: str) -> str:
        while True:
            stored = await self.store.dm_channel(user_id)
            if stored is not None:
                return stored
            if await self.store.claim_dm(user_id, CLAIM_STALE):
                try:
                    resp = await self.client.conversations_open(users=user_id)
                    channel = str(resp["channel"]["id"])
                except BaseException:
                    await self.store.release_dm(user_id)
                    raise
                await self.store.remember_dm(user_id, channel)
                return channel
            # Another replica is opening it: its answer lands in the store.
            await asyncio.sleep(self._wait_step)
