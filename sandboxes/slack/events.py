"""Send the app what Slack would: signed Events API callbacks, interactions, slash commands.

Every request is signed as Slack signs it
(api.slack.com/authentication/verifying-requests-from-slack):
``X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{raw body}">`` and
``X-Slack-Request-Timestamp``; a redelivery adds ``X-Slack-Retry-Num``/``X-Slack-Retry-Reason``.
Each call returns a ``Delivery``: the app's HTTP response and how long it took to arrive (Slack
wants an answer within 3 seconds).

    sender = SlackEventSender(SIGNING_SECRET, "http://127.0.0.1:3000/slack/events", state=state)
    d = await sender.dm("U0ALICE001", "reset my password")
    assert d.acked_in_time
    d = await sender.block_action("U0ALICE001", "approve")   # clicks the latest such button
    await sender.aclose()

With ``state`` (the fake Web API's ``SlackState``), trigger_ids and response_urls are real ones the
fake honours, typed messages are stored in the conversation, and a view submission's answer
(close, update, errors) is applied to the stored view.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from sandboxes.slack import payloads
from sandboxes.slack.clock import Clock, system_clock
from sandboxes.slack.model import User, Workspace
from sandboxes.slack.payloads import AppIdentity
from sandboxes.slack.records import Ephemeral, Message, View, action_ids, dm_id_for
from sandboxes.slack.render import message_object, user_object, view_object
from sandboxes.slack.state import SlackState

ACK_DEADLINE = 3.0
"""Seconds Slack waits for an app to answer before it counts a failure and retries."""

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def signature(signing_secret: str, timestamp: int | str, body: bytes) -> str:
    """Slack's request signature of ``body`` sent at ``timestamp``."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """One request sent to the app and its answer."""

    response: httpx.Response
    elapsed: float
    url: str
    body: bytes
    headers: dict[str, str]
    payload: dict[str, Any] | None = None

    @property
    def status_code(self) -> int:
        """The app's HTTP status."""
        return self.response.status_code

    @property
    def acked_in_time(self) -> bool:
        """A 2xx answer within Slack's 3-second deadline."""
        return self.response.is_success and self.elapsed <= ACK_DEADLINE

    def json(self) -> Any:
        """The app's answer as JSON (None when the body is empty)."""
        return self.response.json() if self.response.content else None


class SlackEventSender:
    """Posts signed, Slack-shaped requests to an app; see the module docstring.

    ``bot_url`` receives everything unless ``interactivity_url``/``commands_url`` say otherwise.
    Pass ``transport`` (e.g. ``httpx.ASGITransport(app)``) to reach an app without a socket, or
    ``client`` to reuse one; ``clock`` dates signatures and events.
    """

    def __init__(
        self,
        signing_secret: str,
        bot_url: str,
        *,
        state: SlackState | None = None,
        identity: AppIdentity | None = None,
        interactivity_url: str | None = None,
        commands_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        clock: Clock = system_clock,
    ) -> None:
        self.signing_secret = signing_secret
        self.events_url = bot_url
        self.interactivity_url = interactivity_url or bot_url
        self.commands_url = commands_url or bot_url
        self.state = state
        self.identity = identity or (AppIdentity.of(state.workspace) if state else AppIdentity())
        self.clock = clock
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(transport=transport, timeout=timeout)

    async def __aenter__(self) -> SlackEventSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this sender created it."""
        if self._own_client:
            await self.client.aclose()

    # ---- raw -------------------------------------------------------------------------------

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """The two signature headers for ``body`` (timestamp: now, unless given)."""
        ts = int(self.clock()) if timestamp is None else timestamp
        return {
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature(self.signing_secret, ts, body),
        }

    async def post(
        self,
        body: bytes | str | Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        url: str | None = None,
        content_type: str | None = None,
        sign: bool = True,
        timestamp: int | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> Delivery:
        """POST anything; for forged, stale or malformed requests.

        A mapping is sent as JSON. ``headers`` are applied last, so they can replace the
        computed signature. ``sign=False`` sends no signature headers at all.
        """
        payload: dict[str, Any] | None = None
        if isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        else:
            payload = dict(body)
            raw = json.dumps(payload).encode()
        sent: dict[str, str] = {
            "Content-Type": content_type or (JSON if payload is not None else FORM)
        }
        if sign:
            sent.update(self.sign(raw, timestamp))
        if retry_num is not None:
            sent["X-Slack-Retry-Num"] = str(retry_num)
            sent["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        sent.update(headers or {})
        target = url or self.events_url
        started = time.perf_counter()
        response = await self.client.post(target, content=raw, headers=sent)
        elapsed = time.perf_counter() - started
        return Delivery(response, elapsed, target, raw, sent, payload)

    async def redeliver(
        self, delivery: Delivery, *, retry_num: int = 1, reason: str = "http_timeout"
    ) -> Delivery:
        """Send the same body again as Slack's retry ``retry_num`` (fresh signature)."""
        again = await self.post(
            delivery.body,
            url=delivery.url,
            content_type=delivery.headers.get("Content-Type"),
            retry_num=retry_num,
            retry_reason=reason,
        )
        again.payload = delivery.payload
        return again

    async def _form(self, url: str, fields: Mapping[str, str], payload: dict[str, Any]) -> Delivery:
        delivery = await self.post(urlencode(fields), url=url, content_type=FORM)
        delivery.payload = payload
        return delivery

    # ---- Events API ---------------------------------------------------------------------------

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> Delivery:
        """Deliver any event inside an ``event_callback`` envelope."""
        envelope = payloads.event_callback(
            self.identity, event, event_time=int(self.clock()), event_id=event_id
        )
        return await self.post(envelope, retry_num=retry_num, retry_reason=retry_reason)

    async def dm(
        self,
        user_id: str,
        text: str,
        *,
        thread_ts: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> Delivery:
        """A person writes ``text`` to the app in its DM (``message.im``).

        ``retry_num`` flags this new event as a retry; ``redeliver`` resends the same event.
        """
        channel = self._dm_channel(user_id)
        ts = self._ts()
        event = payloads.message_im_event(
            self.identity, user=user_id, channel=channel, text=text, ts=ts, thread_ts=thread_ts
        )
        if self.state is not None:
            self.state.add_message(
                Message(
                    channel=channel,
                    ts=ts,
                    text=text,
                    blocks=event["blocks"],
                    user=user_id,
                    thread_ts=thread_ts,
                )
            )
        return await self.event(event, retry_num=retry_num, retry_reason=retry_reason)

    async def app_home_opened(self, user_id: str, *, tab: str = "home") -> Delivery:
        """A person opens the app's Home (or Messages) tab."""
        view = None
        if self.state is not None and tab == "home":
            home = self.state.home_view(user_id)
            view = view_object(self.state.workspace, home) if home else None
        event = payloads.app_home_opened_event(
            user=user_id, channel=self._dm_channel(user_id), event_ts=self._ts(), tab=tab, view=view
        )
        return await self.event(event)

    async def user_change(self, user_id: str, *, kind: str = "user_change") -> Delivery:
        """Slack tells the app a member changed (``user_change``) or joined (``team_join``).

        The event carries the whole user object as ``users.info`` shows it (email included),
        taken from ``state``'s workspace: change the user there first.
        """
        if self.state is None:
            raise ValueError("user_change needs the fake's state")
        ws = self.state.workspace
        event = {
            "type": kind,
            "user": user_object(ws, ws.users[user_id], with_email=True),
            "cache_ts": int(self.clock()),
            "event_ts": self._ts(),
        }
        return await self.event(event)

    async def url_verification(self, challenge: str | None = None) -> Delivery:
        """Slack's handshake when the Request URL is saved; the app must echo ``challenge``."""
        body = payloads.url_verification(self.identity, challenge or secrets.token_urlsafe(24))
        return await self.post(body)

    # ---- interactivity ------------------------------------------------------------------------

    async def block_action(
        self,
        user_id: str,
        action_id: str,
        value: str | None = None,
        *,
        message: Message | Ephemeral | dict[str, Any] | None = None,
        channel: str | None = None,
        view: View | str | None = None,
        response_url: str | None = None,
    ) -> Delivery:
        """A person clicks/selects the element ``action_id``.

        The source is ``view`` (a View or view id), else ``message``, else the newest message
        (then ephemeral, then Home tab or modal) in ``state`` that holds ``action_id``, looked up
        in ``channel`` or the person's DM with the app. ``value`` defaults to the element's own.
        """
        source = self._find_source(user_id, action_id, message=message, channel=channel, view=view)
        blocks = (
            source.definition.get("blocks", []) if isinstance(source, View) else _blocks_of(source)
        )
        block_id, element = _element(blocks, action_id)
        action = _action(element, block_id, value, self._ts())
        user = payloads.user_ref(self.identity, self._user(user_id), user_id)
        trigger_id = self._trigger(user_id)
        if isinstance(source, View):
            payload = payloads.block_actions(
                self.identity,
                user=user,
                actions=[action],
                trigger_id=trigger_id,
                container={"type": "view", "view_id": source.id},
                view=view_object(self._workspace(), source),
            )
        else:
            payload = self._message_action(
                user_id, user, action, trigger_id, source, channel, response_url
            )
        return await self._form(self.interactivity_url, {"payload": json.dumps(payload)}, payload)

    async def slash_command(
        self, user_id: str, command: str, text: str = "", *, channel: str | None = None
    ) -> Delivery:
        """A person runs ``command text`` in ``channel`` (default: the app's DM with them)."""
        channel_id, channel_name = self._channel_ref(channel or user_id)
        response_url = (
            self.state.new_response_url(channel=channel_id, user=user_id)
            if self.state
            else f"https://hooks.slack.com/commands/{self.identity.team_id}/{secrets.token_hex(8)}"
        )
        user = self._user(user_id)
        fields = payloads.slash_command(
            self.identity,
            user_id=user_id,
            user_name=user.name if user else user_id.lower(),
            command=command if command.startswith("/") else f"/{command}",
            text=text,
            channel_id=channel_id,
            channel_name=channel_name,
            response_url=response_url,
            trigger_id=self._trigger(user_id),
        )
        return await self._form(self.commands_url, fields, dict(fields))

    async def view_submission(
        self,
        user_id: str,
        values: dict[str, dict[str, Any]] | None = None,
        *,
        view: View | str | dict[str, Any] | None = None,
    ) -> Delivery:
        """A person submits a modal with ``{block_id: {action_id: value}}`` inputs.

        ``view`` is a View, a view id, a view object (without ``state``), or None for the person's
        newest open modal. With ``state``, the app's answer is applied: an empty ack closes the
        modal, ``response_action: update`` replaces it, ``errors`` leaves it open.
        """
        stored = self._find_view(user_id, view)
        if stored is not None:
            obj = view_object(self._workspace(), stored)
        elif isinstance(view, dict):
            obj = dict(view)
        else:
            raise LookupError(f"no open modal for {user_id}")
        obj["state"] = {"values": payloads.input_values(obj, values or {})}
        user = payloads.user_ref(self.identity, self._user(user_id), user_id)
        payload = payloads.view_submission(
            self.identity, user=user, view=obj, trigger_id=self._trigger(user_id)
        )
        delivery = await self._form(
            self.interactivity_url, {"payload": json.dumps(payload)}, payload
        )
        if stored is not None and delivery.response.is_success:
            _apply_submission_answer(stored, delivery)
        return delivery

    # ---- helpers ------------------------------------------------------------------------------

    def _workspace(self) -> Workspace:
        if self.state is None:
            raise RuntimeError("a stored View as the source needs a sender built with state=")
        return self.state.workspace

    def _ts(self) -> str:
        if self.state is not None:
            return self.state.next_ts()
        return f"{self.clock():.6f}"

    def _user(self, user_id: str) -> User | None:
        return self.state.user(user_id) if self.state else None

    def _trigger(self, user_id: str) -> str:
        if self.state is not None:
            return self.state.new_trigger_id(user_id)
        return f"{int(self.clock())}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"

    def _dm_channel(self, user_id: str) -> str:
        if self.state is not None:
            return self.state.open_dm(user_id)[0].id
        return dm_id_for(self.identity.team_id, user_id)

    def _channel_ref(self, ref: str) -> tuple[str, str]:
        """``(channel_id, channel_name)`` as interaction payloads name them."""
        if self.state is not None:
            channel = self.state.channel(ref)
            if channel is not None:
                return channel.id, channel.name
            if ref in self.state.workspace.users:
                return self._dm_channel(ref), "directmessage"
            return ref, "directmessage" if ref.startswith("D") else ref
        if ref.startswith(("U", "W")):
            return self._dm_channel(ref), "directmessage"
        return ref, "directmessage" if ref.startswith("D") else ref

    def _find_source(
        self,
        user_id: str,
        action_id: str,
        *,
        message: Message | Ephemeral | dict[str, Any] | None,
        channel: str | None,
        view: View | str | None,
    ) -> Message | Ephemeral | dict[str, Any] | View:
        if view is not None:
            found = self.state.view(view) if isinstance(view, str) and self.state else view
            if not isinstance(found, View):
                raise LookupError(f"no view {view!r}")
            return found
        if message is not None:
            return message
        if self.state is None:
            raise LookupError("pass message= or view= when the sender has no state")
        where = channel or user_id
        for msg in reversed(self.state.messages_to(where)):
            if action_id in msg.action_ids():
                return msg
        for eph in reversed(self.state.ephemerals_to(user_id)):
            if action_id in eph.action_ids():
                return eph
        for stored in reversed(self.state.views(user_id)):
            if not stored.closed and action_id in action_ids(stored.definition.get("blocks")):
                return stored
        raise LookupError(f"no message or view shows action_id {action_id!r} to {user_id}")

    def _message_action(
        self,
        user_id: str,
        user: dict[str, Any],
        action: dict[str, Any],
        trigger_id: str,
        source: Message | Ephemeral | dict[str, Any],
        channel: str | None,
        response_url: str | None,
    ) -> dict[str, Any]:
        message: dict[str, Any] | None
        if isinstance(source, dict):
            channel_ref = channel or source.get("channel") or user_id
            channel_id, channel_name = self._channel_ref(channel_ref)
            ts, is_ephemeral, message = str(source.get("ts", "")), False, source
        else:
            channel_id, channel_name = self._channel_ref(source.channel)
            ts, is_ephemeral = source.ts, isinstance(source, Ephemeral)
            message = (
                None
                if isinstance(source, Ephemeral) or self.state is None
                else message_object(self.state.workspace, source)
            )
        if response_url is None and self.state is not None:
            response_url = self.state.new_response_url(
                channel=channel_id, user=user_id, message_ts=ts, ephemeral_source=is_ephemeral
            )
        # Slack leaves the message out of the payload when the source was ephemeral.
        return payloads.block_actions(
            self.identity,
            user=user,
            actions=[action],
            trigger_id=trigger_id,
            container={
                "type": "message",
                "message_ts": ts,
                "channel_id": channel_id,
                "is_ephemeral": is_ephemeral,
            },
            channel={"id": channel_id, "name": channel_name},
            message=message,
            response_url=response_url
            or f"https://hooks.slack.com/actions/{self.identity.team_id}/{secrets.token_hex(8)}",
        )

    def _find_view(self, user_id: str, view: View | str | dict[str, Any] | None) -> View | None:
        if isinstance(view, View):
            return view
        if self.state is None or isinstance(view, dict):
            return None
        if isinstance(view, str):
            return self.state.view(view)
        modals = [v for v in self.state.views(user_id, type="modal") if not v.closed]
        return modals[-1] if modals else None


def _blocks_of(source: Message | Ephemeral | dict[str, Any]) -> list[Any]:
    blocks = source.get("blocks") if isinstance(source, dict) else source.blocks
    return blocks if isinstance(blocks, list) else []


def _element(blocks: list[Any], action_id: str) -> tuple[str, dict[str, Any]]:
    """``(block_id, element)`` of the interactive element ``action_id``."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        candidates = [*block.get("elements", []), block.get("accessory"), block.get("element")]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id") or payloads.random_id("", 5)), element
    raise LookupError(f"no element with action_id {action_id!r}")


def _action(
    element: dict[str, Any], block_id: str, value: str | None, action_ts: str
) -> dict[str, Any]:
    """The ``actions[0]`` entry Slack sends for an element."""
    kind = str(element.get("type", "button"))
    action: dict[str, Any] = {
        "action_id": element["action_id"],
        "block_id": block_id,
        "type": kind,
        "action_ts": action_ts,
    }
    if kind == "button":
        action["text"] = element.get("text", {"type": "plain_text", "text": ""})
        action["value"] = value if value is not None else element.get("value", "")
        if "style" in element:
            action["style"] = element["style"]
    elif kind in ("static_select", "external_select", "radio_buttons", "overflow"):
        chosen = value if value is not None else ""
        options = element.get("options") or []
        option = next(
            (o for o in options if isinstance(o, dict) and o.get("value") == chosen), None
        )
        action["selected_option"] = option or {
            "text": {"type": "plain_text", "text": chosen},
            "value": chosen,
        }
    elif kind == "users_select":
        action["selected_user"] = value
    else:
        action["value"] = value
    return action


def _apply_submission_answer(view: View, delivery: Delivery) -> None:
    """Close, update or keep a modal according to the app's answer to its submission."""
    try:
        answer = delivery.json()
    except ValueError:
        answer = None
    action = answer.get("response_action") if isinstance(answer, dict) else None
    if action == "update" and isinstance(answer, dict) and isinstance(answer.get("view"), dict):
        view.definition = answer["view"]
    elif action not in ("errors", "push"):
        view.closed = True
