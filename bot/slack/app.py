"""The bot's ports onto Slack: access-request messages and people by email or group.

``SlackNotifier`` is the ``AccessNotifier`` port (the approvers' messages, their
reminders, the requester's news) and the security channel's notices;
``SlackPeople`` the ``PeopleDirectory`` (user groups and people by email). The
surface that answers employees is ``bot.slack.surface.SlackSurface``.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from actions.access import AccessSnapshot, Event, MessageRef
from actions.audit import Actor
from bot.slack.directory import SlackDirectory
from bot.views.access import approval_card, reminder_text, requester_news
from bot.views.blocks import reply_blocks
from bot.views.verification import push_prompt
from config.i18n import speaking
from config.logging import get_logger
from connectors.base import PushChallenge
from store.slack_directory import SlackDirectoryStore

if TYPE_CHECKING:
    from bot.slack.outbox.sender import Outbox

log = get_logger("helpdesk.slack")


class SlackNotifier:
    """Security notices to the configured channel, and every access-request message.

    Approval messages go to a user id (the app's DM with them) or a channel and
    are updated in place with ``chat.update``; a channel's reminder is a thread
    reply under the request. Without a security channel, notices are logged only.
    """

    def __init__(
        self, client: AsyncWebClient, channel: str | None, language: str | None = None
    ) -> None:
        self.client = client
        self.channel = channel
        # Cards and news are written in each person's Slack locale, else this (the
        # organisation's language); channels get this. ``directory`` (the stored Slack
        # profiles) is set once the surface exists.
        self.language = language
        self.directory: SlackDirectory | None = None
        # The outbox (set with the surface): messages that carry an outcome are stored
        # first and sent until Slack has them (``bot.slack.outbox``).
        self.outbox: Outbox | None = None

    async def _post(
        self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None, *,
        kind: str, thread_ts: str | None = None, user: str | None = None,
    ) -> None:
        """Post through the outbox when there is one, else straight to Slack."""
        if self.outbox is None:
            extra: dict[str, Any] = {"blocks": blocks} if blocks is not None else {}
            await self.client.chat_postMessage(
                channel=channel, text=text, thread_ts=thread_ts, **extra
            )
            return
        from bot.slack.outbox.message import POST, OutboxMessage

        await self.outbox.send(
            OutboxMessage(POST, channel, self.outbox.expiry(), text=text, blocks=blocks,
                          kind=kind, thread_ts=thread_ts, user=user),
            wait=False,
        )

    async def _speaking(self, destination: str) -> contextlib.AbstractContextManager[str]:
        """The language to write to ``destination`` in (a user id, their DM, or a channel)."""
        person: str | None = destination if destination[:1] in {"U", "W"} else None
        locale: str | None = None
        if self.directory is not None:
            if destination.startswith("D"):
                person = await self.directory.dm_owner(destination)
            try:
                user = await self.directory.user(person) if person else {}
            except SlackApiError:
                user = {}
            locale = user.get("locale")
        return speaking(locale, self.language)

    async def security_notice(self, text: str) -> None:
        if not self.channel:
            log.warning("security_notice_not_sent", reason="no security_channel configured")
            return
        await self._post(self.channel, text, kind="notice")

    async def direct_message(self, slack_user: str, text: str) -> None:
        """A DM from the bot (``chat.postMessage`` accepts a user id as the channel)."""
        await self._post(slack_user, text, kind="notice", user=slack_user)

    async def post_request(
        self, snapshot: AccessSnapshot, destination: str
    ) -> MessageRef | None:
        with await self._speaking(destination):
            card = approval_card(snapshot)
        if self.outbox is not None:
            # Stored first and sent until Slack has it, for as long as the request waits;
            # the outbox keeps where it landed with the request (``OutboxMessage.card``).
            from bot.slack.outbox.message import CARD, POST, OutboxMessage

            dm = destination[:1] in {"U", "W"}
            sent = await self.outbox.send(
                OutboxMessage(POST, destination, snapshot.request.expires_at, text=card.text,
                              blocks=reply_blocks(card), kind=CARD,
                              card=snapshot.request.id, user=destination if dm else None)
            )
            if sent is None:
                return None
            if dm and self.directory is not None:
                await self.directory.heard_from(destination, sent["channel"])
            return MessageRef(sent["channel"], sent["ts"], kept=True)
        resp = await self.client.chat_postMessage(
            channel=destination, text=card.text, blocks=reply_blocks(card)
        )
        ref = MessageRef(str(resp["channel"]), str(resp["ts"]))
        if self.directory is not None and destination[:1] in {"U", "W"}:
            # Kept, so the card's later updates know whose DM it is (and their language).
            await self.directory.heard_from(destination, ref.channel)
        return ref

    async def update_request(self, snapshot: AccessSnapshot, ref: MessageRef) -> None:
        with await self._speaking(ref.channel):
            card = approval_card(snapshot)
        if self.outbox is not None:  # the decision on the card: an edit, sent until it lands
            from bot.slack.outbox.message import UPDATE, OutboxMessage

            await self.outbox.send(
                OutboxMessage(UPDATE, ref.channel, self.outbox.expiry(), text=card.text,
                              blocks=reply_blocks(card), ts=ref.ts, kind="decision"),
                wait=False,
            )
            return
        await self.client.chat_update(
            channel=ref.channel, ts=ref.ts, text=card.text, blocks=reply_blocks(card)
        )

    async def remind(
        self, snapshot: AccessSnapshot, ref: MessageRef, recipient: str | None
    ) -> None:
        # In a channel the reminder threads under the request; in a DM it is a new message,
        # which notifies where an edit would not.
        thread = ref.ts if recipient is None else None
        with await self._speaking(recipient or ref.channel):
            text = reminder_text(snapshot)
        await self._post(ref.channel, text, kind="nudge", thread_ts=thread, user=recipient)

    async def tell_requester(self, snapshot: AccessSnapshot, event: Event) -> None:
        with await self._speaking(snapshot.request.requester):
            news = requester_news(snapshot, event)
        requester = snapshot.request.requester
        await self._post(requester, news.text, reply_blocks(news), kind="decision",
                         user=requester)


class SlackPushPrompter:
    """The ``PushPrompter`` port: the push's number, in the employee's DM with the bot."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def push_sent(self, actor: Actor, challenge: PushChallenge, label: str) -> None:
        prompt = push_prompt(challenge, label)
        await self.client.chat_postMessage(
            channel=actor.slack_user_id, text=prompt.text, blocks=reply_blocks(prompt)
        )


class SlackPeople:
    """Slack user groups (``usergroups.users.list``) and people by email, cached briefly.

    ``usergroups.users.list`` is rate-limited at Tier 2, so members are kept for
    ``ttl`` seconds; an ``@handle`` is turned into its id with ``usergroups.list``.
    A person by email is read from the stored Slack profiles (``profiles``) first, and
    asked of ``users.lookupByEmail`` (Tier 3) only when nobody stored has that email.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        ttl: float = 300.0,
        profiles: SlackDirectoryStore | None = None,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.profiles = profiles
        self._members: dict[str, tuple[float, list[str]]] = {}
        self._handles: dict[str, str] = {}

    async def usergroup_members(self, usergroup: str) -> list[str]:
        group_id = await self._group_id(usergroup)
        if group_id is None:
            return []
        hit = self._members.get(group_id)
        if hit and hit[0] > time.monotonic():
            return list(hit[1])
        try:
            resp = await self.client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning("usergroup_lookup_failed", usergroup=group_id, error=_slack_error(exc))
            return []
        members = [str(u) for u in resp.get("users") or []]
        self._members[group_id] = (time.monotonic() + self.ttl, members)
        return list(members)

    async def _group_id(self, usergroup: str) -> str | None:
        if not usergroup.startswith("@"):
            return usergroup
        handle = usergroup[1:]
        if handle not in self._handles:
            try:
                resp = await self.client.usergroups_list()
            except SlackApiError as exc:
                log.warning("usergroup_list_failed", error=_slack_error(exc))
                return None
            for group in resp.get("usergroups") or []:
                self._handles[str(group.get("handle"))] = str(group.get("id"))
        found = self._handles.get(handle)
        if found is None:
            log.warning("usergroup_unknown", handle=handle)
        return found

    async def user_for_email(self, email: str) -> str | None:
        if self.profiles is not None:
            stored = await self.profiles.profile_by_email(email)
            if stored is not None:
                return None if stored.deleted or stored.is_bot else stored.user_id
        try:
            resp = await self.client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            log.info("user_lookup_failed", error=_slack_error(exc))
            return None
        user: dict[str, Any] = resp.get("user") or {}
        if user.get("deleted") or user.get("is_bot") or not user.get("id"):
            return None
        return str(user["id"])


def _slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "unknown")) if exc.response else "unknown"
