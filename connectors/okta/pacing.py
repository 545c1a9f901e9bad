"""Okta's rate limits, respected before they bite: per-endpoint budgets and when they reset.

Each response's ``X-Rate-Limit-Remaining``/``X-Rate-Limit-Reset`` are remembered
per endpoint (a *bucket*); when the budget is spent, the next call to that
endpoint waits for the reset instead of collecting a 429
(https://developer.okta.com/docs/reference/rl-best-practices/). A concurrency 429
(limit and remaining both 0, https://developer.okta.com/docs/reference/rl2-concurrency/)
says nothing about the window and is left to the retry policy
(:mod:`connectors.okta.http`). Clocks and sleep come from a
:class:`~config.clock.Clock`, which tests replace.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from config.clock import Clock
from config.logging import get_logger
from connectors.waits import waiting

if TYPE_CHECKING:
    from connectors.okta.http import HttpStats

log = get_logger("connectors.okta")

# Path segments after these name one object; buckets are per endpoint, not per object.
_COLLECTIONS = frozenset({"users", "groups", "factors", "roles", "policies", "rules", "apps"})

_rng = random.SystemRandom()


def bucket_of(method: str, path: str) -> str:
    """Name the rate-limit bucket of a request: the method class and the path template.

    Okta counts per endpoint (https://developer.okta.com/docs/reference/rl-global-mgmt/);
    ids are folded so ``/api/v1/users/00u1/groups`` and ``/api/v1/users/00u2/groups``
    share one bucket.
    """
    parts = path.split("/")
    for index in range(1, len(parts)):
        if parts[index - 1] in _COLLECTIONS and parts[index]:
            parts[index] = "{id}"
    kind = "GET" if method in ("GET", "HEAD") else "WRITE"
    return f"{kind} {'/'.join(parts)}"


@dataclass(slots=True)
class _Window:
    remaining: int | None = None
    resets_at: float | None = None  # time.monotonic() when the window ends


class RateLimitPacer:
    """Remembers each bucket's remaining budget and holds calls once it is spent."""

    def __init__(self, stats: HttpStats, timer: Clock, jitter: float) -> None:
        self._stats = stats
        self._timer = timer
        self._jitter = jitter
        self._windows: dict[str, _Window] = {}

    async def acquire(self, bucket: str) -> None:
        """Wait until ``bucket`` has budget, then take one unit of it."""
        while True:
            window = self._windows.get(bucket)
            if window is None or window.resets_at is None:
                return
            now = self._timer.monotonic()
            if now >= window.resets_at:
                del self._windows[bucket]
                return
            if window.remaining is None or window.remaining > 0:
                if window.remaining is not None:
                    window.remaining -= 1
                return
            delay = window.resets_at - now + _rng.uniform(0, self._jitter)
            self._stats.paced_waits += 1
            self._stats.paced_seconds += delay
            log.debug("okta pacing", bucket=bucket, wait_s=round(delay, 3))
            waiting(delay)
            await self._timer.sleep(delay)

    def observe(self, bucket: str, headers: Mapping[str, str]) -> None:
        """Record the budget a response reports for its bucket."""
        remaining = _int_header(headers, "X-Rate-Limit-Remaining")
        limit = _int_header(headers, "X-Rate-Limit-Limit")
        reset_in = seconds_until_reset(headers, self._timer.wall())
        if remaining is None or reset_in is None or limit == 0:
            # No figures, or a concurrency answer that says nothing about the window.
            return
        self._windows[bucket] = _Window(remaining, self._timer.monotonic() + reset_in)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def seconds_until_reset(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds from ``now`` until ``X-Rate-Limit-Reset`` (UTC epoch seconds), never negative.

    The local clock is trusted unless it disagrees with the response's ``Date`` by more
    than two seconds; then the server's own clock is used, as the SDK does, at the cost
    of ``Date``'s one-second resolution.
    """
    raw = headers.get("X-Rate-Limit-Reset")
    if raw is None:
        return None
    try:
        reset = float(raw)
    except ValueError:
        return None
    date = headers.get("Date")
    if date:
        try:
            server_now = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            server_now = now
        if abs(server_now - now) > 2.0:
            now = server_now
    return max(0.0, reset - now)


def is_concurrency_429(headers: Mapping[str, str]) -> bool:
    return headers.get("X-Rate-Limit-Limit") == "0" and headers.get("X-Rate-Limit-Remaining") == "0"
