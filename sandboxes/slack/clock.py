"""Time sources: the fake reads time only through a ``Clock`` so tests can move it by hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
"""Seconds since the epoch, like ``time.time``."""


def system_clock() -> float:
    """The real wall clock."""
    return time.time()


class ManualClock:
    """A clock that only moves when told to; thread-safe.

    ``clock()`` returns the current time; ``advance(seconds)`` moves it forward. Starts at
    ``start`` (default: a fixed, realistic epoch so timestamps look like Slack's).
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (must be >= 0) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        with self._lock:
            self._now += seconds
            return self._now
