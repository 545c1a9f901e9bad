"""The bot's Slack Web API client: slack_sdk's, paced by Slack's limits, counted for ``/metrics``.

``web_client`` builds every client the running bot uses (replies, cards, nudges, the App
Home, users.*); the clients of one process share one ``SlackLimiter``
(``bot.slack.limits``), so each call first waits for its method's budget (and, for
``chat.postMessage``, its channel's). A 429 is never a lost call: Slack did not act on
it, so the call waits ``Retry-After`` (every caller of the method waits with it) and is
sent again, until ``retry_deadline`` has passed; only then does the 429 reach the caller.
(slack_sdk's own 429 handler gives up after a few.)

Counted in one place:

- ``helpdesk_api_throttled_total{api="slack"}``: every 429 answer, retried or not;
- ``helpdesk_api_retries_total{api="slack"}``: every call sent again after one;
- ``helpdesk_outbox_depth`` / ``_oldest_seconds``: messages handed to Slack's posting
  methods and not yet accepted (waiting on a rate limit, a retry or a slow answer).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack.limits import SlackLimiter
from config import metrics
from config.logging import get_logger

log = get_logger("helpdesk.slack")

#: Methods that post or change a message: what is in flight through them is "not yet posted".
POSTING = frozenset({
    "chat.postMessage", "chat.update", "chat.postEphemeral", "chat.delete", "views.publish",
})


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

#: Set by a caller that waited for its call's turn already (``MeteredWebClient.wait_turn``).
PACED: ContextVar[bool] = ContextVar("slack_call_paced", default=False)


def retry_after(headers: Mapping[str, Any] | None) -> float:
    """Seconds from a 429's ``Retry-After`` (Slack sends whole seconds); 1 when absent."""
    for name, value in (headers or {}).items():
        if str(name).lower() == "retry-after":
            try:
                return max(0.0, float(value[0] if isinstance(value, list) else value))
            except (TypeError, ValueError):
                break
    return 1.0


def _channel_of(kwargs: Mapping[str, Any]) -> str | None:
    for part in ("json", "params", "data"):
        args = kwargs.get(part)
        if isinstance(args, Mapping) and args.get("channel"):
            return str(args["channel"])
    return None


class MeteredWebClient(AsyncWebClient):
    """``AsyncWebClient`` paced by a ``SlackLimiter``, waiting out 429s until a deadline.

    Posting calls are tracked in ``IN_FLIGHT``. ``dm_channels`` (user id -> the app's DM
    channel with them, filled by ``bot.slack.directory``) lets a message posted to a user
    id share its DM channel's per-channel budget.
    """

    def __init__(
        self,
        *args: Any,
        limiter: SlackLimiter | None = None,
        retry_deadline: float = 300.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.limiter = limiter
        self.retry_deadline = retry_deadline
        self.dm_channels: dict[str, str] = {}

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        if api_method not in POSTING:
            return await self._paced(api_method, kwargs)
        key = IN_FLIGHT.begin()
        try:
            return await self._paced(api_method, kwargs)
        finally:
            IN_FLIGHT.end(key)

    async def wait_turn(self, method: str, channel: str | None = None) -> None:
        """Wait for ``method``'s budget (in ``channel``) now, for a call made just after in
        this context with ``PACED`` set: a caller that must act between its turn coming and
        the call going out (the outbox notes that a post is on its way)."""
        if self.limiter is not None:
            key = None
            if channel is not None and self.limiter.per_channel(method):
                key = self.dm_channels.get(channel, channel)
            await self.limiter.acquire(method, key)

    async def _paced(self, method: str, kwargs: dict[str, Any]) -> AsyncSlackResponse:
        limiter = self.limiter
        channel: str | None = None
        if limiter is not None and limiter.per_channel(method):
            channel = _channel_of(kwargs)
            if channel is not None:
                channel = self.dm_channels.get(channel, channel)
        deadline = time.monotonic() + self.retry_deadline
        waited = PACED.get()  # the caller waited for this call's turn (``wait_turn``)
        while True:
            if limiter is not None and not waited:
                await limiter.acquire(method, channel)
            waited = False
            try:
                return await super().api_call(method, **kwargs)
            except SlackApiError as exc:
                if getattr(exc.response, "status_code", None) != 429:
                    raise
                metrics.THROTTLED.labels(api="slack").inc()
                wait = retry_after(getattr(exc.response, "headers", None))
                if limiter is not None:
                    limiter.throttled(method, channel, wait)
                if time.monotonic() + wait > deadline:
                    log.warning("slack_rate_limited_gave_up", method=method, retry_after_s=wait)
                    raise
                metrics.RETRIES.labels(api="slack").inc()
                if limiter is None:
                    await asyncio.sleep(wait)


def web_client(
    token: str,
    base_url: str | None,
    session: aiohttp.ClientSession | None,
    *,
    limiter: SlackLimiter | None = None,
    retry_deadline: float = 300.0,
    timeout: int = 30,
) -> MeteredWebClient:
    """A Web API client on ``session``, paced by ``limiter``, retrying 429s for ``retry_deadline``.

    ``retry_deadline=0`` hands every 429 to the caller at once (after pausing the limiter):
    for a caller that retries itself, such as the expiry sweep.
    """
    # No slack_sdk retry handlers: 429s are handled above, with the limiter, and its
    # connection-error handler would resend a chat.postMessage that may have been posted.
    handlers: list[AsyncRetryHandler] = []
    return MeteredWebClient(
        token=token,
        base_url=base_url or AsyncWebClient.BASE_URL,
        session=session,
        timeout=timeout,
        retry_handlers=handlers,
        limiter=limiter,
        retry_deadline=retry_deadline,
    )
