"""The Okta sandbox as a Starlette app.

``create_app(state)`` serves the users, groups, policies and OAuth token endpoints
over ``state``. The app's :class:`~sandboxes.okta.runtime.Runtime` is at
``app.state.okta``: its ``faults`` arm failures and latency, its ``limiter`` holds
the rate-limit windows. Errors always carry Okta's error body.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandboxes.okta import (
    errors,
    routes_factors,
    routes_groups,
    routes_oauth,
    routes_policies,
    routes_users,
)
from sandboxes.okta.clock import Clock
from sandboxes.okta.errors import OktaError
from sandboxes.okta.exchange import ExchangeHook
from sandboxes.okta.faults import FaultInjector
from sandboxes.okta.oauth import AccessTokens
from sandboxes.okta.pipeline import Pipeline
from sandboxes.okta.ratelimit import RateLimitConfig, RateLimiter
from sandboxes.okta.runtime import Runtime
from sandboxes.okta.state import OktaState


async def _okta_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OktaError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error = OktaError(errors.METHOD_NOT_ALLOWED)
    elif exc.status_code == 404:
        error = OktaError(errors.PATH_NOT_FOUND)
    else:
        error = OktaError(errors.API_VALIDATION, status=exc.status_code)
    return JSONResponse(error.body(), status_code=error.status)


def create_app(
    state: OktaState,
    *,
    rate_limits: RateLimitConfig | None = None,
    latency: float = 0.0,
    on_exchange: ExchangeHook | None = None,
    clock: Clock | None = None,
) -> Starlette:
    """Build the sandbox app over ``state``.

    ``rate_limits`` defaults to Okta's Enterprise per-minute budgets (no concurrency
    limit); ``latency`` seconds are added to every request; ``on_exchange`` receives
    each finished request/response pair; ``clock`` (UTC epoch seconds) drives
    rate-limit windows, ``Date`` headers and token expiry, and defaults to the org's.
    """
    clock = clock or state.clock
    runtime = Runtime(
        state=state,
        limiter=RateLimiter(rate_limits or RateLimitConfig(), clock),
        faults=FaultInjector(latency),
        clock=clock,
        tokens=AccessTokens(clock),
        on_exchange=on_exchange,
    )
    app = Starlette(
        routes=[
            *routes_users.ROUTES,
            *routes_factors.ROUTES,
            *routes_groups.ROUTES,
            *routes_policies.ROUTES,
            *routes_oauth.ROUTES,
        ],
        middleware=[Middleware(Pipeline, runtime=runtime)],
        exception_handlers={OktaError: _okta_error, HTTPException: _http_error},
    )
    app.state.okta = runtime
    return app
