"""What happens to every request around its handler.

In order: count it against its rate-limit bucket (429 ``E0000047`` past the budget),
add the configured latency, apply an armed fault (hang and/or error), run the
handler, and on the way out add ``X-Okta-Request-Id``, ``Date`` and the
``X-Rate-Limit-*`` headers to whatever was answered. Each finished exchange is passed
to the ``on_exchange`` hook. An unexpected exception becomes Okta's 500 ``E0000009``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandboxes.okta import errors
from sandboxes.okta.errors import OktaError, error_body
from sandboxes.okta.exchange import RecordedRequest, RecordedResponse
from sandboxes.okta.ratelimit import classify
from sandboxes.okta.runtime import Runtime

logger = logging.getLogger(__name__)


def new_request_id() -> str:
    """Return an id shaped like Okta's ``X-Okta-Request-Id``."""
    return secrets.token_urlsafe(20)[:27]


def _held(send: Send, seconds: float) -> Send:
    """``send`` that holds the answer ``seconds`` before it starts (the request is handled)."""

    async def held(message: Message) -> None:
        if message["type"] == "http.response.start":
            await asyncio.sleep(seconds)
        await send(message)

    return held


class _Responder:
    """Wraps ``send``: adds the pipeline's headers; keeps the body when ``keep_body``."""

    def __init__(self, send: Send, extra_headers: list[tuple[str, str]], keep_body: bool) -> None:
        self._send = send
        self._keep_body = keep_body
        self._extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers]
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    @property
    def started(self) -> bool:
        return self.status != 0

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {name for name, _ in self._extra}
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
            self.headers = headers + self._extra
            self.status = int(message["status"])
            message = {**message, "headers": self.headers}
        elif message["type"] == "http.response.body" and self._keep_body:
            self.body.extend(message.get("body", b""))
        await self._send(message)

    async def send_json(
        self, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(body).encode()
        raw = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        raw += [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        await self.send({"type": "http.response.start", "status": status, "headers": raw})
        await self.send({"type": "http.response.body", "body": payload})

    async def send_error(self, error: OktaError) -> None:
        await self.send_json(error.status, error.body(), error.headers)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _recorded_request(scope: Scope, body: bytes) -> RecordedRequest:
    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
    host = next((v for k, v in headers if k.lower() == "host"), "localhost")
    query_string = scope.get("query_string", b"").decode("latin-1")
    url = f"{scope.get('scheme', 'http')}://{host}{scope['path']}"
    return RecordedRequest(
        method=scope["method"],
        url=url + (f"?{query_string}" if query_string else ""),
        path=scope["path"],
        query=tuple(parse_qsl(query_string, keep_blank_values=True)),
        headers=headers,
        body=body,
    )


class Pipeline:
    """ASGI middleware applying rate limits, latency, faults and common headers."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime = self.runtime
        method, path = scope["method"], scope["path"]
        body = await _read_body(receive)
        decision = runtime.limiter.acquire(classify(method, path))
        responder = _Responder(
            send,
            [
                ("X-Okta-Request-Id", new_request_id()),
                ("Date", formatdate(runtime.clock(), usegmt=True)),
                *decision.headers(),
            ],
            keep_body=runtime.on_exchange is not None,
        )
        if not decision.allowed:
            await responder.send_error(OktaError(errors.RATE_LIMITED))
        else:
            try:
                await self._handle(scope, _replay(body, receive), responder)
            finally:
                runtime.limiter.release()
        if runtime.on_exchange is not None:
            runtime.on_exchange(
                _recorded_request(scope, body),
                RecordedResponse(
                    status=responder.status,
                    headers=tuple(
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in responder.headers
                    ),
                    body=bytes(responder.body),
                ),
            )

    async def _handle(self, scope: Scope, receive: Receive, responder: _Responder) -> None:
        faults = self.runtime.faults
        if faults.latency > 0:
            await asyncio.sleep(faults.latency)
        fault = faults.take(scope["method"], scope["path"])
        send: Send = responder.send
        if fault is not None and fault.after:
            send = _held(responder.send, fault.hang_seconds)
        elif fault is not None:
            if fault.hang_seconds > 0:
                await asyncio.sleep(fault.hang_seconds)
            if fault.status is not None:
                kind = errors.FAULT_KINDS.get(fault.status, errors.INTERNAL)
                await responder.send_json(fault.status, error_body(kind.code, kind.summary))
                return
        try:
            await self.app(scope, receive, send)
        except Exception:
            logger.exception("unhandled error in the Okta sandbox")
            if not responder.started:
                await responder.send_error(OktaError(errors.INTERNAL))
