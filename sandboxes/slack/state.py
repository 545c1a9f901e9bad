"""What the fake Slack holds and remembers: conversations, messages, views, and every call made.

``SlackState`` is shared by the Web API app, the response-URL endpoint and the event sender. It is
thread-safe (one lock), so a test on one thread may read it while the server runs on another.

Reading it from tests::

    state.calls("chat.postMessage")          # every recorded call to a method, oldest first
    state.messages_to("U0ALICE001")          # current messages in the app's DM with a user
    state.last_message("U0ALICE001").text    # latest message there
    msg.revisions                             # what chat.update / respond() replaced, oldest first
    state.visible_text("U0ALICE001")          # everything still on that user's screen
    await state.wait_for(lambda s: s.last_message("U0ALICE001"), timeout=2)
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sandboxes.slack.clock import Clock, system_clock
from sandboxes.slack.model import Channel, User, Workspace
from sandboxes.slack.records import (
    TRIGGER_TTL,
    Call,
    Dm,
    Ephemeral,
    Fault,
    Message,
    ResponsePost,
    ResponseUrl,
    Revision,
    Trigger,
    View,
    dm_id_for,
)

T = TypeVar("T")


class SlackState:
    """The fake workspace's live state plus a recorder of every call; see the module docstring."""

    def __init__(
        self, workspace: Workspace | Mapping[str, Any] | None = None, *, clock: Clock = system_clock
    ) -> None:
        if workspace is None:
            workspace = Workspace()
        elif not isinstance(workspace, Workspace):
            workspace = Workspace.from_dict(workspace)
        self.workspace = workspace
        self.clock = clock
        self.base_url = "http://slack.invalid"
        self._lock = threading.RLock()
        self._dms: dict[str, Dm] = {}
        self._dm_owners: dict[str, str] = {}
        self._messages: dict[str, list[Message]] = {}
        self._ephemerals: list[Ephemeral] = []
        self._views: dict[str, View] = {}
        self._home: dict[str, str] = {}
        self._triggers: dict[str, Trigger] = {}
        self._response_urls: dict[str, ResponseUrl] = {}
        self._calls: list[Call] = []
        self._response_posts: list[ResponsePost] = []
        self._last_us = 0
        self._faults: list[Fault] = []

    # ---- ids and time -------------------------------------------------------------------

    def next_ts(self) -> str:
        """A message timestamp from the clock, strictly increasing (Slack's ts is unique)."""
        with self._lock:
            micros = max(int(self.clock() * 1_000_000), self._last_us + 1)
            self._last_us = micros
            return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def dm_id(self, user_id: str) -> str:
        """The id of the app's DM with ``user_id``: stable per workspace and user."""
        return dm_id_for(self.workspace.team_id, user_id)

    # ---- conversations -------------------------------------------------------------------

    def open_dm(self, user_id: str) -> tuple[Dm, bool]:
        """Open (or find) the app's DM with a user; returns ``(dm, already_open)``."""
        with self._lock:
            dm_id = self.dm_id(user_id)
            existing = self._dms.get(dm_id)
            if existing:
                return existing, True
            dm = Dm(id=dm_id, user=user_id, created=int(self.clock()))
            self._dms[dm_id] = dm
            return dm, False

    def dm_owner(self, dm_id: str) -> str | None:
        """The user whose DM with the app has id ``dm_id`` (opened or not), if any."""
        with self._lock:
            owner = self._dm_owners.get(dm_id)
            if owner is None and len(self._dm_owners) != len(self.workspace.users):
                self._dm_owners = {self.dm_id(u): u for u in self.workspace.users}
                owner = self._dm_owners.get(dm_id)
            return owner

    def dm(self, dm_id: str) -> Dm | None:
        """An opened DM by id."""
        with self._lock:
            return self._dms.get(dm_id)

    def user(self, user_id: str) -> User | None:
        """A seeded user by id."""
        return self.workspace.users.get(user_id)

    def channel(self, ref: str) -> Channel | None:
        """A seeded channel by id or name (``#name`` or ``name``)."""
        return self.workspace.channels.get(ref) or self.workspace.channel_by_name(ref)

    def conversation_id(self, ref: str) -> str:
        """Canonical conversation id for a user id, DM id, channel id or channel name.

        A user id maps to the id of the app's DM with that user (whether or not it is open yet);
        anything unrecognised is returned unchanged.
        """
        if ref in self.workspace.users:
            return self.dm_id(ref)
        chan = self.channel(ref)
        return chan.id if chan else ref

    # ---- messages -----------------------------------------------------------------------

    def add_message(self, message: Message) -> Message:
        """Store a new message at the end of its conversation."""
        with self._lock:
            self._messages.setdefault(message.channel, []).append(message)
            return message

    def find_message(self, channel: str, ts: str) -> Message | None:
        """The message at ``ts`` in ``channel`` (deleted ones included)."""
        with self._lock:
            return next((m for m in self._messages.get(channel, []) if m.ts == ts), None)

    def replace_message(
        self,
        message: Message | Ephemeral,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None,
        by: str,
    ) -> None:
        """Replace a message's (or ephemeral's) content, keeping the old one in ``revisions``."""
        with self._lock:
            message.revisions.append(Revision(message.text, message.blocks, self.clock(), by))
            message.text = text
            message.blocks = blocks

    def delete_message(self, message: Message | Ephemeral) -> None:
        """Mark a message deleted (it stays in the store for assertions)."""
        with self._lock:
            message.deleted = True

    def add_ephemeral(self, ephemeral: Ephemeral) -> Ephemeral:
        """Store an ephemeral message."""
        with self._lock:
            self._ephemerals.append(ephemeral)
            return ephemeral

    def find_ephemeral(self, channel: str, ts: str) -> Ephemeral | None:
        """The ephemeral message at ``ts`` in ``channel``, if any."""
        with self._lock:
            return next((e for e in self._ephemerals if e.channel == channel and e.ts == ts), None)

    # ---- views --------------------------------------------------------------------------

    def add_view(self, view: View) -> View:
        """Store a view; a Home tab replaces the user's previous one."""
        with self._lock:
            self._views[view.id] = view
            if view.type == "home":
                self._home[view.user] = view.id
            return view

    def view(self, view_id: str) -> View | None:
        """A view by id."""
        with self._lock:
            return self._views.get(view_id)

    def view_by_external_id(self, external_id: str) -> View | None:
        """A view by the app's own ``external_id``."""
        with self._lock:
            return next((v for v in self._views.values() if v.external_id == external_id), None)

    def home_view(self, user_id: str) -> View | None:
        """The Home tab last published for a user."""
        with self._lock:
            view_id = self._home.get(user_id)
            return self._views.get(view_id) if view_id else None

    def views(self, user_id: str | None = None, *, type: str | None = None) -> list[View]:
        """Views, oldest first, optionally for one user and/or of one type (modal, home)."""
        with self._lock:
            return [
                v
                for v in self._views.values()
                if (user_id is None or v.user == user_id) and (type is None or v.type == type)
            ]

    # ---- triggers and response URLs ------------------------------------------------------

    def new_trigger_id(self, user_id: str) -> str:
        """Issue a trigger_id for an interaction by ``user_id`` (valid for 3 s, once)."""
        trigger_id = f"{int(self.clock())}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[trigger_id] = Trigger(trigger_id, user_id, self.clock())
        return trigger_id

    def exchange_trigger(self, trigger_id: str) -> tuple[Trigger | None, str | None]:
        """Use a trigger_id: ``(trigger, None)`` or ``(None, slack_error_code)``."""
        with self._lock:
            trigger = self._triggers.get(trigger_id)
            if trigger is None:
                return None, "invalid_trigger_id"
            if trigger.used:
                return None, "exchanged_trigger_id"
            if self.clock() - trigger.issued_at > TRIGGER_TTL:
                return None, "expired_trigger_id"
            trigger.used = True
            return trigger, None

    def new_response_url(
        self,
        *,
        channel: str,
        user: str,
        message_ts: str | None = None,
        ephemeral_source: bool = False,
    ) -> str:
        """Issue a response_url bound to a conversation (and to the source message, if any)."""
        url_id = secrets.token_hex(12)
        channel_id = self.conversation_id(channel)
        with self._lock:
            url = f"{self.base_url}/response/{url_id}"
            self._response_urls[url_id] = ResponseUrl(
                id=url_id,
                url=url,
                channel=channel_id,
                user=user,
                created_at=self.clock(),
                message_ts=message_ts,
                ephemeral_source=ephemeral_source,
            )
        return url

    def response_url(self, url_id: str) -> ResponseUrl | None:
        """A response_url by the id at the end of its path."""
        with self._lock:
            return self._response_urls.get(url_id)

    # ---- the recorder -------------------------------------------------------------------

    def record(self, call: Call) -> None:
        """Append a Web API call to the log."""
        with self._lock:
            self._calls.append(call)

    def record_response_post(self, post: ResponsePost) -> None:
        """Append a response_url POST to the log."""
        with self._lock:
            self._response_posts.append(post)

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded Web API calls, oldest first; only ``method``'s when given."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def response_posts(self) -> list[ResponsePost]:
        """Recorded response_url POSTs, oldest first."""
        with self._lock:
            return list(self._response_posts)

    def reset_recorder(self) -> None:
        """Forget recorded calls and response_url POSTs (state is kept)."""
        with self._lock:
            self._calls.clear()
            self._response_posts.clear()

    # ---- fault injection ----------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error: str = "internal_error",
        count: int = 1,
        *,
        status: int = 200,
        retry_after: int = 1,
        after_processing: bool = False,
        matching: str | None = None,
    ) -> Fault:
        """Make the next ``count`` calls of ``method`` fail (see ``records.Fault``)."""
        fault = Fault(method, error, count, status, retry_after, after_processing, matching)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget every injected fault not used up yet."""
        with self._lock:
            self._faults.clear()

    def take_fault(self, method: str, params: Any = None) -> Fault | None:
        """The injected fault a call of ``method`` with ``params`` meets, used up by one."""
        with self._lock:
            for fault in self._faults:
                if fault.matching is not None and fault.matching not in json.dumps(
                    params, default=str
                ):
                    continue
                if fault.method == method and fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # ---- test helpers -------------------------------------------------------------------

    def messages_in(self, channel: str, *, include_deleted: bool = False) -> list[Message]:
        """Messages of a conversation (id, name, or user id for the app's DM), oldest first."""
        channel_id = self.conversation_id(channel)
        with self._lock:
            return [
                m for m in self._messages.get(channel_id, []) if include_deleted or not m.deleted
            ]

    def messages_to(self, user_or_channel: str, *, include_deleted: bool = False) -> list[Message]:
        """Messages the app posted to a user's DM or a channel, oldest first."""
        bot = self.workspace.app.bot_user_id
        return [
            m
            for m in self.messages_in(user_or_channel, include_deleted=include_deleted)
            if m.user == bot
        ]

    def all_messages(self, *, include_deleted: bool = False) -> list[Message]:
        """Every message in every conversation, in posting order."""
        with self._lock:
            every = [m for msgs in self._messages.values() for m in msgs]
        every.sort(key=lambda m: m.ts)
        return [m for m in every if include_deleted or not m.deleted]

    def last_message(self, to: str | None = None) -> Message | None:
        """The app's latest live message to ``to`` (user or channel), or anywhere when None."""
        msgs = (
            self.messages_to(to)
            if to
            else [m for m in self.all_messages() if m.user == self.workspace.app.bot_user_id]
        )
        return msgs[-1] if msgs else None

    def last_text(self, to: str | None = None) -> str | None:
        """``text`` of ``last_message(to)``."""
        msg = self.last_message(to)
        return msg.text if msg else None

    def last_blocks(self, to: str | None = None) -> list[dict[str, Any]] | None:
        """``blocks`` of ``last_message(to)``."""
        msg = self.last_message(to)
        return msg.blocks if msg else None

    def ephemerals_to(self, user_id: str, *, include_deleted: bool = False) -> list[Ephemeral]:
        """Ephemeral messages shown to a user, oldest first."""
        with self._lock:
            return [
                e
                for e in self._ephemerals
                if e.user == user_id and (include_deleted or not e.deleted)
            ]

    def visible_text(self, user_or_channel: str) -> str:
        """All text still on screen in a conversation: live messages, plus a user's ephemerals."""
        parts = [m.visible_text for m in self.messages_in(user_or_channel)]
        if user_or_channel in self.workspace.users:
            parts += [e.visible_text for e in self.ephemerals_to(user_or_channel)]
        return "\n".join(parts)

    async def wait_for(
        self,
        predicate: Callable[[SlackState], T | None],
        # A parameter, not asyncio.timeout(): the TimeoutError it raises lists the recent calls.
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        interval: float = 0.01,
    ) -> T:
        """Poll ``predicate(self)`` until it returns something truthy, and return that.

        Raises ``TimeoutError`` (with the last few calls, to show what did happen) after
        ``timeout`` seconds of real time. Polling, not events, because the server may run on
        another thread or loop.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self)
            if result:
                return result
            if time.monotonic() >= deadline:
                recent = ", ".join(f"{c.method}:{c.error or 'ok'}" for c in self.calls()[-8:])
                raise TimeoutError(f"condition not met within {timeout}s; last calls: [{recent}]")
            await asyncio.sleep(interval)

    async def wait_for_message(
        self,
        to: str,
        contains: str | None = None,
        *,
        after: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109 (see wait_for)
    ) -> Message:
        """Wait for the app's ``after``-th-or-later message to ``to`` (containing ``contains``)."""

        def found(state: SlackState) -> Message | None:
            for msg in state.messages_to(to)[after:]:
                if contains is None or contains in msg.visible_text:
                    return msg
            return None

        return await self.wait_for(found, timeout)

    # ---- scenario mutations -------------------------------------------------------------

    def deactivate_user(self, user_id: str) -> None:
        """Deactivate a seeded user, as an admin would in Slack."""
        with self._lock:
            self.workspace.users[user_id].deleted = True
            self.workspace.users[user_id].updated = int(self.clock())

    def add_user(self, user: User) -> User:
        """Add (or replace) a user mid-scenario."""
        with self._lock:
            self.workspace.users[user.id] = user
            return user
