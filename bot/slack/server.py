"""The HTTP endpoint Slack calls: ``POST /slack/events`` (plus ``GET /healthz``)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.slack.app import SlackSurface
from config.logging import get_logger

log = get_logger("helpdesk.http")
MAX_BODY = 1_000_000


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
        if not _well_formed(body, request.headers.get("content-type", "")):
            if not _signature_ok(surface, request, body):
                return PlainTextResponse("invalid request signature", status_code=401)
            log.warning("malformed_request", length=len(body))
            return PlainTextResponse("malformed request body", status_code=400)
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[Route(path, events, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
    )


def _signature_ok(surface: SlackSurface, request: Request, body: bytes) -> bool:
    return surface.verifier.is_valid(
        body=body,
        timestamp=request.headers.get("x-slack-request-timestamp", ""),
        signature=request.headers.get("x-slack-signature", ""),
    )
