"""The Slack surface: a Bolt AsyncApp whose listeners ack, parse, call the conversation, render.

Slack signs every request; Bolt's request verification rejects a missing or
wrong signature or a timestamp older than five minutes with 401 before any
listener runs. HTTP (``bot.slack.server``, through the ingress) and Socket Mode
(``bot.slack.socket_mode``) both hand their requests to one ``SlackSurface``.

The listeners are registered by kind (``bot.slack.listeners``); each hands the
employee's turn to ``SlackSurface.answer``, which identifies them, runs the
conversation, delivers its replies (``bot.slack.delivery``) and answers any
failure with the one handler (``bot.dialogues.failures``). Access requests add
modal forms and the App Home with "my requests" and "waiting for me".

The IT admins' view (``bot.admin_view``) adds, for members of
``organisation.it_admins``, pending approvals, recent actions and the last sweep to
the App Home, and connector health to ``/helpdesk status``; membership of their
user groups is read with ``usergroups.users.list`` and kept for a minute.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from actions.audit import Actor
from actions.busy import EMPLOYEE_NOTICE, Tell
from bot.admin_view import AdminView, ItAdmins
from bot.audit_cli import apply_retention
from bot.dialogues.failures import answered, as_is
from bot.health import Health
from bot.replies import Home, Reply
from bot.runtime import Runtime
from bot.slack.app import SlackPeople
from bot.slack.delivery import Delivery
from bot.slack.directory import SlackDirectory
from bot.slack.identity import IdentityRefused, SlackIdentity
from bot.slack.inbox import Inbox
from bot.slack.listeners import Deps, Work, register_all
from bot.slack.listeners.commands import command_ack
from bot.slack.outbox.sealing import Sealer
from bot.slack.outbox.sender import Outbox, hide_message
from bot.slack.server import Accepted, Readiness
from bot.views.blocks import reply_blocks
from bot.views.home import home_view
from bot.views.notices import PAGE_HEADER
from bot.views.notices import handle as notice_page
from config.logging import get_logger
from config.outbox import outbox_key
from store.slack_directory import SlackDirectoryStore

# How long processed event ids are kept to drop Slack's redeliveries (its last retry
# comes about 5 minutes after the first delivery).
EVENT_MEMORY = timedelta(days=1)
log = get_logger("helpdesk.slack")

#: Seconds an IT user group's members are kept: a removal from the group counts within this.
IT_ADMINS_TTL = 60.0

__all__ = ["EVENT_MEMORY", "IT_ADMINS_TTL", "SlackSurface"]


class SlackSurface:
    """Wires a ``Runtime`` into a Bolt app."""

    def __init__(
        self,
        runtime: Runtime,
        client: AsyncWebClient,
        signing_secret: str,
        *,
        max_inflight: int = 32,
        sealer: Sealer | None = None,
    ) -> None:
        self.runtime = runtime
        self.client = client
        where = runtime.service._where_to_go()
        slack = runtime.cfg.slack
        # Stored profiles and DM channels: a burst of conversations costs no users.info
        # and no conversations.open (``bot.slack.directory``).
        self.directory = SlackDirectory(
            client, SlackDirectoryStore(runtime.store.engine), leases=runtime.store.leases,
            page_size=slack.directory_page_size,
        )
        self.identity = SlackIdentity(client, where, directory=self.directory)
        self.signing_secret = signing_secret
        # The slash command's immediate answer, in the organisation's language: the ack
        # knows no more than that without a look-up (``commands.command_ack``).
        self.command_ack = command_ack(runtime.cfg.organisation.language)
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
        # Outcome messages, stored before they are sent and sent again until Slack has
        # them (``bot.slack.outbox``); ``outbox.worker()`` runs with the app (``bot.serve``).
        if sealer is None:
            sealer = Sealer(outbox_key(slack.outbox, os.environ))
        self.outbox = Outbox(
            client, runtime.store, slack.outbox, sealer,
            it_channel=runtime.cfg.organisation.it_channel,
            dm_of=self.directory.dm_channel,
        )
        self.delivery = Delivery(client, runtime.store, self.directory, self.outbox)
        # What a decision announces (cards refreshed with chat.update, Tier 3; the
        # requester's news) runs beside the click, tracked like it: the click's slot and
        # its group add never wait for those budgets.
        runtime.access.notices.later = self._spawn
        # Acknowledged requests, recorded before the ack and worked on from the store.
        inbox = runtime.cfg.slack.inbox
        self.inbox = Inbox(
            runtime.store.inbox, self.dispatch_payload, capacity=inbox.capacity, lease=inbox.lease
        )
        self.health = Health(runtime, client)
        register_all(
            self.app,
            Deps(
                conversation=runtime.conversation,
                store=runtime.store,
                answer=self.answer,
                publish_home=self.publish_home,
                spawn=self._spawn,
                tell=self.delivery.tell,
                directory=self.directory,
                command_ack=self.command_ack,
                hide=self.hide_secret,
            ),
        )

    async def dispatch(self, body: bytes, query: str, headers: dict[str, str]) -> BoltResponse:
        """Run one verified request through Bolt on this loop, tracked for a graceful shutdown.

        The endpoint also hands over the "This wasn't me" page (``PAGE_HEADER`` set to the
        method), which is answered here, by the change notices, not by Bolt.
        """
        page = headers.get(PAGE_HEADER)
        if page is not None:
            status, text, extra = await notice_page(
                self.runtime.notices, page, query, body, headers.get("accept-language", "")
            )
            return BoltResponse(status=status, body=text, headers=dict(extra))
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

    async def ready(self) -> Readiness:
        """``/readyz``: whether this replica should get traffic (``bot.health``)."""
        return await self.health.readiness()

    async def metrics(self) -> list[dict[str, Any]]:
        """``/metrics``: refresh the gauges; this process's registry is the caller's own,
        so there is no other process's snapshot to add (``[]``)."""
        await self.health.refresh_metrics()
        return []

    def arrived(self, recorded: bool, *, click: bool = False) -> None:
        """The ingress process is recording a request (False) or has recorded one (True);
        ``click``: a click, claimed at once."""
        self.inbox.arrived(recorded, click=click)

    async def accept(self, key: str, payload: bytes, retry: int = 0) -> Accepted:
        """Record a request about to be acknowledged in the inbox (``bot.slack.inbox``).

        Its work runs from the store, claimed by this replica or another, as a payload
        (its signature was checked on arrival; it may run after the five minutes a
        signature is good for).
        """
        return await self.inbox.accept(key, payload, retry)

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
        # Requests recorded by now are claimed and run first.
        await asyncio.sleep(0)
        deadline = time.monotonic() + grace
        await self.inbox.drain(grace)
        # Work can start more work (a form's submission, its follow-up): wait until none is left.
        while self._tasks and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(set(self._tasks), timeout=left)
        # And the messages that work stored and is sending (``Outbox.send(wait=False)``).
        while self.outbox.sending and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(self.outbox.sending, timeout=left)

    # -- an employee's turn ---------------------------------------------------------
    async def answer(
        self,
        user_id: str,
        flow: str,
        work: Work,
        prompt: tuple[str, str] | None = None,
        trigger_id: str | None = None,
        *,
        click: bool = False,
        dm: str | None = None,
        response_url: str | None = None,
    ) -> None:
        """Identify the employee, run ``work``, deliver its replies; answer any failure.

        The conversation answers its own failures; what is left (identity, delivery)
        is answered here by the same handler, as one DM (``dm``, when the turn came from it).
        """
        async with self._click_slots if click else self._slots:

            async def turn() -> Reply | None:
                try:
                    actor = await self.identity.resolve(user_id)
                except IdentityRefused as refused:
                    log.info("identity_refused", slack_user=user_id, reason=refused.code)
                    await self.delivery.deliver(user_id, [Reply(refused.user_message)], dm=dm)
                    return None
                notice = EMPLOYEE_NOTICE.set(self._notice_for(user_id, dm))
                try:
                    replies = await work(actor)
                finally:
                    EMPLOYEE_NOTICE.reset(notice)
                await self.delivery.deliver(
                    user_id, replies, prompt, trigger_id, dm=dm, response_url=response_url
                )
                return None

            failure = await answered(flow, turn, as_is)
            if failure is not None:
                await self.delivery.tell(user_id, failure, dm=dm)

    def _notice_for(self, user_id: str, dm: str | None) -> Tell:
        """How a turn tells the employee something before its answer (a busy directory)."""

        async def tell(text: str) -> None:
            # Not an outcome (the answer follows): straight out, not through the outbox.
            channel = dm or await self.delivery.dm_channel(user_id)
            await self.client.chat_postMessage(
                channel=channel, text=text, blocks=reply_blocks(Reply(text)),
                unfurl_links=False, unfurl_media=False,
            )

        return tell

    async def publish_home(self, user_id: str) -> None:
        """Publish the App Home: help for everyone, requests for identified people.

        Identified IT admins also get the admin sections (``Conversation.home``). When
        it cannot be built, the Home says so instead.
        """
        conv = self.runtime.conversation

        async def publish() -> Reply | None:
            try:
                actor: Actor | None = await self.identity.resolve(user_id)
            except IdentityRefused:
                actor = None
            if actor is None:
                view = home_view(Home(conv.help()))
            else:
                home = await conv.home(actor)
                with conv.speaking_to(actor):
                    view = home_view(home)
            await self.client.views_publish(user_id=user_id, view=view)
            return None

        failure = await answered("home", publish, as_is)
        if failure is not None:
            notice = Home(conv.help(), notice=failure.text)
            try:
                await self.client.views_publish(user_id=user_id, view=home_view(notice))
            except Exception as exc:
                log.error("home_not_published", slack_user=user_id, error=type(exc).__name__)

    # -- secrets janitor ------------------------------------------------------------
    async def hide_secret(
        self, prompt: tuple[str, str], user_id: str, response_url: str | None
    ) -> bool:
        """"Done, hide it": the secret's message is edited through the outbox (sent again
        until Slack confirms, then marked hidden); False when no secret is shown there."""
        row = await self.runtime.store.find_secret_message(*prompt)
        if row is None or row.hidden:
            return False
        await self.outbox.send(
            hide_message(row.channel, row.ts, row.replacement, self.outbox.expiry(hide=True),
                         row.id, user=user_id, response_url=response_url)
        )
        return True

    async def hide_due_secrets(self) -> int:
        """Hide every DM whose secret is due to disappear, through the outbox; how many were
        hidden now.

        Each edit is tried at once; one that fails stays with the outbox, which tries it
        again until Slack confirms (a deleted message counts as hidden) and only then
        marks the message hidden. One job per message across replicas (its key).
        """
        hidden = 0
        for row in await self.runtime.store.due_secret_messages():
            sent = await self.outbox.send(
                hide_message(row.channel, row.ts, row.replacement,
                             self.outbox.expiry(hide=True), row.id)
            )
            if sent is not None:
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
        """Forget processed requests after a day (Slack redelivers within minutes)."""
        try:
            before = datetime.now(UTC) - EVENT_MEMORY
            await self.runtime.store.inbox.prune(before)
            await self.outbox.rows.prune(before)
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
