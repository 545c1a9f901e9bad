"""The Slack surface: a Bolt AsyncApp whose listeners ack, parse, call the conversation, render.

Slack signs every request; Bolt's request verification rejects a missing or
wrong signature or a timestamp older than five minutes with 401 before any
listener runs. Event ids are recorded in the store, so a redelivery
(X-Slack-Retry-Num) or a duplicate is acknowledged and dropped.

Access requests add: the approvers' messages and the requester's news
(``SlackNotifier``, the ``AccessNotifier`` port), user groups and people by
email (``SlackPeople``), modal forms (a justification, a duration, a reason
for denying) and the App Home with "my requests" and "waiting for me".

The IT admins' view (``bot.admin_view``) adds, for members of
``organisation.it_admins``, pending approvals, recent actions and the last sweep to
the App Home, and connector health to ``/helpdesk status``; membership of their
user groups is read with ``usergroups.users.list`` and kept for a minute.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from actions.access import AccessSnapshot, Event, MessageRef
from actions.audit import Actor, new_correlation_id
from bot.admin_view import AdminView, ItAdmins
from bot.audit_cli import apply_retention
from bot.conversation import (
    SECRET_DONE,
    Home,
    Reply,
    approval_card,
    reminder_text,
    requester_news,
)
from bot.runtime import Runtime
from bot.slack.blocks import (
    FORM_CALLBACK,
    form_errors,
    form_view,
    home_view,
    parse_action_id,
    parse_submission,
    reply_blocks,
)
from bot.slack.identity import IdentityRefused, SlackIdentity
from bot.slack.server import COMMAND_ACK
from config.logging import get_logger

# How long processed event ids are kept to drop Slack's redeliveries (its last retry
# comes about 5 minutes after the first delivery).
EVENT_MEMORY = timedelta(days=1)
log = get_logger("helpdesk.slack")

#: When a click's form could not open in time (Slack allows 3 seconds from the click).
FORM_WINDOW_PASSED = (
    "I couldn't open the form in time (I was busy and Slack allows only a few seconds). "
    "Nothing has changed: please click the button again."
)

#: Seconds an IT user group's members are kept: a removal from the group counts within this.
IT_ADMINS_TTL = 60.0


class SlackNotifier:
    """Security notices to the configured channel, and every access-request message.

    Approval messages go to a user id (the app's DM with them) or a channel and
    are updated in place with ``chat.update``; a channel's reminder is a thread
    reply under the request. Without a security channel, notices are logged only.
    """

    def __init__(self, client: AsyncWebClient, channel: str | None) -> None:
        self.client = client
        self.channel = channel

    async def security_notice(self, text: str) -> None:
        if not self.channel:
            log.warning("security_notice_not_sent", reason="no security_channel configured")
            return
        await self.client.chat_postMessage(channel=self.channel, text=text)

    async def post_request(self, snapshot: AccessSnapshot, destination: str) -> MessageRef:
        card = approval_card(snapshot)
        resp = await self.client.chat_postMessage(
            channel=destination, text=card.text, blocks=reply_blocks(card)
        )
        return MessageRef(str(resp["channel"]), str(resp["ts"]))

    async def update_request(self, snapshot: AccessSnapshot, ref: MessageRef) -> None:
        card = approval_card(snapshot)
        await self.client.chat_update(
            channel=ref.channel, ts=ref.ts, text=card.text, blocks=reply_blocks(card)
        )

    async def remind(
        self, snapshot: AccessSnapshot, ref: MessageRef, recipient: str | None
    ) -> None:
        # In a channel the reminder threads under the request; in a DM it is a new message,
        # which notifies where an edit would not.
        thread = ref.ts if recipient is None else None
        await self.client.chat_postMessage(
            channel=ref.channel, text=reminder_text(snapshot), thread_ts=thread
        )

    async def tell_requester(self, snapshot: AccessSnapshot, event: Event) -> None:
        news = requester_news(snapshot, event)
        await self.client.chat_postMessage(
            channel=snapshot.request.requester, text=news.text, blocks=reply_blocks(news)
        )


class SlackPeople:
    """Slack user groups (``usergroups.users.list``) and people by email, cached briefly.

    ``usergroups.users.list`` is rate-limited at Tier 2, so members are kept for
    ``ttl`` seconds; an ``@handle`` is turned into its id with ``usergroups.list``.
    """

    def __init__(self, client: AsyncWebClient, ttl: float = 300.0) -> None:
        self.client = client
        self.ttl = ttl
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


class SlackSurface:
    """Wires a ``Runtime`` into a Bolt app."""

    def __init__(
        self,
        runtime: Runtime,
        client: AsyncWebClient,
        signing_secret: str,
        *,
        max_inflight: int = 32,
    ) -> None:
        self.runtime = runtime
        self.client = client
        where = runtime.service._where_to_go()
        self.identity = SlackIdentity(client, where)
        self.signing_secret = signing_secret
        # Listeners run to the end inside ``dispatch`` (the ingress has acked already), so
        # the tasks tracked here are the whole work and ``drain`` waits for all of it.
        self.app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            raise_error_for_unhandled_request=False,
            process_before_response=True,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        # Conversations in progress at once. Past this they queue: the event loop stays
        # free to acknowledge new requests within Slack's 3 seconds under a burst.
        self._slots = asyncio.Semaphore(max_inflight)
        # Clicks have their own: someone is looking at the button (and a form must open
        # within 3 seconds of it), so they don't queue behind a burst of new messages.
        self._click_slots = asyncio.Semaphore(max_inflight)
        # The IT admins' view, on the running bot's store and connectors; the conversation
        # asks it for the admins' App Home sections and for /helpdesk status.
        admins = ItAdmins(
            runtime.cfg.organisation.it_admins, SlackPeople(client, ttl=IT_ADMINS_TTL)
        )
        self.admin = AdminView(runtime.cfg, runtime.store, runtime.providers, admins)
        runtime.conversation.admin = self.admin
        self._register()

    async def dispatch(self, body: bytes, query: str, headers: dict[str, str]) -> BoltResponse:
        """Run one verified request through Bolt on this loop, tracked for a graceful shutdown."""
        request = AsyncBoltRequest(
            body=body.decode("utf-8"), query=query, headers=dict[str, Any](headers)
        )
        return await self._run(request)

    async def dispatch_payload(self, payload: dict[str, Any]) -> BoltResponse:
        """The same for a Socket Mode envelope's payload (no signature: the socket is Slack's)."""
        return await self._run(AsyncBoltRequest(body=payload, mode="socket_mode"))

    async def _run(self, request: AsyncBoltRequest) -> BoltResponse:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            return await self.app.async_dispatch(request)
        finally:
            if task is not None:
                self._tasks.discard(task)

    def start(self, body: bytes, query: str, headers: dict[str, str]) -> None:
        """Dispatch one acknowledged request in the background (call on this loop).

        The task is tracked from now, so ``drain`` waits for it even before it has run.
        """
        self._spawn(self.dispatch(body, query, headers))

    def start_payload(self, payload: dict[str, Any]) -> None:
        """``start`` for an acknowledged Socket Mode payload."""
        self._spawn(self.dispatch_payload(payload))

    def _spawn(self, work: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dispatch_failed", error=type(task.exception()).__name__)

    async def drain(self, grace: float = 10.0) -> None:
        """Wait for work already acknowledged to finish (graceful shutdown)."""
        # Hand-offs the ingress queued for this loop before it stopped start first.
        await asyncio.sleep(0)
        deadline = time.monotonic() + grace
        # Work can start more work (a form's submission, its follow-up): wait until none is left.
        while self._tasks and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(set(self._tasks), timeout=left)

    # -- delivery -------------------------------------------------------------------
    async def _post(self, channel: str, reply: Reply) -> None:
        # No previews: Slack's unfurler would fetch a one-time reset link (and could use it).
        resp = await self.client.chat_postMessage(
            channel=channel, text=reply.text, blocks=reply_blocks(reply),
            unfurl_links=False, unfurl_media=False,
        )
        if reply.secret_hide_at is not None:
            await self.runtime.store.remember_secret_message(
                str(resp["channel"]), str(resp["ts"]), reply.secret_hide_at,
                reply.secret_replacement,
            )

    async def _deliver(
        self,
        user_id: str,
        replies: list[Reply],
        prompt: tuple[str, str] | None = None,
        trigger_id: str | None = None,
    ) -> None:
        """Post replies in the user's DM; a reply to a click updates the clicked message.

        An ephemeral reply shows only to the user, where they clicked; a form opens
        as a modal with the click's ``trigger_id``.
        """
        if not replies:
            return
        dm = await self._dm_channel(user_id)
        for reply in replies:
            if reply.form is not None and trigger_id:
                await self._open_form(user_id, reply, prompt, trigger_id, dm)
            elif reply.ephemeral:
                await self._ephemeral(user_id, reply, prompt[0] if prompt else dm, dm)
            elif reply.replaces_prompt and prompt is not None:
                channel, ts = prompt
                await self.client.chat_update(
                    channel=channel, ts=ts, text=reply.text, blocks=reply_blocks(reply)
                )
            elif not reply.in_place_only:
                await self._post(dm, reply)

    async def _open_form(
        self, user_id: str, reply: Reply, prompt: tuple[str, str] | None, trigger_id: str,
        dm: str,
    ) -> None:
        """Open the form as a modal; if Slack's 3-second window for it has passed, say so."""
        assert reply.form is not None
        try:
            await self.client.views_open(trigger_id=trigger_id, view=form_view(reply.form, prompt))
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error not in ("expired_trigger_id", "exchanged_trigger_id"):
                raise
            log.warning("form_window_passed", slack_user=user_id, error=error)
            await self._ephemeral(
                user_id, Reply(FORM_WINDOW_PASSED), prompt[0] if prompt else dm, dm
            )

    async def _ephemeral(self, user_id: str, reply: Reply, where: str, dm: str) -> None:
        try:
            await self.client.chat_postEphemeral(
                channel=where, user=user_id, text=reply.text, blocks=reply_blocks(reply)
            )
        except SlackApiError:
            if where == dm:
                raise
            # The click came from a conversation the user isn't in (a forged payload, or
            # they left the channel): answer them in their own DM instead.
            await self.client.chat_postEphemeral(
                channel=dm, user=user_id, text=reply.text, blocks=reply_blocks(reply)
            )

    async def _dm_channel(self, user_id: str) -> str:
        resp = await self.client.conversations_open(users=user_id)
        return str(resp["channel"]["id"])

    async def _guarded(
        self,
        user_id: str,
        work: Callable[[Any], Awaitable[list[Reply]]],
        prompt: tuple[str, str] | None = None,
        trigger_id: str | None = None,
        *,
        click: bool = False,
    ) -> None:
        async with self._click_slots if click else self._slots:
            try:
                actor = await self.identity.resolve(user_id)
            except IdentityRefused as refused:
                log.info("identity_refused", slack_user=user_id, reason=refused.code)
                await self._deliver(user_id, [Reply(refused.user_message)])
                return
            replies = await work(actor)
            await self._deliver(user_id, replies, prompt, trigger_id)

    async def publish_home(self, user_id: str) -> None:
        """Publish the App Home: help for everyone, requests for identified people.

        Identified IT admins also get the admin sections (``Conversation.home``).
        """
        conv = self.runtime.conversation
        try:
            actor: Actor | None = await self.identity.resolve(user_id)
        except IdentityRefused:
            actor = None
        home = await conv.home(actor) if actor is not None else Home(conv._help())
        await self.client.views_publish(user_id=user_id, view=home_view(home))

    # -- listeners ------------------------------------------------------------------
    def _register(self) -> None:
        app = self.app
        conv = self.runtime.conversation

        @app.middleware
        async def drop_duplicates(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> Any:
            event_id = body.get("event_id")
            if (
                body.get("type") == "event_callback"
                and isinstance(event_id, str)
                and not await self.runtime.store.mark_event_processed(event_id)
            ):
                log.info("duplicate_event_dropped", event_id=event_id)
                return BoltResponse(status=200, body="")
            new_correlation_id()
            await next()
            return None

        @app.event("message")
        async def on_message(event: dict[str, Any]) -> None:
            # Only plain messages in the bot's DM; edits, bot echoes and joins are ignored.
            if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
                return
            user_id, text = event.get("user"), str(event.get("text") or "")
            if not user_id:
                return

            async def work(actor: Any) -> list[Reply]:
                return await conv.on_message(actor, text)

            await self._guarded(str(user_id), work)

        @app.command("/helpdesk")
        async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
            await ack(text=COMMAND_ACK)
            text = str(command.get("text") or "")

            async def work(actor: Any) -> list[Reply]:
                return await conv.on_command(actor, text)

            await self._guarded(str(command["user_id"]), work)

        @app.action(re.compile(r"^hd_[a-z_]+\.\d+$"))
        async def on_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
            await ack()
            user_id = str(body["user"]["id"])
            container = body.get("container") or {}
            channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
            ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
            prompt = (str(channel), str(ts)) if channel and ts else None
            name = parse_action_id(str(action.get("action_id", "")))
            value = str(action.get("value") or "")[:200]
            trigger_id = body.get("trigger_id")
            from_home = (body.get("view") or {}).get("type") == "home"
            if name == SECRET_DONE and prompt is not None:
                row = await self.runtime.store.find_secret_message(*prompt)
                if row is not None:
                    await self.runtime.store.mark_secret_hidden(row.id)

            async def work(actor: Any) -> list[Reply]:
                return await conv.on_button(actor, name, value)

            await self._guarded(
                user_id, work, prompt, str(trigger_id) if isinstance(trigger_id, str) else None,
                click=True,
            )
            if from_home:
                await self.publish_home(user_id)

        @app.view(FORM_CALLBACK)
        async def on_form(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
            user_id = str(body["user"]["id"])
            submission = parse_submission(view)
            if submission is None:
                log.warning("malformed_form_submission", slack_user=user_id)
                await ack()
                return
            errors = await conv.form_errors(
                user_id, submission.action, submission.value, submission.values
            )
            if errors:
                await ack(response_action="errors", errors=form_errors(errors))
                return
            await ack()

            async def work(actor: Any) -> list[Reply]:
                result = await conv.on_form(
                    actor, submission.action, submission.value, submission.values
                )
                if result.errors:
                    return [Reply("That didn't work: " + " ".join(result.errors.values()))]
                return list(result.replies)

            # The submission's answer (close the modal) must not wait for the work.
            self._spawn(self._guarded(user_id, work, submission.prompt))

        @app.event("app_home_opened")
        async def on_home(event: dict[str, Any]) -> None:
            if event.get("tab", "home") != "home":
                return
            await self.publish_home(str(event["user"]))

        @app.error
        async def on_error(error: Exception, body: dict[str, Any]) -> None:
            log.error("listener_failed", error=type(error).__name__, detail=str(error)[:300])

    # -- secrets janitor ------------------------------------------------------------
    async def hide_due_secrets(self) -> int:
        """Edit every DM whose secret is due to disappear; returns how many were hidden."""
        hidden = 0
        for row in await self.runtime.store.due_secret_messages():
            try:
                await self.client.chat_update(
                    channel=row.channel, ts=row.ts, text=row.replacement,
                    blocks=reply_blocks(Reply(row.replacement)),
                )
            except SlackApiError as exc:
                # A deleted message or a closed DM can't be edited; don't retry forever.
                log.warning("secret_hide_failed", channel=row.channel, error=str(exc)[:200])
            if await self.runtime.store.mark_secret_hidden(row.id):
                hidden += 1
        return hidden

    async def janitor(self, interval: float = 20.0, prune_every: float = 86_400.0) -> None:
        """Hide secrets whose time is up; apply the audit retention at start and then daily."""
        next_prune = 0.0
        while True:
            try:
                await self.hide_due_secrets()
            except Exception as exc:
                log.warning("janitor_round_failed", error=type(exc).__name__)
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + prune_every
                await self.prune_audit()
                await self.prune_events()
            await asyncio.sleep(interval)

    async def prune_events(self) -> int:
        """Forget processed event ids after a day (Slack redelivers within minutes)."""
        try:
            return await self.runtime.store.prune_events(EVENT_MEMORY)
        except Exception as exc:
            log.warning("event_prune_failed", error=type(exc).__name__)
            return 0

    async def prune_audit(self) -> int:
        """Delete audit records past ``audit.retention``; how many. Never raises.

        Several replicas may prune at once: each deletes by id in small batches, and a
        record another replica deleted first is simply not there.
        """
        try:
            outcome = await apply_retention(self.runtime.store, self.runtime.cfg)
        except Exception as exc:
            log.warning("audit_prune_failed", error=type(exc).__name__)
            return 0
        if outcome.pruned and outcome.cutoff is not None:
            log.info("audit_pruned", records=outcome.pruned, before=outcome.cutoff.isoformat())
        return outcome.pruned
