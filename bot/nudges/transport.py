"""The sweep's :class:`~actions.nudges.NudgeTransport` over Slack: the DM and the IT summary.

``chat.postMessage`` takes the person's user id as the channel (their DM with the
app, api.slack.com/methods/chat.postMessage), so no ``conversations.open`` is
needed. Its limits are about one message a second per channel (each DM is its own
channel) plus a workspace-wide limit Slack does not publish; both are configurable
(``nudges.rate_limits``).

Each nudge carries its key's digest as the ``block_id`` of its first block, so after
a crash the next run can tell from the DM history (``conversations.history``, scope
``im:history``) whether it went out.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.errors import SlackApiError

from actions.nudges import (
    Delivered,
    DeliveryFailed,
    HistoryUnavailable,
    Nudge,
    RunSummary,
)
from bot.nudges.recipients import SlackRecipients
from bot.nudges.slack_api import SlackApi, SlackCallError
from bot.views.nudges import (
    nudge_marker,
    render_nudge,
    render_summary,
    summary_lines,
)
from config.clock import Now
from config.i18n import speaking
from config.logging import get_logger
from config.nudges import NudgeSettings
from store.nudges import NudgeKey, SlackDirectoryCache
from store.slack_directory import SlackDirectoryStore

log = get_logger("helpdesk.nudges.slack")

# Errors meaning the bot may not read its DM history: delivery can't be confirmed.
_NO_HISTORY = frozenset(
    {"unknown_method", "missing_scope", "not_allowed_token_type", "no_permission",
     "method_not_supported_for_channel_type"}
)
_HISTORY_PAGES = 5


class SlackNudgeTransport:
    """:class:`~actions.nudges.NudgeTransport` over Slack's Web API, for one run."""

    def __init__(
        self,
        api: SlackApi,
        settings: NudgeSettings,
        it_channel: str | None,
        *,
        cache: SlackDirectoryCache | None = None,
        now: Now | None = None,
        profiles: SlackDirectoryStore | None = None,
        dm_channel: Callable[[str], Awaitable[str]] | None = None,
        language: str | None = None,
    ) -> None:
        self.api = api
        # Each nudge is written in the person's stored Slack locale, else this one
        # (the organisation's); the IT channel's summary stays in the source language.
        self.language = language
        self._locales: dict[str, str] = {}
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
            self._locales = await self.profiles.locales_by_email()

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

    def render(self, nudge: Nudge) -> tuple[str, list[dict[str, Any]]]:
        """The nudge's text and blocks, in the person's language and zone (stored profile)."""
        locale = self._locales.get(nudge.user.email.strip().lower())
        with speaking(locale, self.language):
            return render_nudge(nudge, self.zone)  # the person's zone, when the nudge has it

    async def deliver(self, nudge: Nudge, recipient: str) -> Delivered:
        """Post the nudge in the person's DM (their user id as the channel)."""
        text, blocks = self.render(nudge)
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
