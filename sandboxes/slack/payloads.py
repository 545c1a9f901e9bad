"""Pure builders for what Slack sends an app: Events API envelopes and interaction payloads.

Shapes follow api.slack.com/apis/connections/events-api (event wrapper with ``authorizations``,
which replaced ``authed_users`` in 2021), /events/message.im, /events/app_home_opened,
/reference/interaction-payloads/block-actions and /views, and
/interactivity/slash-commands#app_command_handling.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any

from sandboxes.slack.model import App, User, Workspace

_ID_CHARS = string.ascii_uppercase + string.digits


def random_id(prefix: str, length: int = 10) -> str:
    """An id in Slack's style: a type letter then upper-case letters and digits."""
    return prefix + "".join(secrets.choice(_ID_CHARS) for _ in range(length))


@dataclass(frozen=True)
class AppIdentity:
    """Who events are addressed to: the workspace, the app and its bot user."""

    team_id: str = "T0ACME0001"
    team_domain: str = "acme"
    api_app_id: str = App.id
    bot_user_id: str = App.bot_user_id
    # Slack still sends the deprecated verification token in every payload.
    verification_token: str = "fakeVerificationToken0001"

    @classmethod
    def of(cls, ws: Workspace, verification_token: str | None = None) -> AppIdentity:
        """The identity of a seeded workspace's app."""
        return cls(
            team_id=ws.team_id,
            team_domain=ws.domain,
            api_app_id=ws.app.id,
            bot_user_id=ws.app.bot_user_id,
            verification_token=verification_token or cls.verification_token,
        )


def event_callback(
    app: AppIdentity, event: dict[str, Any], *, event_time: int, event_id: str | None = None
) -> dict[str, Any]:
    """The ``event_callback`` envelope around one event."""
    context = base64.b64encode(json.dumps({"id": secrets.token_hex(6)}).encode()).decode()
    return {
        "token": app.verification_token,
        "team_id": app.team_id,
        "context_team_id": app.team_id,
        "context_enterprise_id": None,
        "api_app_id": app.api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or random_id("Ev"),
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": app.team_id,
                "user_id": app.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{context}",
    }


def rich_text(text: str) -> list[dict[str, Any]]:
    """The ``rich_text`` blocks Slack's clients attach to a typed message."""
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return [{"type": "rich_text", "block_id": random_id("", 5), "elements": [section]}]


def message_im_event(
    app: AppIdentity, *, user: str, channel: str, text: str, ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """A ``message`` event for a person writing in the app's DM (``message.im``)."""
    event: dict[str, Any] = {
        "type": "message",
        "client_msg_id": str(uuid.uuid4()),
        "text": text,
        "user": user,
        "ts": ts,
        "blocks": rich_text(text),
        "team": app.team_id,
        "channel": channel,
        "event_ts": ts,
        "channel_type": "im",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def app_home_opened_event(
    *, user: str, channel: str, event_ts: str, tab: str = "home", view: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An ``app_home_opened`` event; ``view`` is the published Home tab, if any."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": event_ts,
    }
    if view is not None:
        event["view"] = view
    return event


def user_ref(app: AppIdentity, user: User | None, user_id: str) -> dict[str, Any]:
    """The ``user`` object of an interaction payload."""
    name = user.name if user else user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": app.team_id}


def block_actions(
    app: AppIdentity,
    *,
    user: dict[str, Any],
    actions: list[dict[str, Any]],
    trigger_id: str,
    container: dict[str, Any],
    channel: dict[str, Any] | None = None,
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    response_url: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload: a click in a message (with response_url) or in a view."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": user,
        "api_app_id": app.api_app_id,
        "token": app.verification_token,
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": app.team_id, "domain": app.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": actions,
    }
    if channel is not None:
        payload["channel"] = channel
    if message is not None:
        payload["message"] = message
    if view is not None:
        payload["view"] = view
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def slash_command(
    app: AppIdentity,
    *,
    user_id: str,
    user_name: str,
    command: str,
    text: str,
    channel_id: str,
    channel_name: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """The form fields of a slash command invocation."""
    return {
        "token": app.verification_token,
        "team_id": app.team_id,
        "team_domain": app.team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": app.api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def view_submission(
    app: AppIdentity, *, user: dict[str, Any], view: dict[str, Any], trigger_id: str
) -> dict[str, Any]:
    """A ``view_submission`` payload; ``view`` already carries ``state.values``."""
    return {
        "type": "view_submission",
        "team": {"id": app.team_id, "domain": app.team_domain},
        "user": user,
        "api_app_id": app.api_app_id,
        "token": app.verification_token,
        "trigger_id": trigger_id,
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def url_verification(app: AppIdentity, challenge: str) -> dict[str, Any]:
    """The ``url_verification`` handshake Slack sends when the Request URL is set."""
    return {"token": app.verification_token, "challenge": challenge, "type": "url_verification"}


def input_values(view: dict[str, Any], values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``view.state.values`` for a submission, from ``{block_id: {action_id: value}}``.

    A plain value is wrapped according to the element type found in the view (text input ->
    ``value``, selects/radios -> ``selected_option``, user/conversation pickers -> ``selected_*``,
    checkboxes/multi-selects -> ``selected_options``); a dict is taken as already shaped.
    """
    types: dict[tuple[str, str], str] = {}
    for block in view.get("blocks", []):
        element = block.get("element") if isinstance(block, dict) else None
        if isinstance(element, dict):
            types[(str(block.get("block_id", "")), str(element.get("action_id", "")))] = str(
                element.get("type", "")
            )
    state: dict[str, Any] = {}
    for block_id, actions in values.items():
        for action_id, value in actions.items():
            kind = types.get((block_id, action_id), "plain_text_input")
            state.setdefault(block_id, {})[action_id] = _input_value(kind, value)
    return state


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}


def _input_value(kind: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {"type": kind, **value}
    if kind in ("static_select", "external_select", "radio_buttons"):
        return {"type": kind, "selected_option": _option(str(value))}
    if kind in ("checkboxes", "multi_static_select", "multi_external_select"):
        items = value if isinstance(value, list) else [value]
        return {"type": kind, "selected_options": [_option(str(v)) for v in items]}
    if kind == "users_select":
        return {"type": kind, "selected_user": value}
    if kind == "conversations_select":
        return {"type": kind, "selected_conversation": value}
    if kind == "channels_select":
        return {"type": kind, "selected_channel": value}
    return {"type": kind, "value": value}
