"""The outbox's sender: each stored message reaches Slack once, or is given up, audited.

:meth:`Outbox.send` writes a message to the store leased to this process and sends it at
once (the usual case: one insert, one call, one update); a failure leaves it to the worker
(:meth:`Outbox.worker`), which any replica runs: it claims due messages (``SKIP LOCKED`` on
PostgreSQL), sends each through the process's one paced client (``bot.slack.client``: a
429 is waited out there), and on a failure releases it to run again after a backoff that
doubles up to a minute, until it expires (``expires_at``: the secret's hiding time, else
``slack.outbox.ttl``).

Never twice: a post carries its idempotency key in its Slack message metadata. Any attempt
after the first (after a failure whose answer was lost, or a replica that died between
Slack's answer and the store's update) first reads the conversation's recent history
(``conversations.history``, ``include_all_metadata``) and, if the message is there, takes
it as delivered. Edits (``update``, ``hide``) set the same content again: repeating one is
harmless.

Given up (expired, refused for good, or sealed with a key this process lacks): audited
(``slack_message`` / ``expired`` or ``undeliverable``, naming the message, never its
content) and, where it mattered (a reset link or temporary password that never arrived,
a secret that could not be hidden, an approval card an approver never got), reported in
English to the IT channel. The content
is wiped from the row when the message is delivered or given up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from actions.access.model import MessageRole
from bot.slack.client import PACED, MeteredWebClient
from bot.slack.outbox.message import (
    CARD,
    EVENT_TYPE,
    HIDE,
    POST,
    RESET,
    UPDATE,
    OutboxMessage,
)
from bot.slack.outbox.sealing import Sealer, Unreadable
from config.clock import Now, utc_now
from config.logging import get_logger
from config.outbox import OutboxSettings
from store.db import Store
from store.jobs import JobState
from store.leases import new_holder
from store.models import Job
from store.outbox import OutboxStore

log = get_logger("helpdesk.outbox")

#: Slack errors that sending again cannot mend: the message is given up at once.
PERMANENT = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "msg_too_long", "no_text",
    "invalid_blocks", "invalid_blocks_format", "invalid_attachments", "cant_update_message",
    "message_not_found", "edit_window_closed", "user_not_found", "account_inactive",
    "invalid_metadata_format", "invalid_metadata_schema", "restricted_action",
})
#: Edits of a message that is not there any more: nothing shows the secret, so it is hidden.
GONE = frozenset({"message_not_found", "cant_update_message", "channel_not_found"})

#: ``last_error`` of a post that went out (or whose failure came after it did).
ON_ITS_WAY = "sent:"
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
#: How far back the history is read for a message posted before a crash.
HISTORY_SLACK = timedelta(minutes=2)


class GiveUp(Exception):
    """Sending again cannot help (Slack refused the message for good)."""


def _error_of(exc: BaseException) -> tuple[str, float | None]:
    """A short name for a failure (Slack's error code, else the exception's type), and a
    ``Retry-After`` when Slack gave one. Never the message's content."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        error = str(response.get("error", "")) if response is not None else ""
        if getattr(response, "status_code", None) == 429:
            from bot.slack.client import retry_after

            return "ratelimited", retry_after(getattr(response, "headers", None))
        return error or "slack_error", None
    return type(exc).__name__, None


class Outbox:
    """Messages to Slack, stored first; see the module docstring."""

    def __init__(
        self,
        client: AsyncWebClient,
        store: Store,
        settings: OutboxSettings,
        sealer: Sealer,
        *,
        it_channel: str | None = None,
        dm_of: Callable[[str], Any] | None = None,
        clock: Now = utc_now,
        poll_interval: float = 2.0,
        owner: str | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.rows = OutboxStore(store.engine, store.jobs)
        self.settings = settings
        self.sealer = sealer
        self.it_channel = it_channel or None
        # user id -> the app's DM channel id (an awaitable), to read a DM's history.
        self.dm_of = dm_of
        self.clock = clock
        self.poll_interval = poll_interval
        self.owner = owner or new_holder()
        self._wake = asyncio.Event()
        self._sending: set[asyncio.Future[dict[str, str] | None]] = set()
        self._held = 0
        self._renewer: asyncio.Task[None] | None = None

    @property
    def lease(self) -> timedelta:
        return self.settings.lease

    def expiry(self, *, hide: bool = False) -> datetime:
        """When a message without a secret of its own expires, from now."""
        return self.clock() + (self.settings.hide_ttl if hide else self.settings.ttl)

    # -- writing ---------------------------------------------------------------------
    async def send(
        self, message: OutboxMessage, *, wait: bool = True
    ) -> dict[str, str] | None:
        """Store ``message`` and send it now; Slack's ``{"channel", "ts"}`` when it was
        delivered now, None when it is left to the worker (or was stored already).

        ``wait=False`` returns once it is stored, the sending going on in the background:
        a turn stores all its messages at once (a reset link is in the store right after
        the reset, not after the messages before it have waited for Slack's rate limits).
        Messages sent so start in the order they were stored.
        """
        job = await self.rows.enqueue_held(
            message.key, message.payload(self.sealer), self.owner, self.clock(), self.lease
        )
        if job is None:
            return None
        if wait:
            return await self._attempt(job, message)
        task = asyncio.ensure_future(self._attempt(job, message))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return None

    @property
    def sending(self) -> set[asyncio.Future[dict[str, str] | None]]:
        """Messages being sent in the background now."""
        return set(self._sending)

    async def stop(self, grace: float) -> None:
        """Let messages being sent finish within ``grace`` seconds; the rest stay stored, for
        another replica (or this one's next start) once their lease runs out."""
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=grace)
        for task in list(self._sending):
            task.cancel()

    async def enqueue(self, message: OutboxMessage) -> bool:
        """Store ``message`` for the worker (any replica's); False when stored already."""
        added = await self.rows.enqueue(message.key, message.payload(self.sealer), self.clock())
        if added:
            self._wake.set()
        return added

    # -- the worker ------------------------------------------------------------------
    async def worker(self) -> None:
        """Send due messages until cancelled: every ``poll_interval``, at once when woken."""
        while True:
            try:
                ran = await self.run_due()
            except Exception as exc:
                ran = 0
                log.warning("outbox_round_failed", error=type(exc).__name__)
            if ran:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()

    async def run_due(self) -> int:
        """Claim due messages (up to ``concurrency``) and send them; how many were claimed."""
        now = self.clock()
        # A read first: an idle poll takes no write lock (SQLite has one writer at a time).
        if not await self.rows.due(now):
            return 0
        jobs = await self.rows.claim_due(self.owner, now, self.lease, self.settings.concurrency)
        if jobs:
            await asyncio.gather(*(self.run(job) for job in jobs))
        return len(jobs)

    async def run(self, job: Job) -> None:
        """Send one claimed message, or give it up when it has expired or cannot be read."""
        payload = dict(job.payload or {})
        try:
            shell = OutboxMessage.shell(payload)
        except (KeyError, ValueError, TypeError):
            log.error("outbox_message_malformed", job_id=job.id)
            await self.rows.settle(job, JobState.DEAD, {}, "malformed")
            return
        if self.clock() >= shell.expires_at:
            await self._give_up(job, shell, job.last_error or "expired", expired=True)
            return
        try:
            message = OutboxMessage.from_payload(payload, self.sealer)
        except Unreadable:
            if not self.sealer.generated:
                # The configured key, which every replica shares, cannot read it: nobody can.
                await self._give_up(job, shell, "unreadable")
                return
            # This process's own key: the process that stored it may still send it.
            delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, job.attempts - 1))
            run_at = min(self.clock() + timedelta(seconds=delay), shell.expires_at)
            await self.rows.retry(job, run_at, "unreadable here (no shared outbox key)")
            return
        await self._attempt(job, message)

    # -- one attempt -----------------------------------------------------------------
    async def _attempt(self, job: Job, message: OutboxMessage) -> dict[str, str] | None:
        try:
            sent = await self._holding(job, self._deliver(job, message))
        except GiveUp as exc:
            await self._give_up(job, message, str(exc))
            return None
        except Exception as exc:
            await self._failed(job, message, exc)
            return None
        try:
            await self._delivered(job, message, sent)
        except Exception as exc:
            # Slack has it; the store did not hear so. The next attempt finds it in the
            # history (a post) or sets the same content again (an edit).
            log.warning("outbox_settle_failed", job_id=job.id, error=type(exc).__name__)
        return sent

    async def _holding(self, job: Job, work: Any) -> dict[str, str]:
        """Run ``work`` while this process's leases are renewed (a call waiting its turn
        under Slack's limits, or out a 429): one renewer for every message held here."""
        self._held += 1
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name="outbox-leases")
        try:
            result: dict[str, str] = await work
            return result
        finally:
            self._held -= 1

    async def _renew(self) -> None:
        """Every third of a lease, while messages are held here: one UPDATE for them all."""
        every = self.lease.total_seconds() / 3
        while self._held:
            await asyncio.sleep(every)
            if not self._held:
                return
            try:
                await self.rows.renew_held(self.owner, self.lease)
            except Exception as exc:  # the store is down: the leases may run out
                log.warning("outbox_lease_renewal_failed", error=type(exc).__name__)

    async def _deliver(self, job: Job, message: OutboxMessage) -> dict[str, str]:
        try:
            if message.op == POST:
                return await self._post(job, message)
            if message.op == UPDATE:
                return await self._update(message)
            if message.op == HIDE:
                return await self._hide(message)
        except SlackApiError as exc:
            error, _ = _error_of(exc)
            if message.op == HIDE and error in GONE:
                return {"channel": message.channel, "ts": message.ts or ""}
            if error in PERMANENT:
                raise GiveUp(error) from None
            raise
        raise GiveUp(f"unknown op {message.op!r}")

    async def _post(self, job: Job, message: OutboxMessage) -> dict[str, str]:
        if job.attempts > 1 and (job.last_error or "").startswith(ON_ITS_WAY):
            # An earlier attempt's post went out: Slack may show it already.
            found = await self._already_posted(job, message)
            if found is not None:
                log.info("outbox_already_posted", job_id=job.id, kind=message.kind)
                return found
        kwargs: dict[str, Any] = {}
        if message.thread_ts:
            kwargs["thread_ts"] = message.thread_ts
        if message.blocks is not None:
            kwargs["blocks"] = message.blocks
        paced = None
        if isinstance(self.client, MeteredWebClient):
            # Its turn under Slack's limits first, then a note in the row that the post is
            # on its way, then the post: after a crash only noted posts need the history
            # read (Tier 3), not the many that were still waiting their turn.
            await self.client.wait_turn("chat.postMessage", message.channel)
            paced = PACED.set(True)
        await self.rows.note(job, ON_ITS_WAY)
        job.last_error = ON_ITS_WAY
        try:
            # No previews: Slack's unfurler would fetch a one-time reset link (and use it).
            resp = await self.client.chat_postMessage(
                channel=message.channel, text=message.text, metadata=message.metadata(),
                unfurl_links=False, unfurl_media=False, **kwargs,
            )
        finally:
            if paced is not None:
                PACED.reset(paced)
        return {"channel": str(resp["channel"]), "ts": str(resp["ts"])}

    async def _already_posted(self, job: Job, message: OutboxMessage) -> dict[str, str] | None:
        """The message as Slack shows it, when an earlier attempt posted it."""
        channel = message.channel
        if channel[:1] in {"U", "W"} and self.dm_of is not None:
            channel = await self.dm_of(channel)
        oldest = (job.created_at or self.clock()) - HISTORY_SLACK
        try:
            resp = await self.client.conversations_history(
                channel=channel, oldest=f"{oldest.timestamp():.6f}", limit=200,
                include_all_metadata=True,
            )
        except SlackApiError as exc:
            error, _ = _error_of(exc)
            if error in {"missing_scope", "not_in_channel", "channel_not_found"}:
                # Nowhere to look (a channel the token cannot read): sent as if first.
                log.warning("outbox_history_unreadable", channel=channel, error=error)
                return None
            raise
        for item in resp.get("messages") or []:
            meta = item.get("metadata") or {}
            if (
                meta.get("event_type") == EVENT_TYPE
                and (meta.get("event_payload") or {}).get("key") == message.key
            ):
                return {"channel": channel, "ts": str(item.get("ts"))}
        return None

    async def _update(self, message: OutboxMessage) -> dict[str, str]:
        assert message.ts is not None
        if message.response_url and await self._respond(message):
            return {"channel": message.channel, "ts": message.ts}
        await self.client.chat_update(
            channel=message.channel, ts=message.ts, text=message.text,
            blocks=message.blocks or [],
        )
        return {"channel": message.channel, "ts": message.ts}

    async def _respond(self, message: OutboxMessage) -> bool:
        """Replace the clicked message through its click's response_url; False if refused."""
        from bot.slack.delivery import respond

        assert message.response_url is not None
        return await respond(
            self.client, message.response_url, message.text, message.blocks or []
        )

    async def _hide(self, message: OutboxMessage) -> dict[str, str]:
        from bot.replies import Reply
        from bot.views.blocks import reply_blocks

        assert message.ts is not None
        if message.response_url:  # the "Done, hide it" click's: outside the Web API tiers
            shown = replace(message, text=message.replacement,
                            blocks=reply_blocks(Reply(message.replacement)))
            if await self._respond(shown):
                return {"channel": message.channel, "ts": message.ts}
        await self.client.chat_update(
            channel=message.channel, ts=message.ts, text=message.replacement,
            blocks=reply_blocks(Reply(message.replacement)),
        )
        return {"channel": message.channel, "ts": message.ts}

    # -- outcomes --------------------------------------------------------------------
    async def _delivered(self, job: Job, message: OutboxMessage, sent: dict[str, str]) -> None:
        if message.op == POST and message.hide_at is not None:
            # The janitor hides it when its time is up (``bot.slack.surface``).
            await self.store.remember_secret_message(
                sent["channel"], sent["ts"], message.hide_at, message.replacement
            )
        if message.op == POST and message.card is not None:
            # An approval card: kept with its request, to be updated in place and reminded
            # (once, though a post found in the history after a crash comes here again).
            await self.store.access.add_message(
                message.card, MessageRole.APPROVER, message.user, sent["channel"], sent["ts"]
            )
        if message.op == HIDE and message.secret_id is not None:
            await self.store.mark_secret_hidden(message.secret_id)
        await self.rows.settle(job, JobState.DONE, {**message.meta(), "ts": sent["ts"]})

    async def _failed(self, job: Job, message: OutboxMessage, exc: Exception) -> None:
        error, hint = _error_of(exc)
        if (job.last_error or "").startswith(ON_ITS_WAY):
            error = ON_ITS_WAY + error  # it went out: the next attempt reads the history
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, job.attempts - 1))
        if hint is not None:
            delay = max(delay, hint)
        run_at = min(self.clock() + timedelta(seconds=delay), message.expires_at)
        log.warning("outbox_send_failed", job_id=job.id, kind=message.kind, op=message.op,
                    attempts=job.attempts, error=error, retry_in_s=round(delay, 1))
        try:
            await self.rows.retry(job, run_at, error)
        except Exception as store_error:  # the lease runs out; another attempt follows
            log.warning("outbox_release_failed", job_id=job.id,
                        error=type(store_error).__name__)

    async def _give_up(
        self, job: Job, message: OutboxMessage, reason: str, *, expired: bool = False
    ) -> None:
        """Audit the message, report it to the IT channel where it mattered, wipe it."""
        from actions.audit import Actor, Auditor

        result = "expired" if expired else "undeliverable"
        log.error("outbox_message_given_up", job_id=job.id, kind=message.kind, op=message.op,
                  result=result, reason=reason, attempts=job.attempts)
        actor = Actor(message.user or "outbox", message.email or "")
        try:
            await Auditor(self.store).record(
                actor, "slack_message", result,
                detail={"kind": message.kind, "op": message.op, "channel": message.channel,
                        "key": message.key, "reason": reason, "attempts": job.attempts},
            )
        except Exception as exc:
            log.error("outbox_audit_failed", job_id=job.id, error=type(exc).__name__)
        report = self._report(message, result, reason)
        if report is not None and self.it_channel:
            await self.enqueue(
                OutboxMessage(POST, self.it_channel, self.expiry(hide=True), text=report,
                              key=f"{message.key}-report", kind="report")
            )
        if message.op == HIDE and message.secret_id is not None:
            # Reported: the janitor stops asking (the IT channel has it now).
            await self.store.mark_secret_hidden(message.secret_id)
        await self.rows.settle(
            job, JobState.DEAD, {**message.meta(), "result": result}, reason
        )

    def _report(self, message: OutboxMessage, result: str, reason: str) -> str | None:
        """The IT channel's English report, for a message whose loss matters; else None."""
        who = f"<@{message.user}>" if message.user else "an employee"
        why = "it expired" if result == "expired" else "Slack refused it"
        if message.op == POST and message.kind == RESET:
            return (
                f"A password reset for {who} was done, but the message carrying their reset "
                f"link or temporary password never reached them in Slack ({why}; last "
                f"error: {reason}). The secret was wiped from the bot's store. Please "
                "contact them and reset again if needed."
            )
        if message.op == POST and message.kind == CARD:
            where = who if message.user else f"<#{message.channel}>"
            return (
                f"The approval request for access request {message.card} never reached "
                f"{where} in Slack ({why}; last error: {reason}). The request is still "
                "waiting: its other approvers can decide it, or it expires unanswered."
            )
        if message.op == HIDE:
            return (
                f"A message showing {who} a reset link or temporary password could not be "
                f"hidden in Slack ({why}; last error: {reason}). It may still be on screen "
                f"in channel {message.channel} (message {message.ts}): please delete it."
            )
        return None


def hide_message(
    channel: str, ts: str, replacement: str, expires_at: datetime, secret_id: int | None,
    *, user: str | None = None, response_url: str | None = None,
) -> OutboxMessage:
    """The edit that hides a secret's message (its key is the message's, so one job each);
    a click's ``response_url`` is a bearer URL, so the message is sealed when it has one."""
    return OutboxMessage(
        HIDE, channel, expires_at, key=f"hide-{channel}-{ts}", kind="hide", ts=ts,
        replacement=replacement, secret_id=secret_id, user=user, response_url=response_url,
        secret=response_url is not None,
    )


__all__ = ["GiveUp", "Outbox", "hide_message"]
