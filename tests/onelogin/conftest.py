"""Fixtures for the OneLogin tests: a sandbox seeded with the demo account and connectors."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from connectors.onelogin.connector import OneLoginConnector, build
from connectors.onelogin.settings import Settings
from sandboxes.onelogin import DEMO_SEED, OneLoginSandbox, load_seed, run_onelogin_sandbox

SECRET_ENV = "ONELOGIN_TEST_CLIENT_SECRET"
# The demo seed's groups: Employees (10) use the Standard policy (1, 90 days),
# Service (11) the service-account policy (2, never expires).
POLICY_BY_GROUP = {10: 1, 11: 2}


class SleepRecorder:
    """A ``sleep`` for connectors that records each wait and, given a clock, advances it."""

    def __init__(self, advance: Callable[[float], None] | None = None) -> None:
        self.waits: list[float] = []
        self._advance = advance

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self._advance is not None:
            self._advance(seconds)


class ConnectorClock:
    """The connector's clock in tests: ``monotonic`` and ``sleep`` as given, real wall time."""

    def __init__(
        self,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._monotonic = monotonic
        self._sleep = sleep or SleepRecorder()

    def monotonic(self) -> float:
        return self._monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)


def connector_for(
    sb: OneLoginSandbox,
    *,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    secret: str | None = None,
    **overrides: Any,
) -> OneLoginConnector:
    """A connector pointed at ``sb`` through ``build``, as the registry would make it."""
    options: dict[str, Any] = {
        "base_url": sb.base_url,
        "client_id": sb.client_id,
        "client_secret": {"env": SECRET_ENV},
        "policy_by_group": POLICY_BY_GROUP,
        "default_policy_id": 1,
    }
    options.update(overrides)
    environ = {SECRET_ENV: secret if secret is not None else sb.client_secret}
    return build(
        "onelogin",
        Settings.model_validate(options),
        environ,
        clock=ConnectorClock(monotonic, sleep),
    )


@pytest.fixture
async def sandbox() -> AsyncIterator[OneLoginSandbox]:
    """The demo account, served on a free port, with OneLogin's default limits."""
    async with run_onelogin_sandbox(load_seed(DEMO_SEED, now=time.time())) as sb:
        yield sb
