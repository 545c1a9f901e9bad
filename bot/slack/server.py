"""The HTTP endpoint Slack calls: ``POST /slack/events`` (plus ``GET /healthz``)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Generator
from urllib.parse import parse_qs

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.request.async_request import AsyncBoltRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.slack.app import SlackSurface
from config.logging import get_logger

log = get_logger("helpdesk.http")
MAX_BODY = 1_000_000
MAX_SKEW = 300  # seconds; Slack's own rule for replayed requests


def _well_formed(body: bytes, content_type: str) -> bool:
    """A body Slack could have sent: JSON object, or a form (with a JSON ``payload``)."""
    try:
        text = body.decode("utf-8")
        if "application/json" in content_type:
            return isinstance(json.loads(text), dict)
        form = parse_qs(text, strict_parsing=bool(text))
        if "payload" in form:
            return isinstance(json.loads(form["payload"][0]), dict)
        return bool(form)
    except (UnicodeDecodeError, ValueError):
        return False


def build_http_app(surface: SlackSurface, path: str = "/slack/events") -> Starlette:
    handler = AsyncSlackRequestHandler(surface.app)

    async def events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse("payload too large", status_code=413)
        # Signature first: a forged request learns nothing, not even whether its body parses.
        content_type = request.headers.get("content-type", "")
        if not _well_formed(body, content_type):
            if not _signature_ok(surface, request, body):
                return PlainTextResponse("invalid request signature", status_code=401)
            log.warning("malformed_request", length=len(body))
            return PlainTextResponse("malformed request body", status_code=400)
        if "application/json" in content_type and _is_event_callback(body):
            # Events carry nothing to answer: acknowledge at once, then dispatch. Slack
            # retries what isn't acknowledged in 3 s, so the ack must not wait on the store.
            if not _signature_ok(surface, request, body):
                return PlainTextResponse("invalid request signature", status_code=401)
            bolt_request = AsyncBoltRequest(
                body=body.decode("utf-8"),
                query=request.url.query,
                headers={k: v for k, v in request.headers.items()},
            )
            surface.spawn(surface.app.async_dispatch(bolt_request))
            return Response(status_code=200)
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[Route(path, events, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
    )


def _is_event_callback(body: bytes) -> bool:
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("type") == "event_callback"


def _signature_ok(surface: SlackSurface, request: Request, body: bytes) -> bool:
    """Slack's v0 signature over the raw bytes (which may not even be UTF-8 here)."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    try:
        if abs(time.time() - int(timestamp)) > MAX_SKEW:
            return False
    except ValueError:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(surface.signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Embedded (tests, benchmarks): leave signal handling to the host process.
        yield


@contextlib.asynccontextmanager
async def running_http(
    app: Starlette, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve ``app`` in this event loop; yields its base URL (the real port when 0 was asked)."""
    server = _QuietServer(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        await task
