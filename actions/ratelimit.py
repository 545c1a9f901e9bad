"""Client-side rate limiting: token buckets that pace calls and obey a server's "wait".

A :class:`TokenBucket` holds up to ``capacity - headroom`` tokens and refills at
``per_minute``; each call takes one token, waiting for it when the bucket is empty,
so calls leave at the rate the API allows instead of collecting 429s. Waiters are
served in arrival order.

When the server answers 429 anyway (another client shares the budget, or its
bucket was not full when ours was), :meth:`TokenBucket.throttled` takes the
server's word: no call leaves until ``Retry-After`` (Slack) or
``X-Rate-Limit-Reset`` (Okta) has passed, and the bucket restarts empty so the two
agree again. The request itself is the caller's to retry.

``headroom`` keeps a token or so of the server's bucket unused: the client's clock
and the server's see the same call a few milliseconds apart, and a call arriving
early at an empty server bucket costs a whole ``Retry-After`` second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from config.clock import Clock, SystemClock


@dataclass(slots=True)
class BucketStats:
    """What one bucket did: calls let through, waits, and server 429s reported to it."""

    acquired: int = 0
    waits: int = 0
    waited_s: float = 0.0
    throttled: int = 0
    throttled_s: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        """The counters as a JSON-ready mapping."""
        return {
            "acquired": self.acquired,
            "waits": self.waits,
            "waited_s": round(self.waited_s, 3),
            "throttled": self.throttled,
            "throttled_s": round(self.throttled_s, 3),
        }


class TokenBucket:
    """``per_minute`` calls sustained, ``capacity - headroom`` at once after a quiet spell."""

    def __init__(
        self,
        name: str,
        per_minute: float,
        capacity: float,
        *,
        headroom: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.name = name
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, capacity - headroom)
        self.headroom = headroom
        self.stats = BucketStats()
        self._clock = clock or SystemClock()
        self._level = self.capacity
        self._updated = self._clock.monotonic()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._level = min(self.capacity, self._level + (now - self._updated) * self.rate)
            self._updated = now

    def available(self) -> float:
        """Tokens in the bucket now (negative while it is repaying a 429)."""
        now = self._clock.monotonic()
        if now < self._paused_until:
            return 0.0
        self._refill(now)
        return self._level

    async def acquire(self) -> None:
        """Wait for a token and take it; callers are served in arrival order."""
        async with self._lock:
            while True:
                now = self._clock.monotonic()
                if now < self._paused_until:
                    wait = self._paused_until - now
                else:
                    self._refill(now)
                    if self._level >= 1.0:
                        self._level -= 1.0
                        self.stats.acquired += 1
                        return
                    wait = (1.0 - self._level) / self.rate
                self.stats.waits += 1
                self.stats.waited_s += wait
                await self._clock.sleep(wait)

    def throttled(self, retry_after: float) -> None:
        """The server refused a call: nothing leaves for ``retry_after`` seconds.

        After the pause the server holds at least one token; the bucket restarts
        at ``1 - headroom`` so that, from then on, the server keeps the headroom.
        """
        now = self._clock.monotonic()
        wait = max(0.0, retry_after)
        self.stats.throttled += 1
        self.stats.throttled_s += wait
        self._paused_until = max(self._paused_until, now + wait)
        self._level = min(self._level, 1.0 - self.headroom)
        self._updated = self._paused_until


class KeyedBuckets:
    """One bucket per key (a Slack channel, say), made on first use and dropped when idle."""

    def __init__(
        self,
        name: str,
        per_minute: float,
        capacity: float,
        *,
        headroom: float = 0.0,
        clock: Clock | None = None,
        max_idle: int = 10_000,
    ) -> None:
        self.name = name
        self._args = (per_minute, capacity)
        self._headroom = headroom
        self._clock = clock or SystemClock()
        self._buckets: dict[str, TokenBucket] = {}
        self._max_idle = max_idle
        self.stats = BucketStats()

    def bucket(self, key: str) -> TokenBucket:
        """The bucket of ``key``."""
        found = self._buckets.get(key)
        if found is None:
            if len(self._buckets) >= self._max_idle:
                self._forget_full()
            found = TokenBucket(
                f"{self.name}:{key}",
                *self._args,
                headroom=self._headroom,
                clock=self._clock,
            )
            self._buckets[key] = found
        return found

    def _forget_full(self) -> None:
        # A full bucket is indistinguishable from a new one: dropping it loses nothing.
        for key in [k for k, b in self._buckets.items() if b.available() >= b.capacity]:
            self._merge(self._buckets.pop(key))

    def _merge(self, bucket: TokenBucket) -> None:
        for name in ("acquired", "waits", "waited_s", "throttled", "throttled_s"):
            setattr(self.stats, name, getattr(self.stats, name) + getattr(bucket.stats, name))

    async def acquire(self, key: str) -> None:
        """Wait for a token of ``key``'s bucket."""
        await self.bucket(key).acquire()

    def totals(self) -> BucketStats:
        """Counters over every bucket, past and present."""
        total = BucketStats(**{k: getattr(self.stats, k) for k in BucketStats.__slots__})
        for bucket in self._buckets.values():
            for name in BucketStats.__slots__:
                setattr(total, name, getattr(total, name) + getattr(bucket.stats, name))
        return total


@dataclass
class Limiters:
    """The named buckets of one client: ``bucket(name)`` or ``None`` when unlimited."""

    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    keyed: dict[str, KeyedBuckets] = field(default_factory=dict)

    def bucket(self, name: str) -> TokenBucket | None:
        """The bucket called ``name``, if that API is limited."""
        return self.buckets.get(name)

    def per_key(self, name: str) -> KeyedBuckets | None:
        """The keyed buckets called ``name``, if any."""
        return self.keyed.get(name)

    def __iter__(self) -> Iterator[TokenBucket]:
        return iter(self.buckets.values())

    def stats(self) -> Mapping[str, dict[str, float | int]]:
        """Every bucket's counters by name (keyed buckets summed)."""
        found = {name: b.stats.as_dict() for name, b in self.buckets.items()}
        found.update({name: k.totals().as_dict() for name, k in self.keyed.items()})
        return found
