"""Small request/response helpers shared by the route modules."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandboxes.okta import errors
from sandboxes.okta.auth import Principal, authenticate
from sandboxes.okta.errors import OktaError
from sandboxes.okta.runtime import Runtime, runtime_of


def caller(request: Request) -> tuple[Runtime, Principal]:
    """Return the runtime and the authenticated principal (401 when unauthenticated)."""
    runtime = runtime_of(request)
    principal = authenticate(runtime.state, runtime.tokens, request.headers.get("authorization"))
    return runtime, principal


def base_url(request: Request) -> str:
    """Return the org URL as the client addressed it, e.g. ``https://127.0.0.1:8443``."""
    return str(request.base_url).rstrip("/")


def json_response(
    body: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
) -> Response:
    """Return ``body`` as JSON; ``headers`` may repeat a name (``Link``)."""
    response = JSONResponse(body, status_code=status)
    for name, value in headers or ():
        response.headers.append(name, value)
    return response


def no_content() -> Response:
    """Return Okta's empty 204."""
    return Response(status_code=204)


def limit_param(request: Request, *, default: int, maximum: int) -> int:
    """Read ``limit``: missing means ``default``, larger than ``maximum`` means ``maximum``.

    A value that is not an integer is a 400 ``E0000001``.
    """
    raw = request.query_params.get("limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise OktaError(
            errors.API_VALIDATION, "Api validation failed: limit", causes=["limit: not a number"]
        ) from None
    return max(1, min(value, maximum))


def bool_param(request: Request, name: str, *, default: bool) -> bool:
    """Read a boolean query parameter (``true``/``false``, case-insensitive)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise OktaError(
        errors.API_VALIDATION, f"Api validation failed: {name}", causes=[f"{name}: not a boolean"]
    )


def path_param(request: Request, name: str) -> str:
    """Return a path parameter as a string."""
    return str(request.path_params[name])
