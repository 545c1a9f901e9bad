"""Time for the OneLogin sandbox: an injectable clock and OneLogin's timestamp format.

A clock is any ``Callable[[], float]`` returning UTC epoch seconds (``time.time`` by
default). Tests pass a :class:`ManualClock` to drive token expiry, rate-limit windows
and password ages. OneLogin writes instants as ``2016-01-21T09:20:15.990Z``
(https://developers.onelogin.com/api-docs/1/users/user-resource).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        """An ``asyncio.sleep`` stand-in for clients: time passes at once."""
        self._now += max(0.0, seconds)


def format_ts(epoch: float | None) -> str | None:
    """Format epoch seconds the way OneLogin does; ``None`` stays ``None``."""
    if epoch is None:
        return None
    value = datetime.fromtimestamp(epoch, tz=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
