"""The client-side limiter: bursts, the sustained rate, arrival order, a server's 429."""

from __future__ import annotations

import asyncio

import pytest

from actions.nudges import build_limiters
from actions.ratelimit import KeyedBuckets, TokenBucket
from config.nudges import NudgeRateLimits


class FakeClock:
    """Time moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_burst_then_the_sustained_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket("t", per_minute=60, capacity=5, clock=clock)
    start = clock.now
    for _ in range(5):
        await bucket.acquire()
    assert clock.now == start  # the burst leaves at once
    for _ in range(10):
        await bucket.acquire()
    assert clock.now - start == pytest.approx(10.0)  # then one a second
    assert bucket.stats.acquired == 15 and bucket.stats.waits == 10


async def test_headroom_keeps_tokens_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket("t", per_minute=300, capacity=60, headroom=1, clock=clock)
    for _ in range(59):
        await bucket.acquire()
    assert clock.now == 1000.0
    await bucket.acquire()
    assert clock.now == pytest.approx(1000.2)


async def test_waiters_are_served_in_arrival_order() -> None:
    clock = FakeClock()
    bucket = TokenBucket("t", per_minute=60, capacity=1, clock=clock)
    order: list[int] = []

    async def take(i: int) -> None:
        await bucket.acquire()
        order.append(i)

    await asyncio.gather(*(take(i) for i in range(6)))
    assert order == list(range(6))
    assert clock.now - 1000.0 == pytest.approx(5.0)


async def test_a_429_pauses_everyone_for_retry_after() -> None:
    clock = FakeClock()
    bucket = TokenBucket("t", per_minute=60, capacity=10, headroom=1, clock=clock)
    await bucket.acquire()
    bucket.throttled(3.0)
    await bucket.acquire()
    # Three seconds of Retry-After, then the bucket restarts empty (1 - headroom tokens).
    assert clock.now - 1000.0 == pytest.approx(4.0)
    assert bucket.stats.throttled == 1 and bucket.stats.throttled_s == 3.0
    await bucket.acquire()
    assert clock.now - 1000.0 == pytest.approx(5.0)


async def test_per_channel_buckets_are_independent() -> None:
    clock = FakeClock()
    keyed = KeyedBuckets("post", per_minute=60, capacity=1, clock=clock, max_idle=2)
    await keyed.acquire("D1")
    await keyed.acquire("D2")
    assert clock.now == 1000.0
    await keyed.acquire("D1")
    assert clock.now == pytest.approx(1001.0)
    await keyed.acquire("D3")  # over max_idle: full buckets are forgotten, counts kept
    assert keyed.totals().acquired == 4


def test_limiters_follow_the_settings() -> None:
    limits = NudgeRateLimits(directory_groups=None)
    limiters = build_limiters(limits, ["okta", "ad"])
    assert limiters.bucket("directory_list:okta") is not None
    assert limiters.bucket("directory_list:ad") is not limiters.bucket("directory_list:okta")
    assert limiters.bucket("directory_groups:okta") is None
    post = limiters.bucket("chat.postMessage")
    assert post is not None and post.capacity == 59 and post.rate == 5.0
    users_list = limiters.bucket("users.list")
    assert users_list is not None and users_list.rate == pytest.approx(20 / 60)
    assert limiters.per_key("chat.postMessage:channel") is not None
