"""Web API calls for the sweep: paced by its limiters, 429s waited out and sent again.

Every call here goes through the sweep's client-side limiters and handles 429
itself: slack_sdk's retry handlers are off for this client (its default one resends
on a dropped connection, which for ``chat.postMessage`` could post twice). A 429 is
never a lost request: the call waits ``Retry-After`` (every caller of that method
waits with it) and is sent again.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from actions.ratelimit import Limiters
from config.clock import Clock, SystemClock
from config.logging import get_logger

log = get_logger("helpdesk.nudges.slack")

# A Slack call that failed without an answer is sent again this many times (backoff).
_MAX_TRANSIENT_ATTEMPTS = 5


class SlackCallError(Exception):
    """A Web API call failed for good: Slack's ``error`` code, or the transport's.

    ``maybe_sent`` is True when Slack may have acted on it (a timeout or a 5xx after
    the request went out).
    """

    def __init__(self, method: str, error: str, *, maybe_sent: bool = False) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error
        self.maybe_sent = maybe_sent


def _retry_after(headers: Mapping[str, Any] | None) -> float:
    """Seconds from a 429's ``Retry-After`` (Slack sends whole seconds); 1 when absent."""
    for name, value in (headers or {}).items():
        if str(name).lower() == "retry-after":
            try:
                return max(0.0, float(value if not isinstance(value, list) else value[0]))
            except (TypeError, ValueError):
                break
    return 1.0


class SlackApi:
    """Web API calls for the sweep: paced by the limiters, 429s waited out and resent.

    ``stats`` counts, per method, calls sent, 429s seen (each then resent), and the
    errors Slack answered (``"users.lookupByEmail users_not_found"``...).
    """

    def __init__(
        self,
        client: AsyncWebClient,
        limiters: Limiters,
        *,
        clock: Clock | None = None,
        backoff: float = 0.5,
    ) -> None:
        self.client = client
        self.limiters = limiters
        self._clock = clock or SystemClock()
        self._backoff = backoff
        self.calls: collections.Counter[str] = collections.Counter()
        self.rate_limited: collections.Counter[str] = collections.Counter()
        self.retried: collections.Counter[str] = collections.Counter()
        self.failures: collections.Counter[str] = collections.Counter()
        self.waited_s: collections.defaultdict[str, float] = collections.defaultdict(float)

    def stats(self) -> dict[str, Any]:
        """Counters by method (JSON-ready)."""
        return {
            "calls": dict(self.calls),
            "rate_limited": dict(self.rate_limited),
            "rate_limited_total": sum(self.rate_limited.values()),
            "retry_after_waited_s": {k: round(v, 3) for k, v in self.waited_s.items()},
            "transient_retries": dict(self.retried),
            "failures": dict(self.failures),
        }

    async def _acquire(self, method: str, channel: str | None) -> None:
        bucket = self.limiters.bucket(method)
        if bucket is not None:
            await bucket.acquire()
        per_channel = self.limiters.per_key(f"{method}:channel")
        if per_channel is not None and channel is not None:
            await per_channel.acquire(channel)

    def _throttled(self, method: str, channel: str | None, wait: float) -> None:
        self.rate_limited[method] += 1
        self.waited_s[method] += wait
        # Slack does not say which limit answered; with one message per DM it is the
        # method's workspace-wide one, so every caller of the method waits.
        bucket = self.limiters.bucket(method)
        if bucket is not None:
            bucket.throttled(wait)
        per_channel = self.limiters.per_key(f"{method}:channel")
        if per_channel is not None and channel is not None:
            per_channel.bucket(channel).throttled(wait)

    async def call(
        self,
        method: str,
        send: Callable[[], Awaitable[AsyncSlackResponse]],
        *,
        channel: str | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Send one Web API call until Slack answers it; return the answer's data.

        429: wait ``Retry-After`` and send again, without limit (Slack did not act on
        it). No answer or a 5xx: send again with backoff when that cannot do anything
        twice (reads, or a connection that never opened); otherwise raise with
        ``maybe_sent``. Any other error: raise :class:`SlackCallError` with its code.
        """
        transient = 0
        while True:
            await self._acquire(method, channel)
            self.calls[method] += 1
            try:
                response = await send()
                data = response.data
                return data if isinstance(data, dict) else {}
            except SlackApiError as exc:
                status = int(getattr(exc.response, "status_code", 0) or 0)
                if status == 429:
                    wait = _retry_after(getattr(exc.response, "headers", None))
                    log.debug("slack_rate_limited", method=method, retry_after_s=wait)
                    self._throttled(method, channel, wait)
                    continue
                body = getattr(exc.response, "data", None)
                error = str(body.get("error")) if isinstance(body, dict) else f"http_{status}"
                if status >= 500 and idempotent:
                    transient += 1
                    if transient < _MAX_TRANSIENT_ATTEMPTS:
                        await self._pause(method, transient)
                        continue
                self.failures[f"{method} {error}"] += 1
                raise SlackCallError(
                    method, error, maybe_sent=status >= 500 and not idempotent
                ) from None
            except aiohttp.ClientConnectorError:
                # The connection never opened: the request cannot have reached Slack.
                transient += 1
                if transient < _MAX_TRANSIENT_ATTEMPTS:
                    await self._pause(method, transient)
                    continue
                self.failures[f"{method} connection_failed"] += 1
                raise SlackCallError(method, "connection_failed") from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                transient += 1
                if idempotent and transient < _MAX_TRANSIENT_ATTEMPTS:
                    await self._pause(method, transient)
                    continue
                self.failures[f"{method} {type(exc).__name__}"] += 1
                raise SlackCallError(
                    method, type(exc).__name__, maybe_sent=not idempotent
                ) from None

    async def _pause(self, method: str, attempt: int) -> None:
        self.retried[method] += 1
        ceiling = min(8.0, self._backoff * 2 ** (attempt - 1))
        await self._clock.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not secrets

