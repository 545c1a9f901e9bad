"""Messages about a request: approval messages posted and kept current, news for the requester.

Every message goes through the :class:`AccessNotifier` port. In Slack an approval
message is stored first and sent until Slack has it (the outbox, which keeps where it
landed with the request); elsewhere, and for an update, a message that cannot be sent is
logged and given up: the request's state is in the store, and the next update or
reminder shows it again.

With ``later`` (the Slack surface's tracked tasks), what a transition announces (the
approval messages refreshed, the requester told) runs after the transition's caller
has moved on: a click's group add and its answer do not wait for ``chat.update``'s
Tier 3 budget, and the click's slot is free for the next click meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from actions.access.model import AccessSnapshot, Event, MessageRole
from actions.access.policy import Approvers, is_channel
from actions.access.ports import AccessNotifier, MessageRef
from config.logging import get_logger
from store.db import Store
from store.models import AccessMessage

log = get_logger("helpdesk.access")


class Notices:
    """Posts, refreshes and reminds approval messages; tells the requester and security."""

    def __init__(
        self,
        store: Store,
        notifier: AccessNotifier,
        later: Callable[[Awaitable[None]], None] | None = None,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.later = later

    async def snapshot(self, request_id: str) -> AccessSnapshot:
        """A request known to exist, as it now stands."""
        record = await self.store.access.snapshot(request_id)
        assert record is not None, "requests are never deleted"
        return AccessSnapshot.of(record)

    async def ask(self, snap: AccessSnapshot, approvers: Approvers) -> list[str]:
        """Post the approval message to every destination; remember each one to update it."""

        async def post(destination: str) -> str | None:
            try:
                ref = await self.notifier.post_request(snap, destination)
            except Exception as exc:
                log.warning("approval_message_failed", request_id=snap.request.id,
                            destination=destination, error=type(exc).__name__)
                return None
            recipient = None if is_channel(destination) else destination
            if ref is None:  # stored to be sent: the notifier keeps where it lands
                return destination
            if not ref.kept:
                await self.store.access.add_message(
                    snap.request.id, MessageRole.APPROVER, recipient, ref.channel, ref.ts
                )
            # A channel is named by the id it was posted to, so it renders as a link.
            return destination if recipient else ref.channel

        destinations = approvers.destinations(snap.request.requester)
        posted = await asyncio.gather(*(post(d) for d in destinations))
        return [d for d in posted if d is not None]

    async def approval_messages(self, request_id: str) -> list[AccessMessage]:
        messages = await self.store.access.messages(request_id)
        return [m for m in messages if m.role == MessageRole.APPROVER]

    async def refresh(self, snap: AccessSnapshot) -> None:
        """Update every approval message of the request in place to show its state.

        Two transitions close together (a vote, then the approval that completes it,
        perhaps on another replica) refresh concurrently, and the older picture may
        reach Slack last. So after updating, the request is read again and, if it
        moved on meanwhile, the messages are updated again: the last refresher
        always leaves the latest state on screen.
        """
        refs = await self.approval_messages(snap.request.id)
        if not refs:
            return

        async def one(current: AccessSnapshot, message: AccessMessage) -> None:
            try:
                await self.notifier.update_request(
                    current, MessageRef(message.channel, message.ts)
                )
            except Exception as exc:
                log.warning("approval_update_failed", request_id=snap.request.id,
                            error=type(exc).__name__)

        for _ in range(3):
            await asyncio.gather(*(one(snap, m) for m in refs))
            fresh = await self.snapshot(snap.request.id)
            if _picture(fresh) == _picture(snap):
                return
            snap = fresh

    async def remind(self, snap: AccessSnapshot) -> int:
        """Remind every approver who has not voted, and every channel; how many messages."""
        waiting = [
            m for m in await self.approval_messages(snap.request.id)
            if m.recipient is None or not snap.has_voted(m.recipient)
        ]

        async def one(message: AccessMessage) -> None:
            try:
                await self.notifier.remind(snap, MessageRef(message.channel, message.ts),
                                           message.recipient)
            except Exception as exc:
                log.warning("reminder_failed", request_id=snap.request.id,
                            error=type(exc).__name__)

        await asyncio.gather(*(one(m) for m in waiting))
        return len(waiting)

    async def tell(self, snap: AccessSnapshot, event: Event) -> None:
        try:
            await self.notifier.tell_requester(snap, event)
        except Exception as exc:
            log.warning("requester_message_failed", request_id=snap.request.id,
                        event=event.value, error=type(exc).__name__)

    async def security(self, text: str) -> None:
        try:
            await self.notifier.security_notice(text)
        except Exception as exc:
            log.warning("security_notice_failed", error=type(exc).__name__)

    async def moved(self, request_id: str, event: Event) -> AccessSnapshot:
        """After a transition: refresh the approval messages and tell the requester.

        With ``later``, both are handed to it (side by side: the requester's news does
        not queue behind the cards' updates) and the request is returned at once.
        """
        fresh = await self.snapshot(request_id)
        if self.later is not None:
            self.later(self._announce(fresh, event))
            return fresh
        await self.refresh(fresh)
        await self.tell(fresh, event)
        return fresh

    async def _announce(self, snap: AccessSnapshot, event: Event) -> None:
        await asyncio.gather(self.refresh(snap), self.tell(snap, event))


def _picture(snap: AccessSnapshot) -> tuple[str, int, int]:
    """What an approval message shows, in short: state, approvals, votes."""
    return snap.request.state, snap.request.approvals, len(snap.decisions)
