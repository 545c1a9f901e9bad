"""What happens when the app POSTs to a response_url (bolt's ``respond()``).

Slack's rules (api.slack.com/interactivity/handling#message_responses):

- ``delete_original: true`` deletes the message the interaction came from;
- ``replace_original: true`` replaces it (text and blocks);
- otherwise a new message: ``response_type: "in_channel"`` for everyone, else (the default)
  ephemeral to the user who interacted;
- a response_url works five times within thirty minutes.

Failures answer 4xx with ``{"ok": false, "error": ...}``; success answers ``{"ok": true}``.
Every POST is recorded in ``state.response_posts()``.
"""

from __future__ import annotations

import json
from typing import Any

from sandboxes.slack.blocks import BlockKitError, parse_message_blocks
from sandboxes.slack.records import (
    RESPONSE_URL_TTL,
    RESPONSE_URL_USES,
    Ephemeral,
    Message,
    ResponsePost,
    ResponseUrl,
)
from sandboxes.slack.state import SlackState


class _RefusedError(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def _check_usable(state: SlackState, url: ResponseUrl | None) -> ResponseUrl:
    if url is None:
        raise _RefusedError(404, "no_service")
    if state.clock() - url.created_at > RESPONSE_URL_TTL:
        raise _RefusedError(404, "expired_url")
    if url.uses >= RESPONSE_URL_USES:
        raise _RefusedError(404, "used_url")
    return url


def _original(state: SlackState, url: ResponseUrl) -> Message | Ephemeral:
    found: Message | Ephemeral | None = None
    if url.message_ts is not None:
        if url.ephemeral_source:
            found = state.find_ephemeral(url.channel, url.message_ts)
        else:
            found = state.find_message(url.channel, url.message_ts)
    if found is None or found.deleted:
        raise _RefusedError(404, "message_not_found")
    return found


def _apply(state: SlackState, url: ResponseUrl, body: dict[str, Any]) -> str:
    """Carry out one response; returns what happened (recorded as the post's ``outcome``)."""
    if body.get("delete_original") is True:
        state.delete_message(_original(state, url))
        return "deleted"
    raw_text = body.get("text")
    text = raw_text if isinstance(raw_text, str) else ""
    try:
        blocks = parse_message_blocks(body.get("blocks"))
    except BlockKitError as exc:
        raise _RefusedError(400, exc.code) from None
    if not text and not blocks:
        raise _RefusedError(400, "no_text")
    # A slash command's response_url has no original to replace: the reply is a new message.
    if body.get("replace_original") is True and url.message_ts is not None:
        state.replace_message(_original(state, url), text=text, blocks=blocks, by="response_url")
        return "replaced"
    ts = state.next_ts()
    if body.get("response_type") == "in_channel":
        ws = state.workspace
        state.add_message(
            Message(
                channel=url.channel,
                ts=ts,
                text=text,
                blocks=blocks,
                user=ws.app.bot_user_id,
                bot_id=ws.app.bot_id,
                thread_ts=body.get("thread_ts") if isinstance(body.get("thread_ts"), str) else None,
            )
        )
        return "in_channel"
    state.add_ephemeral(
        Ephemeral(
            channel=url.channel,
            user=url.user,
            ts=ts,
            text=text,
            blocks=blocks,
            source="response_url",
        )
    )
    return "ephemeral"


def handle_response_post(state: SlackState, url_id: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    """Handle one POST to ``/response/<url_id>``; returns ``(status, json_body)``."""
    body: dict[str, Any] = {}
    answer: dict[str, Any]
    try:
        url = _check_usable(state, state.response_url(url_id))
        try:
            parsed = json.loads(raw or b"null")
        except ValueError:
            raise _RefusedError(400, "invalid_payload") from None
        if not isinstance(parsed, dict):
            raise _RefusedError(400, "invalid_payload")
        body = parsed
        outcome = _apply(state, url, body)
        url.uses += 1
        status, answer = 200, {"ok": True}
    except _RefusedError as exc:
        outcome, status = exc.error, exc.status
        answer = {"ok": False, "error": exc.error}
    state.record_response_post(ResponsePost(url_id, body, status, outcome, state.clock()))
    return status, answer
