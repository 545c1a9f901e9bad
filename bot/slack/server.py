"""The HTTP endpoint Slack calls: ``POST /slack/events`` (plus ``GET /healthz``).

Ingress and work are separate. The endpoint checks the signature (HMAC of the
raw bytes, timestamp within five minutes) and the shape of the body, then:

- events, button clicks and slash commands are acknowledged at once and handed
  to the work loop: nothing in their answer depends on the work, and Slack
  retries (or disables the app) when acks take over 3 seconds;
- everything else (view submissions, URL verification) is dispatched through
  Bolt on the work loop and its answer returned.

``serve`` runs the endpoint on its own thread and event loop, so a burst of
conversations keeping the work loop busy cannot delay acknowledgements.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.slack.app import COMMAND_ACK, SlackSurface
from config.logging import get_logger

log = get_logger("helpdesk.http")
MAX_BODY = 1_000_000
MAX_SKEW = 300  # seconds; Slack's own rule for replayed requests


def _parse(body: bytes, content_type: str) -> dict[str, Any] | None:
    """The request as Slack could have sent it (JSON object or form), or None if malformed."""
    try:
        text = body.decode("utf-8")
        if "application/json" in content_type:
            parsed = json.loads(text)
            return parsed if isinstance(parsed, dict) else None
        form = parse_qs(text, strict_parsing=bool(text))
        if not form:
            return None
        flat: dict[str, Any] = {k: v[0] for k, v in form.items()}
        if "payload" in flat:
            payload = json.loads(flat["payload"])
            return payload if isinstance(payload, dict) else None
        return flat
    except (UnicodeDecodeError, ValueError):
        return None


def _signature_ok(signing_secret: str, request: Request, body: bytes) -> bool:
    """Slack's v0 signature over the raw bytes (which may not even be UTF-8)."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    try:
        if abs(time.time() - int(timestamp)) > MAX_SKEW:
            return False
    except ValueError:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def _ack_now(parsed: dict[str, Any]) -> Response | None:
    """The immediate answer for requests whose ack carries no work result, else None."""
    if parsed.get("type") == "event_callback":
        return Response(status_code=200)
    if parsed.get("type") == "block_actions":
        return Response(status_code=200)
    if "command" in parsed and "type" not in parsed:
        return PlainTextResponse(COMMAND_ACK)
    return None


def build_http_app(
    surface: SlackSurface,
    path: str = "/slack/events",
    work_loop: asyncio.AbstractEventLoop | None = None,
) -> Starlette:
    """The Starlette app; ``work_loop`` is where Bolt runs (default: the serving loop)."""

    def submit(body: bytes, query: str, headers: dict[str, str]) -> asyncio.Future[Any]:
        # The Bolt request is built on the work loop: the ingress only verifies and answers.
        loop = work_loop or asyncio.get_running_loop()
        coro = surface.dispatch(body, query, headers)
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    async def events(request: Request) -> Response:
        started = time.perf_counter()
        response = await _events(request)
        # Server-Timing (RFC-style header read by benchmarks): time spent answering, in ms.
        response.headers["Server-Timing"] = f"ack;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    async def _events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse("payload too large", status_code=413)
        # The signature is checked before anything else is revealed about the request.
        if not _signature_ok(surface.signing_secret, request, body):
            return PlainTextResponse("invalid request signature", status_code=401)
        parsed = _parse(body, request.headers.get("content-type", ""))
        if parsed is None:
            log.warning("malformed_request", length=len(body))
            return PlainTextResponse("malformed request body", status_code=400)
        headers = dict(request.headers.items())
        early = _ack_now(parsed)
        if early is not None:
            submit(body, request.url.query, headers).add_done_callback(_log_failure)
            return early
        return to_starlette_response(await submit(body, request.url.query, headers))

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[Route(path, events, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
    )


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("dispatch_failed", error=type(future.exception()).__name__)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Embedded (tests, benchmarks, the ingress thread): the host process owns signals.
        yield


def _server(app: Starlette, host: str, port: int) -> _QuietServer:
    # httptools when installed ("auto"): less CPU per request than h11.
    return _QuietServer(
        uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
            http="auto", backlog=4096,
        )
    )


@contextlib.asynccontextmanager
async def running_http(
    app: Starlette, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve ``app`` in this event loop; yields its base URL (the real port when 0 was asked)."""
    server = _server(app, host, port)
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


def _loop_factory() -> Any:
    """uvloop's loop when installed (faster ingress), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


@contextlib.contextmanager
def running_http_thread(app: Starlette, host: str, port: int) -> Iterator[str]:
    """Serve ``app`` on its own thread and event loop; yields its base URL."""
    server = _server(app, host, port)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(server.serve())
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, name="slack-ingress", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if failed or not thread.is_alive():
            raise RuntimeError(f"HTTP server failed to start: {failed[:1]}")
        if time.monotonic() > deadline:
            raise RuntimeError("HTTP server did not start within 30 s")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
