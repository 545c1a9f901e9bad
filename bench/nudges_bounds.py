"""What a nudge sweep's figures are read against: the least time the fakes' limits allow.

A sweep is as fast as it can be when its slowest API is busy all the time, so each
Slack method's and Okta bucket's bound is the time that API needs, at the limits the
fakes enforce, for the requests the sweep made; ``nudges_bench.py`` reports the
sweep's time as a ratio to the largest of them.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from sandboxes.okta.ratelimit import classify as okta_bucket
from sandboxes.slack import RateLimits, SlackState

# The Slack limits the fake enforces, as the bound reads them (conversations.history is
# the stand-in's Tier 3).
SLACK_RULES = {**RateLimits.slack().rules}


def calls_between(state: SlackState, start: float, end: float) -> list[Any]:
    """The calls the Slack fake answered (429s included) between ``start`` and ``end``."""
    return [c for c in state.calls() if start <= c.at <= end]


def _level_at(history: list[Any], capacity: float, rate: float, at: float) -> float:
    """Replay a token bucket over answered calls before ``at``: the tokens left at ``at``."""
    level, then = capacity, None
    for call in history:
        if call.at >= at:
            break
        if then is not None:
            level = min(capacity, level + (call.at - then) * rate)
        level -= 1.0
        then = call.at
    if then is not None:
        level = min(capacity, level + (at - then) * rate)
    return level


def slack_bound(state: SlackState, start: float, end: float) -> dict[str, float]:
    """Seconds each Slack method needs, at the fake's limits, for the requests answered.

    The fake's buckets start full only on a fresh workspace: a sweep that resumes a
    killed one finds them as the killed one left them, so each bucket's level at the
    sweep's start is replayed from every answered call before it.
    """
    bound: dict[str, float] = {}
    answered = [c for c in state.calls() if c.status != 429]
    rules_of = {**SLACK_RULES, "conversations.history": RateLimits.slack().rules[
        "conversations.open"]}
    for method, rules in rules_of.items():
        before = [c for c in answered if c.method == method and c.at < start]
        mine = [c for c in answered if c.method == method and start <= c.at <= end]
        if not mine:
            continue
        seconds = 0.0
        for rule in rules:
            rate = rule.limit.per_minute / 60
            capacity = rule.limit.capacity
            if rule.scope == "channel":
                per = Counter(str(c.params.get("channel")) for c in mine)
                channel, need = per.most_common(1)[0]
                prior = [c for c in before if str(c.params.get("channel")) == channel]
            else:
                need, prior = len(mine), before
            level = _level_at(prior, capacity, rate, start)
            seconds = max(seconds, max(0.0, (need - level) / rate))
        bound[method] = seconds
    return bound


def okta_bound(summary: dict[str, Any], rate: int) -> dict[str, float]:
    """Seconds each Okta bucket needs (fixed per-minute windows, a whole minute of phase)."""
    by_bucket = (summary.get("stats", {}).get("directory", {}).get("okta", {}) or {}).get(
        "by_bucket", {}
    )
    counts: Counter[str] = Counter()
    for name, count in by_bucket.items():
        method, _, path = name.partition(" ")
        counts[okta_bucket("GET" if method == "GET" else "POST", path.replace("{id}", "x"))] += (
            count
        )
    return {
        f"okta:{bucket}": max(0.0, (math.ceil(n / rate) - 2) * 60.0) for bucket, n in counts.items()
    }


def recovered_429s(calls: list[Any]) -> dict[str, dict[str, int]]:
    """429s per method, and how many of them were later answered for the same request."""
    def ident(call: Any) -> tuple[str, str]:
        p = call.params
        return call.method, str(p.get("channel") or p.get("cursor") or p.get("email") or "")

    answered = {ident(c) for c in calls if c.status != 429}
    found: dict[str, dict[str, int]] = {}
    for call in calls:
        if call.status == 429:
            entry = found.setdefault(call.method, {"seen": 0, "recovered": 0})
            entry["seen"] += 1
            entry["recovered"] += ident(call) in answered
    return found
