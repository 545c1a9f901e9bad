"""The HTTP endpoint Slack calls: ``POST /slack/events`` (plus ``GET /healthz``).

Ingress and work are separate. The endpoint checks the signature (HMAC of the
raw bytes, timestamp within five minutes) and the shape of the body, then:

- events, button clicks and slash commands are recorded in the store's inbox
  (``Worker.accept``) and acknowledged once the record has committed; nothing in
  their answer depends on the work, and a request that could not be recorded is
  answered 503, so Slack sends it again instead of it being lost after an ack. The
  work claims recorded requests from the inbox (``bot.slack.inbox``), on any replica;
- everything else (view submissions, URL verification) is dispatched through
  Bolt on the work loop and its answer returned.

Hostile or broken traffic is refused cheaply and clearly: slow or too many connections
by the server the endpoint runs in (``bot.slack.http_server``); a body over ``MAX_BODY``
(413), one not sent within ``BODY_TIMEOUT`` (408), a content type Slack never sends
(415), a body that is not JSON or a form, nested past ``MAX_DEPTH`` or carrying a NUL
character (400). A refused request records nothing.

The work behind the endpoint is a ``Worker``: the Slack surface itself (tests,
one process) or, in the running bot, a pipe to it from a separate ingress process
(``bot.slack.ingress``), so a burst of conversations keeping the work busy (its
CPU, its garbage collector, its GIL) cannot delay acknowledgements.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from config import metrics
from config.logging import get_logger

log = get_logger("helpdesk.http")
MAX_BODY = 1_000_000
MAX_PAGE_BODY = 4096  # the report page's form: one token
# The "This wasn't me" page of the change notices (actions.notices), served here too.
REPORT_PATH = "/notices/report"
PAGE_HEADER = "x-helpdesk-page"
BODY_TIMEOUT = 10.0  # seconds a client has to send its whole body (a slow client's cut-off)
MAX_DEPTH = 32  # nesting of a payload's objects and lists; Slack's stay under ten
_CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")
MAX_SKEW = 300  # seconds; Slack's own rule for replayed requests


@dataclass(frozen=True)
class Readiness:
    """``/readyz``'s answer: ready or not, and what each check found."""

    ready: bool
    checks: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"ready": self.ready, "checks": self.checks}


class Answer(Protocol):
    """What the work returns for a request it answers itself (Bolt's ``BoltResponse``)."""

    @property
    def status(self) -> int: ...

    @property
    def body(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, Sequence[str]]: ...


class Accepted(enum.StrEnum):
    """What became of a request handed to ``Worker.accept``."""

    NEW = "new"  # recorded: it will be worked on once, by some replica
    DUPLICATE = "duplicate"  # recorded before (Slack's redelivery): nothing more to do
    FAILED = "failed"  # not recorded (the store is down): answer 503 so Slack retries


class Worker(Protocol):
    """The work behind the endpoint (``SlackSurface``, or the pipe to it from the ingress).

    ``command_ack`` is the slash command's immediate answer, translated by the work
    (``bot.slack.listeners.commands.command_ack``): this module translates nothing.
    """

    signing_secret: str
    command_ack: str

    async def accept(self, key: str, payload: bytes, retry: int) -> Accepted:
        """Record an acknowledged request (``payload``: its JSON) in the inbox under ``key``."""

    async def dispatch(self, body: bytes, query: str, headers: dict[str, str]) -> Answer:
        """Run a request whose answer is the work's (view submissions, URL verification)."""


def media_type(content_type: str) -> str | None:
    """The content type's media type when it is one Slack sends (JSON or a form), else None."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media if media in _CONTENT_TYPES else None


def _parse(body: bytes, content_type: str) -> dict[str, Any] | None:
    """The request as Slack could have sent it (JSON object or form), or None if malformed.

    Malformed includes nesting deeper than ``MAX_DEPTH`` and any NUL character: no
    Slack payload has either, and the store (PostgreSQL) cannot keep a NUL.
    """
    try:
        text = body.decode("utf-8")
        if media_type(content_type) == "application/json":
            parsed = json.loads(text)
        else:
            form = parse_qs(text, strict_parsing=bool(text))
            if not form:
                return None
            parsed = {k: v[0] for k, v in form.items()}
            if "payload" in parsed:
                parsed = json.loads(parsed["payload"])
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) and plain(parsed) else None


def plain(value: Any) -> bool:
    """No NUL character anywhere (keys too), and nested at most ``MAX_DEPTH`` deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return False
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return False
            if isinstance(item, dict):
                stack.extend((k, depth) for k in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
    return True


def inbox_key(parsed: dict[str, Any], body: bytes) -> str:
    """Slack's own identity for an acknowledged request: the inbox's key for it.

    Events carry an id that Slack's redeliveries repeat; a click is its user and the
    click's ``action_ts``; a slash command its ``trigger_id``. Anything without one is
    keyed by a hash of its body (a redelivery is the same body).
    """
    if parsed.get("type") == "event_callback" and _str(parsed.get("event_id")):
        return f"event:{parsed['event_id']}"
    if parsed.get("type") == "block_actions":
        action = parsed["actions"][0]
        if _str(action.get("action_ts")):
            return f"action:{parsed['user']['id']}:{action['action_ts']}"[:200]
    if "command" in parsed and _str(parsed.get("trigger_id")):
        return f"command:{parsed['trigger_id']}"[:200]
    return "body:" + hashlib.sha256(body).hexdigest()


def _signature_ok(signing_secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Slack's v0 signature over the raw bytes (which may not even be UTF-8)."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    try:
        if abs(time.time() - int(timestamp)) > MAX_SKEW:
            return False
    except ValueError:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def _str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def well_formed(parsed: dict[str, Any]) -> bool:
    """The fields the listeners rely on are there, with the types Slack sends."""
    kind = parsed.get("type")
    if kind == "event_callback":
        event = parsed.get("event")
        return _str(parsed.get("event_id")) and isinstance(event, dict) and _str(event.get("type"))
    if kind == "block_actions":
        user, actions = parsed.get("user"), parsed.get("actions")
        return (
            isinstance(user, dict) and _str(user.get("id"))
            and isinstance(actions, list) and bool(actions)
            and all(isinstance(a, dict) and _str(a.get("action_id")) for a in actions)
        )
    if "command" in parsed and kind is None:
        return _str(parsed.get("command")) and _str(parsed.get("user_id"))
    return True


def ack_kind(parsed: dict[str, Any]) -> str | None:
    """How to ack at once a request whose answer carries no work result, else None.

    "empty": events and clicks (an empty 200); "command": slash commands (a short text).
    """
    if parsed.get("type") in ("event_callback", "block_actions"):
        return "empty"
    if "command" in parsed and "type" not in parsed:
        return "command"
    return None


def _response(answer: Answer) -> Response:
    """The work's answer as sent back to Slack (first value of each header)."""
    headers = {k: v[0] for k, v in answer.headers.items() if v and k.lower() != "set-cookie"}
    return Response(content=answer.body, status_code=answer.status, headers=headers)


_EMPTY_200 = {"type": "http.response.start", "status": 200, "headers": []}


class Ingress:
    """The ASGI app Slack calls; ``work_loop`` is where Bolt runs (default: the serving loop).

    Plain ASGI rather than a framework's router: an ack is a few dictionary look-ups,
    an HMAC, a parse and the inbox's record, and under a burst every microsecond here
    is queueing for the requests behind it.
    """

    def __init__(
        self,
        surface: Worker,
        path: str | None = "/slack/events",
        work_loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        """``path`` None: only the health and metrics endpoints (Socket Mode's port)."""
        self.surface = surface
        self.path = path
        self.work_loop = work_loop
        # Set when the server is told to stop: /readyz fails and Slack's requests are
        # answered 503 at once, so Slack sends them again to a replica that stays.
        self.stopping = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == self.path and method == "POST":
            await self._events(scope, receive, send)
        elif path == REPORT_PATH and method in ("GET", "POST"):
            await self._page(scope, receive, send, method)
        elif path == "/healthz" and method in ("GET", "HEAD"):
            alive = getattr(self.surface, "alive", None)
            ok = True if alive is None else await alive()
            answer = {"ok": ok} if ok else {"ok": False, "error": "the bot's work is not answering"}
            await JSONResponse(answer, status_code=200 if ok else 503)(scope, receive, send)
        elif path == "/readyz" and method in ("GET", "HEAD"):
            await self._readyz(scope, receive, send)
        elif path == "/metrics" and method == "GET":
            await self._metrics(scope, receive, send)
        elif path in (self.path or "/healthz", "/healthz", "/readyz", "/metrics"):
            await PlainTextResponse("method not allowed", status_code=405)(scope, receive, send)
        else:
            await PlainTextResponse("not found", status_code=404)(scope, receive, send)

    async def _page(self, scope: Scope, receive: Receive, send: Send, method: str) -> None:
        """The "This wasn't me" page: unsigned (a browser), so handed to the work as a page."""
        try:
            body = await asyncio.wait_for(_read_body(receive, MAX_PAGE_BODY), BODY_TIMEOUT)
        except TimeoutError:
            body = None  # a slow or oversized form: no token, so the page says it's invalid
        query = scope.get("query_string", b"").decode("latin-1")
        loop = self.work_loop or asyncio.get_running_loop()
        # The page speaks the browser's language (Accept-Language), else English.
        languages = next(
            (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"accept-language"),
            "",
        )
        coro = self.surface.dispatch(
            body or b"", query, {PAGE_HEADER: method, "accept-language": languages}
        )
        try:
            answer = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
        except ConnectionError:
            await PlainTextResponse("service unavailable", status_code=503)(scope, receive, send)
            return
        await _response(answer)(scope, receive, send)

    async def _readyz(self, scope: Scope, receive: Receive, send: Send) -> None:
        check = getattr(self.surface, "ready", None)
        if self.stopping:
            body: dict[str, Any] = {"ready": False, "checks": {"stopping": "yes"}}
        elif check is None:
            body = {"ready": True, "checks": {}}
        else:
            try:
                body = (await check()).body()
            except ConnectionError:
                body = {"ready": False, "checks": {"work": "the bot's work is not answering"}}
        status = 200 if body["ready"] else 503
        await JSONResponse(body, status_code=status)(scope, receive, send)

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        others: list[list[dict[str, Any]]] = []
        fetch = getattr(self.surface, "metrics", None)
        if fetch is not None:
            try:
                snap = await fetch()
                if snap:
                    others.append(snap)
            except ConnectionError:
                log.warning("metrics_work_unavailable")
        text = metrics.exposition(*others)
        await Response(text, media_type=metrics.CONTENT_TYPE)(scope, receive, send)

    async def _events(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        response, kind = await self._answer(scope, receive)
        # Server-Timing (RFC-style header read by benchmarks): time spent answering, in ms.
        timing = f"ack;dur={(time.perf_counter() - started) * 1000:.1f}"
        if response is None:
            await send({**_EMPTY_200, "headers": [(b"server-timing", timing.encode())]})
            await send({"type": "http.response.body", "body": b""})
        else:
            response.headers["Server-Timing"] = timing
            await response(scope, receive, send)
        metrics.acknowledged(kind, started)

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[Response | None, str]:
        """The answer (None for the empty 200 that acknowledges events and clicks) and the
        request's kind for ``helpdesk_events_total``."""
        if self.stopping:
            # Not even read: this replica is going away, Slack retries on another.
            return PlainTextResponse("stopping", status_code=503), "rejected"
        try:
            body = await asyncio.wait_for(_read_body(receive), BODY_TIMEOUT)
        except TimeoutError:
            return PlainTextResponse("request body too slow", status_code=408), "rejected"
        if body is None:
            return PlainTextResponse("payload too large", status_code=413), "rejected"
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
        headers.pop(PAGE_HEADER, None)  # only the page route sets it
        # The signature is checked before anything else is revealed about the request.
        if not _signature_ok(self.surface.signing_secret, headers, body):
            return PlainTextResponse("invalid request signature", status_code=401), "rejected"
        content_type = headers.get("content-type", "")
        if media_type(content_type) is None:
            log.warning("unsupported_content_type", length=len(body))
            return PlainTextResponse("unsupported content type", status_code=415), "rejected"
        parsed = _parse(body, content_type)
        if parsed is None or not well_formed(parsed):
            log.warning("malformed_request", length=len(body))
            return PlainTextResponse("malformed request body", status_code=400), "rejected"
        event = metrics.event_kind(parsed)
        query = scope.get("query_string", b"").decode("latin-1")
        kind = ack_kind(parsed)
        loop = self.work_loop or asyncio.get_running_loop()
        if kind is None:
            # View submissions, URL verification: the answer is Bolt's.
            coro = self.surface.dispatch(body, query, headers)
            try:
                answer = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
            except ConnectionError:
                log.error("worker_unavailable")
                return PlainTextResponse("service unavailable", status_code=503), event
            return _response(answer), event
        # Recorded before it is acknowledged: an ack promises Slack the request is safe.
        payload = body if media_type(content_type) == "application/json" else (
            json.dumps(parsed, separators=(",", ":")).encode()
        )
        retry = _retry_num(headers)
        accepting = self.surface.accept(inbox_key(parsed, body), payload, retry)
        try:
            if self.work_loop is None:
                outcome = await accepting  # the ingress process: it records itself
            else:
                outcome = await asyncio.wrap_future(
                    asyncio.run_coroutine_threadsafe(accepting, loop)
                )
        except ConnectionError:
            outcome = Accepted.FAILED
        if outcome is Accepted.FAILED:
            log.error("not_recorded", kind=event, retry=retry)
            return PlainTextResponse("could not record the request", status_code=503), event
        return (None if kind == "empty" else PlainTextResponse(self.surface.command_ack)), event


def _retry_num(headers: Mapping[str, str]) -> int:
    """Slack's ``X-Slack-Retry-Num`` (0 for a first delivery)."""
    try:
        return max(0, int(headers.get("x-slack-retry-num", "0")))
    except ValueError:
        return 0


async def _read_body(receive: Receive, limit: int = MAX_BODY) -> bytes | None:
    """The request body, or None past ``limit`` (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def health_app(surface: Worker) -> Ingress:
    """Socket Mode's port: ``/healthz``, ``/readyz`` and ``/metrics``, no Slack endpoint."""
    return Ingress(surface, None)


def build_http_app(
    surface: Worker,
    path: str = "/slack/events",
    work_loop: asyncio.AbstractEventLoop | None = None,
) -> Ingress:
    """The HTTP endpoint's ASGI app (``Ingress``)."""
    return Ingress(surface, path, work_loop)
