"""``conversations.history`` for the Slack fake, which does not implement it (yet).

The nudge sweep reads a DM's history after a crash to learn whether a nudge went out
(api.slack.com/methods/conversations.history: Tier 3, scope ``im:history`` for DMs;
messages newest first, ``oldest``/``latest`` bounds, exclusive unless ``inclusive``).
``add_history(fake)`` mounts the method on a running fake's app, ahead of its generic
``/api/{method}`` route, with the same token checks, a Tier 3 limit and the fake's
call recorder. Once ``sandboxes/slack`` implements the method this module can go.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandboxes.slack import TIER_3, Call, RateLimits, Rule, RunningSlackFake
from sandboxes.slack.ratelimit import RateLimiter
from sandboxes.slack.render import message_object

Answer = tuple[int, dict[str, Any], dict[str, str]]


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        body = (await request.body()).decode()
        if "json" in request.headers.get("content-type", ""):
            import json

            params.update(json.loads(body or "{}"))
        else:
            params.update(parse_qsl(body, keep_blank_values=True))
    return params


def add_history(fake: RunningSlackFake, *, tier: RateLimits | None = None) -> None:
    """Serve ``conversations.history`` on ``fake`` (Tier 3 unless ``tier`` says otherwise)."""
    state = fake.state
    limiter = RateLimiter(
        tier or RateLimits({"conversations.history": (Rule(TIER_3),)}), state.clock
    )

    def answer(params: dict[str, Any], token: str | None) -> Answer:
        found = state.workspace.tokens.get(token or "")
        if token is None:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if found is None:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        wait = limiter.acquire("conversations.history")
        if wait is not None:
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
        channel = str(params.get("channel") or "")
        if state.dm(channel) is None:
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        if "im:history" not in found.scopes:
            return 200, {"ok": False, "error": "missing_scope", "needed": "im:history"}, {}
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 1e12)
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        limit = int(params.get("limit") or 100)

        def inside(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        messages = [m for m in state.messages_in(channel) if inside(float(m.ts))]
        messages.reverse()  # newest first, as Slack answers
        page = messages[:limit]
        return 200, {
            "ok": True,
            "messages": [message_object(state.workspace, m) for m in page],
            "has_more": len(messages) > limit,
            "pin_count": 0,
            "response_metadata": {"next_cursor": ""},
        }, {}

    async def history(request: Request) -> JSONResponse:
        params = await _params(request)
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.get("token")
        status, body, headers = answer(params, token)
        state.record(
            Call(
                method="conversations.history",
                params={k: v for k, v in params.items() if k != "token"},
                status=status,
                response=body,
                at=state.clock(),
                http_method=request.method,
                token=token,
            )
        )
        return JSONResponse(body, status_code=status, headers=headers)

    fake.app.router.routes.insert(
        0, Route("/api/conversations.history", history, methods=["GET", "POST"])
    )
