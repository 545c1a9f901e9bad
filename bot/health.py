"""Readiness and the work process's metrics: what ``/readyz`` and ``/metrics`` report.

``/healthz`` says the process is alive (its work loop answers); ``/readyz`` says the
replica should get traffic now:

- ``started`` and not ``stopping`` (a replica that is shutting down leaves the Service
  first, so Slack's retries reach the others);
- ``store``: the database answers a query within ``STORE_TIMEOUT``;
- ``migrations``: the database is at this version's head (a newer version's
  migrations, or missing ones, make the replica unready rather than wrong);
- ``slack``: the bot token works (``auth.test``, remembered for ``SLACK_OK_TTL`` when
  it does, ``SLACK_FAILED_TTL`` when it does not, so probes do not spend Slack's limits).

Checks run at most once per ``CACHE_TTL`` whatever the probe rate.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text

from actions.access.model import RequestState
from actions.providers import sync_transport_counts
from bot.runtime import Runtime
from bot.slack.client import IN_FLIGHT
from bot.slack.server import Readiness
from config import metrics
from config.clock import SYSTEM_CLOCK, Clock
from config.logging import get_logger
from store.figures import read_figures
from store.schema import engine_state

log = get_logger("helpdesk.health")

STORE_TIMEOUT = 2.0
SLACK_TIMEOUT = 3.0
SLACK_OK_TTL = 60.0
SLACK_FAILED_TTL = 10.0
CACHE_TTL = 1.0


class Health:
    """The readiness checks and metric refresh of one running bot."""

    def __init__(
        self,
        runtime: Runtime,
        client: AsyncWebClient | None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.runtime = runtime
        self.client = client
        self.clock = clock
        self.stopping = False
        self._slack: tuple[float, str] | None = None  # (checked at, result)
        self._last: tuple[float, Readiness] | None = None
        self._lock = asyncio.Lock()

    async def readiness(self) -> Readiness:
        async with self._lock:
            now = self.clock.monotonic()
            if self._last is not None and now - self._last[0] < CACHE_TTL and not self.stopping:
                return self._last[1]
            result = await self._check()
            self._last = (self.clock.monotonic(), result)
            return result

    async def _check(self) -> Readiness:
        checks: dict[str, str] = {}
        checks["stopping"] = "yes" if self.stopping else "no"
        checks["store"] = await self._store()
        checks["migrations"] = (
            await self._migrations() if checks["store"] == "ok" else "unknown: no store"
        )
        checks["slack"] = await self._slack_token()
        ready = (
            not self.stopping and checks["store"] == "ok"
            and checks["migrations"].startswith("at head") and checks["slack"] == "ok"
        )
        if not ready:
            log.warning("not_ready", **checks)
        return Readiness(ready, checks)

    async def _store(self) -> str:
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                async with self.runtime.store.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except TimeoutError:
            return f"no answer within {STORE_TIMEOUT:g}s"
        except Exception as exc:  # any driver error means "not reachable"
            return f"unreachable ({type(exc).__name__})"
        return "ok"

    async def _migrations(self) -> str:
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                state = await engine_state(self.runtime.store.engine)
        except Exception as exc:
            return f"unknown ({type(exc).__name__})"
        return state.describe()

    async def _slack_token(self) -> str:
        if self.client is None:
            return "ok"
        now = self.clock.monotonic()
        if self._slack is not None:
            at, result = self._slack
            if now - at < (SLACK_OK_TTL if result == "ok" else SLACK_FAILED_TTL):
                return result
        try:
            async with asyncio.timeout(SLACK_TIMEOUT):
                await self.client.auth_test()
            result = "ok"
        except SlackApiError as exc:
            result = f"auth.test failed ({exc.response.get('error', 'error')})"
        except Exception as exc:
            result = f"Slack unreachable ({type(exc).__name__})"
        self._slack = (self.clock.monotonic(), result)
        return result

    async def refresh_metrics(self) -> None:
        """Set the gauges read from the store and carry the connectors' transport totals."""
        sync_transport_counts(self.runtime.providers.connectors)
        IN_FLIGHT.publish()
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                figures = await read_figures(
                    self.runtime.store.engine, RequestState.PENDING.value, datetime.now(UTC)
                )
                inbox = await self.runtime.store.inbox.waiting()
        except Exception as exc:  # a scrape must answer even with the store down
            log.warning("metrics_store_unavailable", error=type(exc).__name__)
            return
        metrics.INBOX_DEPTH.set(inbox)
        metrics.JOBS_DEPTH.set(figures.jobs_due)
        metrics.JOBS_OLDEST.set(figures.jobs_oldest_seconds)
        metrics.APPROVALS_PENDING.set(figures.approvals_pending)
        if figures.last_sweep_finished is not None:
            metrics.SWEEP_LAST_SUCCESS.set(figures.last_sweep_finished.timestamp())
        metrics.sweep_elsewhere(figures.sweep_running, figures.last_sweep_finished is not None)
