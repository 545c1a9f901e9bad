"""Serve the OneLogin sandbox over plain HTTP on 127.0.0.1, in the running event loop.

The port is chosen by the OS (port 0) and reported in ``OneLoginSandbox.base_url``::

    async with run_onelogin_sandbox(load_seed(DEMO_SEED, now=time.time())) as sb:
        settings = {"base_url": sb.base_url, "client_id": sb.client_id, ...}
        sb.faults.fail_next(2, status=503)

Plain http is enough for a loopback test server; the connector accepts an http
``base_url`` only for loopback hosts and uses https for every real OneLogin region.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette

from sandboxes.onelogin.app import create_app
from sandboxes.onelogin.clock import Clock
from sandboxes.onelogin.runtime import (
    FaultInjector,
    RateLimiter,
    RecordedRequest,
    Runtime,
    TokenStore,
)
from sandboxes.onelogin.state import OneLoginState
from sandboxes.serving import serving


@dataclass
class OneLoginSandbox:
    """A running sandbox: where it listens, its account state and its moving parts."""

    base_url: str
    state: OneLoginState
    app: Starlette

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.onelogin
        return runtime

    @property
    def faults(self) -> FaultInjector:
        return self.runtime.faults

    @property
    def limiter(self) -> RateLimiter:
        return self.runtime.limiter

    @property
    def tokens(self) -> TokenStore:
        return self.runtime.tokens

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.runtime.requests

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @property
    def client_id(self) -> str:
        """The first seeded API credential's client id."""
        return next(iter(self.state.clients))

    @property
    def client_secret(self) -> str:
        """The first seeded API credential's secret (a test value, never a real one)."""
        return self.state.clients[self.client_id].client_secret

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, optionally only those with this method and/or exact path."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        ]


@contextlib.asynccontextmanager
async def run_onelogin_sandbox(
    state: OneLoginState,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock = time.time,
    rate_limit_per_window: int = 5000,
    rate_window: float = 3600.0,
    token_ttl: float = 36000.0,
) -> AsyncIterator[OneLoginSandbox]:
    """Serve ``state`` until the block exits; see :func:`~sandboxes.onelogin.app.create_app`."""
    app = create_app(
        state,
        clock=clock,
        rate_limit_per_window=rate_limit_per_window,
        rate_window=rate_window,
        token_ttl=token_ttl,
    )
    async with serving(app, name="OneLogin sandbox", host=host, port=port) as bound:
        yield OneLoginSandbox(f"http://{host}:{bound}", state, app)
