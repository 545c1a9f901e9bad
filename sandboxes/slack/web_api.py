"""The fake Slack as a Starlette app: ``/api/<method>`` and ``/response/<id>``.

``create_slack_app(state, tiers=..., latency=..., clock=...)`` answers like slack.com's Web API:

- POST form-encoded or JSON, or GET with a query string; the token from ``Authorization: Bearer``
  or a ``token`` parameter (not inside a JSON body, which Slack ignores);
- HTTP 200 with ``{"ok": false, "error": ...}`` for every API-level failure (``unknown_method``,
  ``not_authed``, ``invalid_auth``, ``token_revoked``, ``missing_scope``, ``invalid_json`` ...);
- HTTP 429 with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}`` past a rate limit;
- every request, rejected or not, recorded in ``state.calls()``.

``/response/<id>`` is where the app's ``respond()`` lands for the response_urls that
``state.new_response_url`` hands out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from sandboxes.slack.clock import Clock
from sandboxes.slack.methods import METHODS, ApiRequest, SlackError, missing_scope
from sandboxes.slack.ratelimit import Limit, RateLimiter, RateLimits, Rule
from sandboxes.slack.records import Call, Fault
from sandboxes.slack.response_urls import handle_response_post
from sandboxes.slack.socket_mode import CONNECTIONS_OPEN, CONNECTIONS_SCOPE, SocketModeLink
from sandboxes.slack.state import SlackState

Latency = float | Callable[[str], float]
TiersArg = RateLimits | Mapping[str, Limit | Rule | tuple[Rule, ...] | None] | None

# Form fields that carry JSON text; recorded decoded so tests read one shape for form and JSON.
_JSON_FIELDS = ("blocks", "attachments", "view")
_FORM_TYPES = ("application/x-www-form-urlencoded", "text/plain")
_CHARSETS = ("utf-8", "utf8", "iso-8859-1")


class _BadRequestError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _resolve_tiers(tiers: TiersArg) -> RateLimits:
    if tiers is None:
        return RateLimits.slack()
    if isinstance(tiers, RateLimits):
        return tiers
    return RateLimits.slack().override(tiers)


async def _read_params(request: Request) -> tuple[dict[str, Any], bool]:
    """Query and body parameters merged; the flag says whether the body was JSON."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return params, False
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    media_type, _, options = content_type.partition(";")
    media_type = media_type.strip().lower()
    type_params = dict(p.strip().lower().split("=", 1) for p in options.split(";") if "=" in p)
    charset = type_params.get("charset", "").strip('"')
    if charset and charset not in _CHARSETS:
        raise _BadRequestError("invalid_charset")
    if not media_type:
        if body.strip():
            raise _BadRequestError("missing_post_type")
        return params, False
    if media_type == "application/json":
        if not body.strip():
            return params, True
        try:
            parsed = json.loads(body)
        except ValueError:
            raise _BadRequestError("invalid_json") from None
        if not isinstance(parsed, dict):
            raise _BadRequestError("json_not_object")
        return {**params, **parsed}, True
    if media_type in _FORM_TYPES:
        try:
            text = body.decode("iso-8859-1" if charset.startswith("iso") else "utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except (ValueError, UnicodeDecodeError):
            raise _BadRequestError("invalid_form_data") from None
        return {**params, **dict(pairs)}, False
    if media_type == "multipart/form-data":
        try:
            form = await request.form()
        except (AssertionError, ImportError, ValueError):
            raise _BadRequestError("invalid_form_data") from None
        return {**params, **{k: v for k, v in form.items() if isinstance(v, str)}}, False
    raise _BadRequestError("invalid_post_type")


def _token_of(request: Request, params: Mapping[str, Any], json_body: bool) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    # Slack reads ``token`` from query strings and form bodies, never from a JSON body.
    token = request.query_params.get("token") if json_body else params.get("token")
    return token if isinstance(token, str) and token else None


def _recorded(params: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in params.items() if k != "token"}
    for key in _JSON_FIELDS:
        if isinstance(out.get(key), str):
            with contextlib.suppress(ValueError):
                out[key] = json.loads(out[key])
    return out


class SlackWebApi:
    """The request handlers behind ``create_slack_app``; one instance per app."""

    def __init__(
        self, state: SlackState, limits: RateLimits, latency: Latency, clock: Clock
    ) -> None:
        self.state = state
        self.limiter = RateLimiter(limits, clock)
        self.latency = latency
        self.clock = clock
        self.socket_mode = SocketModeLink(state)

    async def api(self, request: Request) -> Response:
        """``/api/<method>``."""
        method = request.path_params["method"]
        delay = self.latency(method) if callable(self.latency) else self.latency
        if delay > 0:
            await asyncio.sleep(delay)
        params: dict[str, Any] = dict(request.query_params)
        token: str | None = None
        try:
            params, json_body = await _read_params(request)
            token = _token_of(request, params, json_body)
            status, body, headers = self._dispatch(method, params, token)
        except _BadRequestError as exc:
            status, body, headers = 200, {"ok": False, "error": exc.error}, {}
        self.state.record(
            Call(
                method=method,
                params=_recorded(params),
                status=status,
                response=body,
                at=self.clock(),
                http_method=request.method,
                token=token,
            )
        )
        return JSONResponse(body, status_code=status, headers=headers)

    def _dispatch(
        self, method: str, params: dict[str, Any], token_value: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        spec = METHODS.get(method)
        if spec is None and method != CONNECTIONS_OPEN:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if token_value is None:
            return 200, {"ok": False, "error": "not_authed"}, {}
        token = self.state.workspace.tokens.get(token_value)
        if token is None:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if token.revoked:
            return 200, {"ok": False, "error": "token_revoked"}, {}
        if (method == CONNECTIONS_OPEN) != token_value.startswith("xapp-"):
            # App-level tokens only open Socket Mode connections, and only they can.
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
        if spec is None:  # apps.connections.open (not in the 2021 spec; see socket_mode.py)
            if CONNECTIONS_SCOPE not in token.scopes:
                return 200, missing_scope(token, CONNECTIONS_SCOPE).body(), {}
            return 200, {"ok": True, "url": self.socket_mode.new_url()}, {}
        channel = params.get("channel")
        key = self.state.conversation_id(channel) if isinstance(channel, str) else None
        retry_after = self.limiter.acquire(method, key)
        if retry_after is not None:
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
        fault = self.state.take_fault(method, params)
        try:
            if spec.scope and spec.scope not in token.scopes:
                raise missing_scope(token, spec.scope)
            if fault is not None and not fault.after_processing:
                return self._faulty(fault)
            body = spec.handler(ApiRequest(self.state, token, params))
            return (200, body, {}) if fault is None else self._faulty(fault)
        except SlackError as exc:
            return 200, exc.body(), {}

    @staticmethod
    def _faulty(fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
        """The answer of an injected fault (``SlackState.fail_next``)."""
        if fault.status == 429:
            return 429, {"ok": False, "error": "ratelimited"}, {
                "Retry-After": str(fault.retry_after)
            }
        return fault.status, {"ok": False, "error": fault.error}, {}

    async def response_url(self, request: Request) -> Response:
        """``/response/<id>``: what the app's ``respond()`` posts."""
        fault = self.state.take_fault("response_url", (await request.body()).decode())
        if fault is not None:
            status = fault.status if fault.status != 200 else 500
            return JSONResponse({"ok": False, "error": fault.error}, status_code=status)
        status, body = handle_response_post(
            self.state, request.path_params["url_id"], await request.body()
        )
        return JSONResponse(body, status_code=status)


def create_slack_app(
    state: SlackState,
    *,
    tiers: TiersArg = None,
    latency: Latency = 0.0,
    clock: Clock | None = None,
) -> Starlette:
    """A Starlette app that answers like Slack's Web API for ``state``.

    - ``tiers``: ``RateLimits`` (see ``ratelimit``), or a mapping of method -> ``Limit``/``Rule``
      applied over Slack's defaults, or None for the defaults.
    - ``latency``: seconds added before every answer, or a function of the method name.
    - ``clock``: time source for rate limiting (default: ``state.clock``).
    """
    api = SlackWebApi(state, _resolve_tiers(tiers), latency, clock or state.clock)
    routes = [
        Route("/api/{method}", api.api, methods=["GET", "POST"]),
        Route("/response/{url_id}", api.response_url, methods=["POST"]),
        WebSocketRoute("/link/", api.socket_mode.serve),
    ]
    app = Starlette(routes=routes)
    app.state.slack = api
    return app
