"""Socket Mode as Slack runs it: ``apps.connections.open`` and the WebSocket link behind it.

(api.slack.com/apis/socket-mode.) An app calls ``apps.connections.open`` with its
app-level token (``xapp-``, scope ``connections:write``) and gets a single-use
``ws://…/link/?ticket=…`` URL. On connecting it receives ``{"type": "hello", …}``; then
every request Slack would have POSTed arrives as an envelope::

    {"envelope_id": "…", "type": "events_api" | "interactive" | "slash_commands",
     "payload": {…the body…}, "accepts_response_payload": bool,
     "retry_attempt": 0, "retry_reason": ""}

and the app acknowledges it by sending ``{"envelope_id": "…"}`` (with ``"payload"`` when
its answer has one: a view submission's ``response_action``, a slash command's text). Slack
asks an app to reconnect with ``{"type": "disconnect", "reason": "refresh_requested"}``.

``SocketModeTransport`` lets ``SlackEventSender`` deliver over the link instead of HTTP:
whatever it would POST becomes an envelope, and the acknowledgement comes back as the
HTTP answer (200 with the ack's payload as JSON), timed the same way.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.websockets import WebSocket, WebSocketDisconnect

from sandboxes.slack.state import SlackState

CONNECTIONS_OPEN = "apps.connections.open"
CONNECTIONS_SCOPE = "connections:write"


class SocketModeLink:
    """The WebSocket side of the fake: tickets, connections, envelopes and their acks."""

    def __init__(self, state: SlackState) -> None:
        self.state = state
        self._tickets: set[str] = set()
        self._connections: list[WebSocket] = []
        self._connected = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.opened = 0  # connections accepted so far (a reconnect adds one)
        self.acks: list[dict[str, Any]] = []  # every acknowledgement received, in order

    def new_url(self) -> str:
        """A single-use link URL, as ``apps.connections.open`` returns."""
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        base = self.state.base_url.replace("http://", "ws://", 1)
        return f"{base}/link/?ticket={ticket}&app_id={self.state.workspace.app.id}"

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def serve(self, ws: WebSocket) -> None:
        """``/link/``: accept a ticketed connection, say hello, read acknowledgements."""
        ticket = ws.query_params.get("ticket", "")
        if ticket not in self._tickets:
            await ws.close(code=1008)  # policy violation: unknown or used ticket
            return
        self._tickets.discard(ticket)
        await ws.accept()
        await ws.send_text(json.dumps({
            "type": "hello",
            "num_connections": len(self._connections) + 1,
            "debug_info": {"host": "applink-fake", "build_number": 1,
                           "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.state.workspace.app.id},
        }))
        self._connections.append(ws)
        self.opened += 1
        self._connected.set()
        try:
            while True:
                message = json.loads(await ws.receive_text())
                if not isinstance(message, dict):
                    continue
                self.acks.append(message)
                future = self._acks.get(str(message.get("envelope_id", "")))
                if future is not None and not future.done():
                    future.set_result(message)
        except WebSocketDisconnect:
            pass
        finally:
            if ws in self._connections:
                self._connections.remove(ws)
            if not self._connections:
                self._connected.clear()

    async def wait_connected(self, limit: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), limit)

    async def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool,
        retry_attempt: int = 0,
        retry_reason: str = "",
        limit: float = 10.0,
    ) -> dict[str, Any] | None:
        """Send one envelope on a live connection; the app's ack, or None if none came."""
        await self.wait_connected(limit)
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        envelope = {
            "envelope_id": envelope_id, "type": kind, "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt, "retry_reason": retry_reason,
        }
        try:
            await self._connections[-1].send_text(json.dumps(envelope))
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            return None
        finally:
            self._acks.pop(envelope_id, None)

    async def refresh(self) -> None:
        """Ask every connected app to reconnect, as Slack does every few hours: a
        ``disconnect`` message; the app opens a new link and closes the old one."""
        for ws in list(self._connections):
            await ws.send_text(json.dumps({
                "type": "disconnect", "reason": "refresh_requested",
                "debug_info": {"host": "applink-fake"},
            }))


class SocketModeTransport(httpx.AsyncBaseTransport):
    """``SlackEventSender`` over Socket Mode: each POST becomes an envelope on the link."""

    def __init__(self, link: SocketModeLink, timeout: float = 10.0) -> None:
        self.link = link
        self.timeout = timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw = await request.aread()
        kind, payload, accepts = _envelope_of(raw, request.headers.get("content-type", ""))
        retry = int(request.headers.get("x-slack-retry-num", "0") or 0)
        started = time.perf_counter()
        ack = await self.link.deliver(
            kind, payload, accepts_response_payload=accepts, retry_attempt=retry,
            retry_reason=request.headers.get("x-slack-retry-reason", "") if retry else "",
            limit=self.timeout,
        )
        if ack is None:
            # No acknowledgement: Slack counts a failure (and retries), like an HTTP timeout.
            return httpx.Response(504, content=b"no acknowledgement", request=request)
        answer = ack.get("payload")
        headers = {"x-socket-mode-ack-s": f"{time.perf_counter() - started:.6f}"}
        if answer in (None, {}, ""):
            return httpx.Response(200, headers=headers, request=request)
        return httpx.Response(200, json=answer, headers=headers, request=request)


def _envelope_of(raw: bytes, content_type: str) -> tuple[str, dict[str, Any], bool]:
    """(envelope type, payload, accepts_response_payload) for what would have been POSTed."""
    text = raw.decode("utf-8")
    if "application/json" in content_type:
        body = json.loads(text)
        return "events_api", body, False
    form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    if "payload" in form:
        return "interactive", json.loads(form["payload"]), True
    return "slash_commands", form, True
