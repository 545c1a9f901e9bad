"""The Web API methods the fake implements: one handler per method, routed by ``METHODS``.

A handler takes an ``ApiRequest`` (state, token, params) and returns the success body, or raises
``SlackError`` with Slack's error code. Scope checks, auth, rate limits and recording happen in
``web_api``; the channel-type-dependent scope of ``conversations.info`` is checked here.
Errors and edge cases follow each method's api.slack.com page; where Slack's observed behaviour
differs from its docs the comment says so.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandboxes.slack.blocks import BlockKitError, parse_message_blocks, parse_view
from sandboxes.slack.model import Channel, Token
from sandboxes.slack.records import Ephemeral, Message, View
from sandboxes.slack.render import (
    channel_object,
    im_object,
    message_object,
    user_object,
    view_object,
)
from sandboxes.slack.state import SlackState

MAX_TEXT = 40_000
USERS_LIST_MAX = 1000


class SlackError(Exception):
    """A Web API failure: ``error`` is Slack's code, ``extra`` goes into the body beside it."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body Slack would send."""
        return {"ok": False, "error": self.error, **self.extra}


def missing_scope(token: Token, needed: str) -> SlackError:
    """Slack's ``missing_scope`` error naming the needed and the granted scopes."""
    return SlackError("missing_scope", needed=needed, provided=",".join(sorted(token.scopes)))


@dataclass
class ApiRequest:
    """One authenticated request as a handler sees it."""

    state: SlackState
    token: Token
    params: Mapping[str, Any]

    def text(self, name: str) -> str | None:
        """A parameter as text (JSON bodies may carry numbers or booleans); None if absent/empty."""
        value = self.params.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value)

    def flag(self, name: str) -> bool:
        """A boolean parameter (``true``/``1`` in forms, ``true`` in JSON)."""
        value = self.params.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def integer(self, name: str, default: int) -> int:
        """An integer parameter; ``invalid_arguments`` when it is not one."""
        value = self.params.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments") from None

    def require_scope(self, scope: str) -> None:
        """Raise ``missing_scope`` unless the token holds ``scope``."""
        if scope not in self.token.scopes:
            raise missing_scope(self.token, scope)

    @property
    def bot_user_id(self) -> str:
        """The app's bot user."""
        return self.state.workspace.app.bot_user_id


Handler = Callable[[ApiRequest], dict[str, Any]]


@dataclass(frozen=True)
class Method:
    """A routed method: its handler and the scope it needs (None: no scope)."""

    handler: Handler
    scope: str | None = None


# ---- helpers ----------------------------------------------------------------------------


def _conversation_for_post(call: ApiRequest, ref: str) -> str:
    """Resolve where the app may post: a user id (its DM), a DM id, a channel id or name."""
    state = call.state
    # A user id as ``channel`` posts to the app's DM with that user (chat.postMessage docs).
    # Slack accepts it even for deactivated users (python-slack-sdk issue #1156).
    if ref in state.workspace.users:
        dm, _ = state.open_dm(ref)
        return dm.id
    if ref.startswith("D"):
        owner = state.dm_owner(ref)
        if owner is None:
            raise SlackError("channel_not_found")
        return state.open_dm(owner)[0].id
    channel = state.channel(ref)
    if channel is None:
        raise SlackError("channel_not_found")
    _check_bot_can_post(call, channel)
    return channel.id


def _check_bot_can_post(call: ApiRequest, channel: Channel) -> None:
    if call.bot_user_id not in channel.members:
        # A private channel the bot is not in does not exist for it; a public one needs
        # ``chat:write.public`` to post without joining.
        if channel.is_private:
            raise SlackError("channel_not_found")
        if "chat:write.public" not in call.token.scopes:
            raise SlackError("not_in_channel")
    if channel.is_archived:
        raise SlackError("is_archived")


def _content(
    call: ApiRequest,
) -> tuple[str, list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
    """``(text, blocks, attachments)`` of a message-posting call, validated."""
    text = call.text("text") or ""
    try:
        blocks = parse_message_blocks(call.params.get("blocks"))
    except BlockKitError as exc:
        raise SlackError(exc.code, response_metadata={"messages": exc.messages}) from None
    attachments = _attachments(call.params.get("attachments"))
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    return text, blocks, attachments


def _attachments(raw: object) -> list[dict[str, Any]] | None:
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise SlackError("invalid_attachments") from None
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise SlackError("invalid_attachments")
    if len(value) > 100:
        raise SlackError("too_many_attachments")
    return value or None


def _own_message(call: ApiRequest, *, not_yours: str) -> Message:
    channel_ref = call.text("channel")
    ts = call.text("ts")
    if channel_ref is None:
        raise SlackError("channel_not_found")
    channel_id = call.state.conversation_id(channel_ref)
    message = call.state.find_message(channel_id, ts) if ts else None
    if message is None or message.deleted:
        raise SlackError("message_not_found")
    if message.user != call.bot_user_id:
        raise SlackError(not_yours)
    return message


def _cursor(user_id: str) -> str:
    return base64.b64encode(f"user:{user_id}".encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        decoded = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    kind, _, user_id = decoded.partition(":")
    if kind != "user" or not user_id:
        raise SlackError("invalid_cursor")
    return user_id


def _view_or_error(raw: object, expected_type: str | None) -> dict[str, Any]:
    if raw is None or raw == "":
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] missing required field: view"]},
        )
    try:
        return parse_view(raw, expected_type=expected_type)
    except BlockKitError as exc:
        raise SlackError(exc.code, response_metadata={"messages": exc.messages}) from None


def _new_view_id() -> str:
    return "V" + secrets.token_hex(5).upper()


def _new_hash(call: ApiRequest) -> str:
    return f"{int(call.state.clock())}.{secrets.token_hex(4)}"


def _external_id(
    call: ApiRequest, definition: Mapping[str, Any], current: View | None = None
) -> str:
    external_id = definition.get("external_id") or ""
    if external_id:
        other = call.state.view_by_external_id(external_id)
        if other is not None and other is not current:
            raise SlackError("duplicate_external_id")
    return str(external_id)


# ---- handlers ---------------------------------------------------------------------------


def auth_test(call: ApiRequest) -> dict[str, Any]:
    """auth.test: who the token is."""
    ws = call.state.workspace
    return {
        "ok": True,
        "url": f"https://{ws.domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.app.name,
        "team_id": ws.team_id,
        "user_id": ws.app.bot_user_id,
        "bot_id": ws.app.bot_id,
        "is_enterprise_install": False,
    }


def chat_post_message(call: ApiRequest) -> dict[str, Any]:
    """chat.postMessage: post as the bot to a channel, or to a user's DM via their user id."""
    ref = call.text("channel")
    if ref is None:
        raise SlackError("channel_not_found")
    channel_id = _conversation_for_post(call, ref)
    text, blocks, attachments = _content(call)
    ws = call.state.workspace
    message = call.state.add_message(
        Message(
            channel=channel_id,
            ts=call.state.next_ts(),
            text=text,
            blocks=blocks,
            attachments=attachments,
            user=ws.app.bot_user_id,
            bot_id=ws.app.bot_id,
            thread_ts=call.text("thread_ts"),
            metadata=_metadata(call.params.get("metadata")),
        )
    )
    return {
        "ok": True,
        "channel": channel_id,
        "ts": message.ts,
        "message": message_object(ws, message),
    }


def _metadata(raw: object) -> dict[str, Any] | None:
    """chat.postMessage's ``metadata`` (JSON text in a form, an object in JSON): kept as is."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise SlackError("invalid_metadata_format") from None
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("event_type"), str)
        or not isinstance(raw.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format")
    return {"event_type": raw["event_type"], "event_payload": dict(raw["event_payload"])}


def conversations_history(call: ApiRequest) -> dict[str, Any]:
    """conversations.history: a conversation's messages, newest first, paged by ``cursor``.

    ``include_all_metadata`` adds each message's ``metadata``; ``oldest``/``latest`` bound
    the timestamps, exclusive unless ``inclusive`` (Slack's default is ``false``).
    """
    ref = call.text("channel")
    if ref is None:
        raise SlackError("channel_not_found")
    state = call.state
    if ref.startswith("D"):
        call.require_scope("im:history")
        if state.dm_owner(ref) is None:
            raise SlackError("channel_not_found")
        channel_id = ref
    else:
        channel = state.channel(ref)
        if channel is None:
            raise SlackError("channel_not_found")
        call.require_scope("groups:history" if channel.is_private else "channels:history")
        if call.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")
        channel_id = channel.id
    oldest = float(call.text("oldest") or 0)
    latest = float(call.text("latest") or "inf")
    limit = max(1, min(call.integer("limit", 100), 999))
    inclusive = call.flag("inclusive")

    def inside(ts: float) -> bool:
        return oldest <= ts <= latest if inclusive else oldest < ts < latest

    found = [
        m for m in reversed(state.messages_in(channel_id))
        if m.thread_ts is None and inside(float(m.ts))
    ]
    start = int(call.text("cursor") or 0)
    page = found[start:start + limit]
    more = start + limit < len(found)
    ws = state.workspace
    messages = []
    for m in page:
        obj = message_object(ws, m)
        if m.metadata is not None and call.flag("include_all_metadata"):
            obj["metadata"] = m.metadata
        messages.append(obj)
    body: dict[str, Any] = {
        "ok": True, "messages": messages, "has_more": more, "pin_count": 0,
        "channel_actions_ts": None, "channel_actions_count": 0,
    }
    if more:
        body["response_metadata"] = {"next_cursor": str(start + limit)}
    return body


def chat_update(call: ApiRequest) -> dict[str, Any]:
    """chat.update: replace the text/blocks of one of the bot's messages.

    As documented, omitted ``blocks``/``attachments`` keep their previous value and an empty
    array removes them; omitted ``text`` keeps the previous text too, so a test can see a
    secret that an update forgot to remove.
    """
    message = _own_message(call, not_yours="cant_update_message")
    has_text = "text" in call.params
    text = (call.text("text") or "") if has_text else message.text
    blocks = message.blocks
    if "blocks" in call.params:
        try:
            blocks = parse_message_blocks(call.params["blocks"])
        except BlockKitError as exc:
            raise SlackError(exc.code, response_metadata={"messages": exc.messages}) from None
    if "attachments" in call.params:
        message.attachments = _attachments(call.params["attachments"])
    if not text and not blocks and not message.attachments:
        raise SlackError("no_text")
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    call.state.replace_message(message, text=text, blocks=blocks, by="chat.update")
    ws = call.state.workspace
    return {
        "ok": True,
        "channel": message.channel,
        "ts": message.ts,
        "text": message.text,
        "message": message_object(ws, message),
    }


def chat_delete(call: ApiRequest) -> dict[str, Any]:
    """chat.delete: delete one of the bot's messages."""
    message = _own_message(call, not_yours="cant_delete_message")
    call.state.delete_message(message)
    return {"ok": True, "channel": message.channel, "ts": message.ts}


def chat_post_ephemeral(call: ApiRequest) -> dict[str, Any]:
    """chat.postEphemeral: a message only ``user`` sees, in a conversation they are in."""
    ref = call.text("channel")
    user_id = call.text("user")
    if ref is None:
        raise SlackError("channel_not_found")
    state = call.state
    user = state.user(user_id) if user_id else None
    channel_id = _conversation_for_post(call, ref)
    channel = state.workspace.channels.get(channel_id)
    if user is None or user.deleted:
        raise SlackError("user_not_in_channel")
    if channel is not None and user.id not in channel.members:
        raise SlackError("user_not_in_channel")
    if channel is None and channel_id != state.dm_id(user.id):
        raise SlackError("user_not_in_channel")
    text, blocks, _ = _content(call)
    ts = state.next_ts()
    state.add_ephemeral(
        Ephemeral(channel=channel_id, user=user.id, ts=ts, text=text, blocks=blocks)
    )
    return {"ok": True, "message_ts": ts}


def conversations_open(call: ApiRequest) -> dict[str, Any]:
    """conversations.open: open (or find) the app's DM with one user."""
    state = call.state
    users = [u for u in (call.text("users") or "").split(",") if u]
    channel_ref = call.text("channel")
    if not users and channel_ref:
        dm = state.dm(channel_ref)
        if dm is None:
            raise SlackError("channel_not_found")
        already = True
    elif not users:
        raise SlackError("users_list_not_supplied")
    elif len(users) > 1:
        # Multi-person DMs are not modelled by this fake.
        raise SlackError("method_not_supported_for_channel_type")
    else:
        user = state.user(users[0])
        if user is None:
            raise SlackError("user_not_found")
        if user.deleted:
            raise SlackError("user_disabled")
        dm, already = state.open_dm(user.id)
    body: dict[str, Any] = {"ok": True}
    if already:
        body.update(no_op=True, already_open=True)
    body["channel"] = im_object(state.workspace, dm) if call.flag("return_im") else {"id": dm.id}
    return body


def conversations_info(call: ApiRequest) -> dict[str, Any]:
    """conversations.info: a channel or DM; the scope needed depends on its type."""
    state = call.state
    ref = call.text("channel")
    if ref is None:
        raise SlackError("channel_not_found")
    dm = state.dm(ref)
    if dm is not None:
        call.require_scope("im:read")
        return {"ok": True, "channel": im_object(state.workspace, dm)}
    channel = state.workspace.channels.get(ref)
    if channel is None:
        raise SlackError("channel_not_found")
    call.require_scope("groups:read" if channel.is_private else "channels:read")
    if channel.is_private and call.bot_user_id not in channel.members:
        raise SlackError("channel_not_found")
    obj = channel_object(state.workspace, channel, num_members=call.flag("include_num_members"))
    return {"ok": True, "channel": obj}


def users_info(call: ApiRequest) -> dict[str, Any]:
    """users.info: one user; ``profile.email`` only with ``users:read.email``."""
    user_id = call.text("user")
    user = call.state.user(user_id) if user_id else None
    if user is None:
        raise SlackError("user_not_found")
    with_email = "users:read.email" in call.token.scopes
    locale = call.flag("include_locale")
    obj = user_object(call.state.workspace, user, with_email=with_email, with_locale=locale)
    return {"ok": True, "user": obj}


def users_lookup_by_email(call: ApiRequest) -> dict[str, Any]:
    """users.lookupByEmail: a user by email; deactivated users are ``users_not_found`` (docs)."""
    email = call.text("email")
    if email is None:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] missing required field: email"]},
        )
    user = call.state.workspace.user_by_email(email)
    if user is None or user.deleted:
        raise SlackError("users_not_found")
    return {"ok": True, "user": user_object(call.state.workspace, user, with_email=True)}


def users_list(call: ApiRequest) -> dict[str, Any]:
    """users.list: every user (deactivated included), paged by ``limit``/``cursor``.

    Without ``limit`` Slack returns everyone in one page; with it, ``next_cursor`` is empty on the
    last page.
    """
    ws = call.state.workspace
    users = list(ws.users.values())
    limit = call.integer("limit", 0)
    cursor = call.text("cursor")
    start = 0
    if cursor:
        after = _decode_cursor(cursor)
        ids = [u.id for u in users]
        if after not in ids:
            raise SlackError("invalid_cursor")
        start = ids.index(after)
    if limit <= 0:
        limit = len(users)
    limit = min(limit, USERS_LIST_MAX)
    page = users[start : start + limit]
    rest = users[start + limit :]
    with_email = "users:read.email" in call.token.scopes
    return {
        "ok": True,
        "members": [
            user_object(ws, u, with_email=with_email, with_locale=call.flag("include_locale"))
            for u in page
        ],
        "cache_ts": int(call.state.clock()),
        "response_metadata": {"next_cursor": _cursor(rest[0].id) if rest else ""},
    }


def usergroups_users_list(call: ApiRequest) -> dict[str, Any]:
    """usergroups.users.list: member ids of a user group."""
    group_id = call.text("usergroup")
    group = call.state.workspace.usergroups.get(group_id) if group_id else None
    if group is None or (not group.enabled and not call.flag("include_disabled")):
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(group.users)}


def views_open(call: ApiRequest) -> dict[str, Any]:
    """views.open: open a modal by exchanging a fresh trigger_id (3 s, single use)."""
    trigger_id = call.text("trigger_id") or call.text("interactivity_pointer")
    if trigger_id is None:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
        )
    definition = _view_or_error(call.params.get("view"), "modal")
    trigger, error = call.state.exchange_trigger(trigger_id)
    if trigger is None:
        raise SlackError(error or "invalid_trigger_id")
    view_id = _new_view_id()
    view = View(
        id=view_id,
        user=trigger.user,
        type="modal",
        definition=definition,
        hash=_new_hash(call),
        root_view_id=view_id,
        external_id=_external_id(call, definition),
    )
    call.state.add_view(view)
    return {"ok": True, "view": view_object(call.state.workspace, view)}


def views_update(call: ApiRequest) -> dict[str, Any]:
    """views.update: replace a view (by ``view_id`` or ``external_id``); ``hash`` guards races."""
    state = call.state
    view_id = call.text("view_id")
    external_id = call.text("external_id")
    if view_id is None and external_id is None:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] view_id or external_id is required"]},
        )
    view = state.view(view_id) if view_id else state.view_by_external_id(external_id or "")
    if view is None:
        raise SlackError("not_found")
    expected_hash = call.text("hash")
    if expected_hash is not None and expected_hash != view.hash:
        raise SlackError("hash_conflict")
    definition = _view_or_error(call.params.get("view"), view.type)
    view.external_id = _external_id(call, definition, view) or view.external_id
    view.definition = definition
    view.hash = _new_hash(call)
    return {"ok": True, "view": view_object(state.workspace, view)}


def views_publish(call: ApiRequest) -> dict[str, Any]:
    """views.publish: set a user's Home tab (the view keeps its id across publishes)."""
    state = call.state
    user_id = call.text("user_id")
    user = state.user(user_id) if user_id else None
    if user is None:
        raise SlackError(
            "invalid_arguments", response_metadata={"messages": ["[ERROR] invalid user_id"]}
        )
    definition = _view_or_error(call.params.get("view"), "home")
    current = state.home_view(user.id)
    expected_hash = call.text("hash")
    if current is not None and expected_hash is not None and expected_hash != current.hash:
        raise SlackError("hash_conflict")
    view_id = current.id if current else _new_view_id()
    view = View(
        id=view_id,
        user=user.id,
        type="home",
        definition=definition,
        hash=_new_hash(call),
        root_view_id=view_id,
        external_id=_external_id(call, definition, current),
    )
    state.add_view(view)
    return {"ok": True, "view": view_object(state.workspace, view)}


METHODS: Mapping[str, Method] = {
    "auth.test": Method(auth_test),
    "chat.postMessage": Method(chat_post_message, "chat:write"),
    "chat.update": Method(chat_update, "chat:write"),
    "chat.postEphemeral": Method(chat_post_ephemeral, "chat:write"),
    "chat.delete": Method(chat_delete, "chat:write"),
    "conversations.open": Method(conversations_open, "im:write"),
    "conversations.info": Method(conversations_info),
    "conversations.history": Method(conversations_history),
    "users.info": Method(users_info, "users:read"),
    "users.lookupByEmail": Method(users_lookup_by_email, "users:read.email"),
    "users.list": Method(users_list, "users:read"),
    "usergroups.users.list": Method(usergroups_users_list, "usergroups:read"),
    "views.open": Method(views_open),
    "views.update": Method(views_update),
    "views.publish": Method(views_publish),
}
