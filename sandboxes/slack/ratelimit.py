"""Slack's Web API rate limits as token buckets, per method per workspace (or per channel).

Slack publishes tiers (api.slack.com/docs/rate-limits): Tier 1 1+/min, Tier 2 20+/min, Tier 3
50+/min, Tier 4 100+/min, each "with occasional bursts"; chat.postMessage allows about one message
per second per channel with short bursts, under an unpublished workspace-wide ceiling. A bucket
holds ``burst`` requests and refills at ``per_minute``; a request that finds it empty gets HTTP 429
with ``Retry-After`` = whole seconds until a request would pass.

Configure with ``RateLimits``::

    RateLimits.slack()                                  # the defaults below
    RateLimits.slack().override({"users.info": Limit(2)})
    RateLimits.slack().scaled(100)                      # 100x the budget (benchmarks)
    RateLimits.uniform(Limit(1, burst=1))               # every method: 1/min, no burst
    RateLimits.unlimited()
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from sandboxes.slack.clock import Clock

Scope = Literal["workspace", "channel"]


@dataclass(frozen=True)
class Limit:
    """``per_minute`` sustained requests; ``burst`` requests at once (default: a minute's worth)."""

    per_minute: float
    burst: float | None = None

    @property
    def capacity(self) -> float:
        """Bucket size."""
        return self.burst if self.burst is not None else max(1.0, self.per_minute)


@dataclass(frozen=True)
class Rule:
    """A limit applied per workspace, or per channel within the workspace."""

    limit: Limit
    scope: Scope = "workspace"


TIER_1 = Limit(1)
TIER_2 = Limit(20)
TIER_3 = Limit(50)
TIER_4 = Limit(100)
# "Posting messages: 1 per second, short bursts >1 allowed." The burst size is not published.
POST_PER_CHANNEL = Limit(60, burst=3)
# The workspace-wide ceiling is unpublished ("several hundred messages per minute"); this value is a
# stand-in and benchmarks that depend on it should set their own.
POST_PER_WORKSPACE = Limit(300, burst=60)

# Tier of each method as its api.slack.com page states it.
SLACK_DEFAULT_RULES: Mapping[str, tuple[Rule, ...]] = {
    "auth.test": (Rule(Limit(600)),),  # "Special": hundreds of requests per minute
    "chat.postMessage": (Rule(POST_PER_CHANNEL, "channel"), Rule(POST_PER_WORKSPACE)),
    "chat.postEphemeral": (Rule(TIER_4),),
    "chat.update": (Rule(TIER_3),),
    "chat.delete": (Rule(TIER_3),),
    "conversations.history": (Rule(TIER_3),),
    "conversations.open": (Rule(TIER_3),),
    "conversations.info": (Rule(TIER_3),),
    "users.info": (Rule(TIER_4),),
    "users.lookupByEmail": (Rule(TIER_3),),
    "users.list": (Rule(TIER_2),),
    "usergroups.users.list": (Rule(TIER_2),),
    "views.open": (Rule(TIER_4),),
    "views.update": (Rule(TIER_4),),
    "views.publish": (Rule(TIER_4),),
}


class RateLimits:
    """Rules per method; methods without rules are not limited."""

    def __init__(self, rules: Mapping[str, Sequence[Rule]]) -> None:
        self.rules: dict[str, tuple[Rule, ...]] = {m: tuple(r) for m, r in rules.items()}

    @classmethod
    def slack(cls) -> RateLimits:
        """Slack's published tiers (see ``SLACK_DEFAULT_RULES``)."""
        return cls(SLACK_DEFAULT_RULES)

    @classmethod
    def unlimited(cls) -> RateLimits:
        """No limits at all."""
        return cls({})

    @classmethod
    def uniform(cls, limit: Limit, methods: Sequence[str] | None = None) -> RateLimits:
        """The same workspace-wide ``limit`` for every known method (or for ``methods``)."""
        return cls({m: (Rule(limit),) for m in (methods or SLACK_DEFAULT_RULES)})

    def override(self, changes: Mapping[str, Limit | Rule | Sequence[Rule] | None]) -> RateLimits:
        """A copy with some methods' rules replaced; a bare ``Limit`` keeps the method's scope.

        ``None`` removes a method's limits.
        """
        rules = dict(self.rules)
        for method, change in changes.items():
            if change is None:
                rules.pop(method, None)
            elif isinstance(change, Limit):
                scope = rules[method][0].scope if rules.get(method) else "workspace"
                rules[method] = (Rule(change, scope),)
            elif isinstance(change, Rule):
                rules[method] = (change,)
            else:
                rules[method] = tuple(change)
        return RateLimits(rules)

    def scaled(self, factor: float) -> RateLimits:
        """A copy with every rate and burst multiplied by ``factor``."""

        def scale(limit: Limit) -> Limit:
            burst = limit.capacity * factor
            return replace(limit, per_minute=limit.per_minute * factor, burst=max(1.0, burst))

        return RateLimits(
            {m: tuple(Rule(scale(r.limit), r.scope) for r in rs) for m, rs in self.rules.items()}
        )


class RateLimiter:
    """Token buckets keyed by (method, rule, channel); thread-safe; time from ``clock``."""

    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self._buckets: dict[tuple[str, int, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, method: str, channel: str | None = None) -> int | None:
        """Take one request from every bucket of ``method``.

        Returns None when allowed, else whole seconds to wait (>= 1) and takes nothing, since a
        rejected request should not eat budget.
        """
        rules = self.limits.rules.get(method, ())
        now = self.clock()
        with self._lock:
            levels: list[tuple[tuple[str, int, str], float]] = []
            wait = 0.0
            for index, rule in enumerate(rules):
                key = (method, index, (channel or "") if rule.scope == "channel" else "")
                level = self._level(key, rule.limit, now)
                if level < 1.0:
                    rate = rule.limit.per_minute / 60.0
                    wait = max(wait, (1.0 - level) / rate if rate > 0 else math.inf)
                levels.append((key, level))
            if wait > 0:
                for key, level in levels:
                    self._buckets[key] = (level, now)
                return max(1, math.ceil(wait)) if math.isfinite(wait) else 3600
            for key, level in levels:
                self._buckets[key] = (level - 1.0, now)
            return None

    def _level(self, key: tuple[str, int, str], limit: Limit, now: float) -> float:
        level, then = self._buckets.get(key, (limit.capacity, now))
        refill = max(0.0, now - then) * limit.per_minute / 60.0
        return min(limit.capacity, level + refill)
