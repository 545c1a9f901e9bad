"""The bot's Slack Web API client: slack_sdk's, counted for ``/metrics``.

``web_client`` builds every client the running bot uses (replies, cards, nudges), so
429s, retries and the messages still on their way to Slack are counted in one place:

- ``helpdesk_api_throttled_total{api="slack"}``: every 429 answer, retried or not;
- ``helpdesk_api_retries_total{api="slack"}``: every retry slack_sdk makes;
- ``helpdesk_outbox_depth`` / ``_oldest_seconds``: messages handed to Slack's posting
  methods and not yet accepted (waiting on a rate limit, a retry or a slow answer).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from config import metrics

#: Methods that post or change a message: what is in flight through them is "not yet posted".
POSTING = frozenset({
    "chat.postMessage", "chat.update", "chat.postEphemeral", "chat.delete", "views.publish",
})


class CountedRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (waits ``Retry-After``), counting 429s and retries."""

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        # Called for every failed answer, the last one (no retries left) included.
        if response is not None and response.status_code == 429:
            metrics.THROTTLED.labels(api="slack").inc()
        return await super().can_retry_async(
            state=state, request=request, response=response, error=error
        )

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        metrics.RETRIES.labels(api="slack").inc()
        await super().prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


class InFlight:
    """Posting calls started and not finished, with when each started (one per process)."""

    def __init__(self) -> None:
        self._ids = itertools.count()
        self._started: dict[int, float] = {}

    def begin(self) -> int:
        key = next(self._ids)
        self._started[key] = time.monotonic()
        return key

    def end(self, key: int) -> None:
        self._started.pop(key, None)

    def publish(self) -> None:
        """Set the outbox gauges from what is in flight now."""
        metrics.OUTBOX_DEPTH.set(len(self._started))
        oldest = min(self._started.values(), default=None)
        metrics.OUTBOX_OLDEST.set(0.0 if oldest is None else time.monotonic() - oldest)


IN_FLIGHT = InFlight()


class MeteredWebClient(AsyncWebClient):
    """``AsyncWebClient`` whose posting calls are tracked in ``IN_FLIGHT``."""

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        if api_method not in POSTING:
            return await super().api_call(api_method, **kwargs)
        key = IN_FLIGHT.begin()
        try:
            return await super().api_call(api_method, **kwargs)
        finally:
            IN_FLIGHT.end(key)


def web_client(
    token: str,
    base_url: str | None,
    session: aiohttp.ClientSession | None,
    *,
    max_retries: int = 3,
    timeout: int = 30,
) -> AsyncWebClient:
    """A Web API client on ``session`` that waits out 429s up to ``max_retries`` times."""
    handlers: list[AsyncRetryHandler] = [CountedRateLimitRetry(max_retry_count=max_retries)]
    return MeteredWebClient(
        token=token,
        base_url=base_url or AsyncWebClient.BASE_URL,
        session=session,
        timeout=timeout,
        retry_handlers=handlers,
    )
