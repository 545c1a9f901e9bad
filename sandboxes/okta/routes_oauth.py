"""``POST /oauth2/v1/token``: the org authorization server's client-credentials grant."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandboxes.okta.http import base_url
from sandboxes.okta.oauth import OAuthError, issue_token
from sandboxes.okta.runtime import runtime_of

# Token responses must not be cached (RFC 6749 section 5.1).
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def token(request: Request) -> Response:
    """Exchange a signed client assertion for a Bearer access token."""
    runtime = runtime_of(request)
    # The SDK posts application/x-www-form-urlencoded; parsed here to need no multipart library.
    fields = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    try:
        body = issue_token(
            runtime.state,
            runtime.tokens,
            fields,
            f"{base_url(request)}/oauth2/v1/token",
            runtime.clock,
        )
    except OAuthError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers=_NO_STORE)
    return JSONResponse(body, headers=_NO_STORE)


ROUTES = [Route("/oauth2/v1/token", token, methods=["POST"])]
