"""Socket Mode: Slack's requests arrive on a WebSocket the bot opens (no public URL needed).

Used when ``slack.app_token`` (an app-level ``xapp-`` token with ``connections:write``) is
configured. The same rule as the HTTP endpoint: events, clicks and slash commands are
recorded in the inbox and acknowledged once recorded (the envelope id sent back), and
their work runs afterwards from the store (``bot.slack.inbox``); an envelope that could
not be recorded is not acknowledged, so Slack sends it again. View submissions are
answered with Bolt's answer as the acknowledgement's payload. Envelopes without what the listeners
need are acknowledged (so Slack does not resend them) and dropped with a log line.
Reconnection (Slack refreshes links every few hours) is slack_sdk's client's job.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.server import (
    Accepted,
    ack_kind,
    inbox_key,
    plain,
    well_formed,
)
from bot.slack.surface import SlackSurface
from config import metrics
from config.logging import get_logger

log = get_logger("helpdesk.socket_mode")


class SocketModeIngress:
    """Receives envelopes for ``surface`` over a Socket Mode connection."""

    def __init__(self, surface: SlackSurface, app_token: str) -> None:
        self.surface = surface
        self.client = SocketModeClient(app_token=app_token, web_client=surface.client)
        self.client.socket_mode_request_listeners.append(self._on_request)  # type: ignore[arg-type]

    async def _on_request(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        started = time.perf_counter()
        payload: Any = req.payload
        # Envelopes skip the HTTP ingress: the same checks (no NUL, bounded nesting) here.
        if not isinstance(payload, dict) or not plain(payload) or not well_formed(payload):
            await client.send_socket_mode_response(SocketModeResponse(req.envelope_id))
            metrics.acknowledged("rejected", started)
            log.warning("malformed_request", envelope_type=req.type)
            return
        event = metrics.event_kind(payload)
        kind = ack_kind(payload)
        if kind is not None:
            raw = json.dumps(payload, separators=(",", ":")).encode()
            retry = int(req.retry_attempt or 0)
            outcome = await self.surface.accept(inbox_key(payload, raw), raw, retry)
            if outcome is Accepted.FAILED:
                log.error("not_recorded", kind=event, retry=retry)
                return  # unacknowledged: Slack sends the envelope again
            answer = {"text": self.surface.command_ack} if kind == "command" else None
            await client.send_socket_mode_response(SocketModeResponse(req.envelope_id, answer))
            metrics.acknowledged(event, started)
            return
        bolt = await self.surface.dispatch_payload(payload)
        body: Any = None
        if bolt.body:
            try:
                body = json.loads(bolt.body)
            except ValueError:
                body = {"text": bolt.body}
        await client.send_socket_mode_response(SocketModeResponse(req.envelope_id, body))
        metrics.acknowledged(event, started)


@contextlib.asynccontextmanager
async def running_socket_mode(surface: SlackSurface, app_token: str) -> AsyncIterator[None]:
    """Connected to Slack over Socket Mode for the duration of the block."""
    ingress = SocketModeIngress(surface, app_token)
    await ingress.client.connect()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        await ingress.client.close()  # type: ignore[no-untyped-call]
