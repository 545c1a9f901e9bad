"""The one clock protocol: a monotonic clock, the wall clock and sleep, injected where time matters.

Whatever paces calls, waits out a server's "retry after", keeps a cache or times a
budget takes a :class:`Clock` (by default :data:`SYSTEM_CLOCK`); tests give it a
manual one and move time themselves instead of sleeping. What only reads the date
and time takes a :data:`Now` (by default :func:`utc_now`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Time as the bot's parts read it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for waits, budgets and expiries)."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch, UTC (to read a server's reset time)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The machine's clocks and the running loop's sleep."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def wall(self) -> float:
        """``time.time()``."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep(seconds)``."""
        await asyncio.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()


Now = Callable[[], datetime]
"""Where a part only needs the date and time: :func:`utc_now`, or a fixed time in tests."""


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
