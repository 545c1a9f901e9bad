"""Time for the sandbox: an injectable clock and Okta's timestamp format.

A clock is any ``Callable[[], float]`` returning UTC epoch seconds (``time.time`` by
default); tests pass a :class:`ManualClock` to drive rate-limit windows and timestamps.
Okta writes instants as ``2013-06-24T16:39:18.000Z`` (milliseconds, ``Z``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]


class ManualClock:
    """A clock that only moves when told to; safe to advance from another thread."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        with self._lock:
            self._now += seconds

    def set(self, epoch_seconds: float) -> None:
        """Jump to ``epoch_seconds``."""
        with self._lock:
            self._now = epoch_seconds


def to_datetime(epoch_seconds: float) -> datetime:
    """Return the aware UTC datetime for ``epoch_seconds``."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def format_ts(value: datetime | None) -> str | None:
    """Format an instant the way Okta does (``2013-06-24T16:39:18.000Z``); None stays None."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> datetime:
    """Parse an ISO 8601 instant (``Z`` or an offset); naive values are taken as UTC.

    Raises ``ValueError`` when ``text`` is not an instant.
    """
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
