"""The per-app objects every handler and the request pipeline share."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from sandboxes.okta.clock import Clock
from sandboxes.okta.exchange import ExchangeHook
from sandboxes.okta.faults import FaultInjector
from sandboxes.okta.oauth import AccessTokens
from sandboxes.okta.ratelimit import RateLimiter
from sandboxes.okta.state import OktaState


@dataclass
class Runtime:
    """The org, the limiter, armed faults, the clock, OAuth tokens and the exchange hook."""

    state: OktaState
    limiter: RateLimiter
    faults: FaultInjector
    clock: Clock
    tokens: AccessTokens
    on_exchange: ExchangeHook | None = None


def runtime_of(request: Request) -> Runtime:
    """Return the runtime of the app serving ``request``."""
    runtime: Runtime = request.app.state.okta
    return runtime
