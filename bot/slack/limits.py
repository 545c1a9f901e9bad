"""Slack's Web API rate limits on the bot's side: one token bucket per method (and per channel).

Slack limits each method per workspace by tier (api.slack.com/docs/rate-limits): Tier 1
1+/min, Tier 2 20+/min, Tier 3 50+/min, Tier 4 100+/min, "with occasional bursts";
``chat.postMessage`` allows about one message per second per channel with short bursts,
under a workspace-wide ceiling Slack does not publish. Sending faster than that only earns
429s, so every call first takes a token here and waits (in order of arrival) when the
bucket is empty.

A 429 still happens (another app on the same token, a lower real limit than configured):
``throttled`` stops the method (for ``chat.postMessage``, the channel) for ``Retry-After``
seconds and empties its workspace bucket, so the callers queued behind resume at the
sustained rate instead of all at once.

Budgets come from ``slack.rate_limits`` (``SlackSettings``): a per-method override of the
defaults below, and a factor for a workspace on a higher plan or a test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

__all__ = [
    "CHANNEL_SUFFIX",
    "DEFAULT_RATES",
    "Rate",
    "SlackLimiter",
]


@dataclass(frozen=True)
class Rate:
    """``per_minute`` sustained calls; ``burst`` at once (default: a minute's worth, at least 1)."""

    per_minute: float
    burst: float | None = None

    @property
    def capacity(self) -> float:
        """The bucket's size."""
        return self.burst if self.burst is not None else max(1.0, self.per_minute)

    def scaled(self, factor: float) -> Rate:
        """This rate (and burst) multiplied by ``factor``."""
        return replace(
            self, per_minute=self.per_minute * factor, burst=max(1.0, self.capacity * factor)
        )


TIER_1 = Rate(1)
TIER_2 = Rate(20)
TIER_3 = Rate(50)
TIER_4 = Rate(100)

#: The key of a method's per-channel budget in ``DEFAULT_RATES`` and ``slack.rate_limits``.
CHANNEL_SUFFIX = ":channel"

# Each method's tier as its api.slack.com/methods page states it. A method not listed is
# Tier 3 (``default`` below): the tier most Web API methods have.
DEFAULT_RATES: Mapping[str, Rate] = {
    "auth.test": Rate(600),  # "Special": hundreds per minute
    # "1 per second per channel, short bursts >1 allowed" (the burst size is not published).
    "chat.postMessage:channel": Rate(60, burst=3),
    # The workspace-wide ceiling is unpublished ("several hundred messages per minute"):
    # a cautious stand-in, to raise in slack.rate_limits where Slack allows more.
    "chat.postMessage": Rate(300, burst=60),
    "chat.postEphemeral": TIER_4,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "conversations.open": TIER_3,
    "conversations.info": TIER_3,
    "conversations.history": TIER_3,
    "users.info": TIER_4,
    "users.lookupByEmail": TIER_3,
    "users.list": TIER_2,
    "usergroups.list": TIER_2,
    "usergroups.users.list": TIER_2,
    "views.open": TIER_4,
    "views.update": TIER_4,
    "views.publish": TIER_4,
}
_DEFAULT_TIER = TIER_3


class _Bucket:
    """A token bucket whose tokens are reserved in order: a caller's wait is known at once.

    The level may go below zero: that many callers are queued, and the next one waits
    until the refill covers them all. ``not_before`` is a pause ordered by a 429.
    """

    __slots__ = ("level", "not_before", "rate", "stamp")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.level = rate.capacity
        self.stamp = now
        self.not_before = 0.0

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(
                self.rate.capacity, self.level + (now - self.stamp) * self.rate.per_minute / 60
            )
            self.stamp = now

    def reserve(self, now: float) -> float:
        """Take one token; seconds until it is really ours (0: now)."""
        self._refill(now)
        self.level -= 1.0
        wait = 0.0 if self.level >= 0 else -self.level * 60 / self.rate.per_minute
        return max(wait, self.not_before - now)

    def pause(self, now: float, seconds: float) -> None:
        """Nobody passes for ``seconds``; afterwards the bucket refills from empty."""
        self._refill(now)
        self.level = min(self.level, 0.0)
        self.not_before = max(self.not_before, now + seconds)

    def idle(self, now: float) -> bool:
        self._refill(now)
        return self.level >= self.rate.capacity and self.not_before <= now


class SlackLimiter:
    """Per-method (and, where Slack limits per channel, per-channel) buckets for one token.

    One per process, shared by every client of the bot token: replies, cards, nudges and
    the App Home draw from the same budgets. Runs on one event loop.
    """

    def __init__(
        self,
        overrides: Mapping[str, Rate] | None = None,
        *,
        factor: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = asyncio.sleep,
    ) -> None:
        rates = {**DEFAULT_RATES, **(overrides or {})}
        self.rates = {key: rate.scaled(factor) for key, rate in rates.items()}
        self.default = _DEFAULT_TIER.scaled(factor)
        self._clock = clock
        self._sleep = sleep
        self._workspace: dict[str, _Bucket] = {}
        self._channels: dict[tuple[str, str], _Bucket] = {}
        self.waited_s = 0.0

    def per_channel(self, method: str) -> bool:
        """Whether ``method`` also has a budget per channel."""
        return method + CHANNEL_SUFFIX in self.rates

    def _buckets(self, method: str, channel: str | None) -> list[_Bucket]:
        now = self._clock()
        bucket = self._workspace.get(method)
        if bucket is None:
            bucket = self._workspace[method] = _Bucket(
                self.rates.get(method, self.default), now
            )
        found = [bucket]
        rate = self.rates.get(method + CHANNEL_SUFFIX)
        if rate is not None and channel:
            key = (method, channel)
            per = self._channels.get(key)
            if per is None:
                if len(self._channels) > 10_000:
                    self._forget_idle(now)
                per = self._channels[key] = _Bucket(rate, now)
            found.append(per)
        return found

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, b in self._channels.items() if b.idle(now)]:
            del self._channels[key]

    def delay(self, method: str, channel: str | None = None) -> float:
        """Reserve a call of ``method`` (in ``channel``); seconds to wait before sending it."""
        now = self._clock()
        return max(bucket.reserve(now) for bucket in self._buckets(method, channel))

    async def acquire(self, method: str, channel: str | None = None) -> float:
        """Wait until a call of ``method`` (in ``channel``) may go; returns the seconds waited."""
        wait = self.delay(method, channel)
        if wait > 0:
            self.waited_s += wait
            await self._sleep(wait)  # type: ignore[misc]
        return wait

    def throttled(self, method: str, channel: str | None, retry_after: float) -> None:
        """Slack answered 429 with ``Retry-After``: hold the method (or the channel) back."""
        now = self._clock()
        buckets = self._buckets(method, channel)
        if len(buckets) == 1:
            buckets[0].pause(now, retry_after)
            return
        # Slack does not say which limit answered: the channel waits Retry-After, and the
        # whole method goes on at its sustained rate only.
        buckets[1].pause(now, retry_after)
        buckets[0].pause(now, 0.0)
