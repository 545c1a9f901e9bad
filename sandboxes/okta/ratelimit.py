"""Okta's per-minute rate-limit buckets, concurrency limit and response headers.

Okta counts requests per org in buckets by endpoint, each with a per-minute budget
(https://developer.okta.com/docs/reference/rl-global-mgmt/), and answers every call
with ``X-Rate-Limit-Limit``, ``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Reset`` (UTC
epoch seconds when the window ends). Past the budget it answers 429 ``E0000047``.
Requests beyond the concurrency limit get a 429 whose limit and remaining are both 0
(https://developer.okta.com/docs/reference/rl2-concurrency/). Windows here are
aligned to the clock's minutes.
"""

from __future__ import annotations

import enum
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from sandboxes.okta.clock import Clock


class Bucket(enum.StrEnum):
    """The rate-limit bucket a request counts against."""

    USERS = "users"  # GET/POST /api/v1/users
    USER_GET = "user_get"  # GET /api/v1/users/{idOrLogin}
    USER_WRITE = "user_write"  # PUT/POST/DELETE /api/v1/users/{id}
    GROUPS = "groups"  # /api/v1/groups
    GROUP = "group"  # /api/v1/groups/{id} and below
    OAUTH_TOKEN = "oauth_token"  # /oauth2/v1/token
    OTHER = "other"  # every other endpoint


ENTERPRISE_PER_MINUTE: Mapping[Bucket, int] = {
    Bucket.USERS: 600,
    Bucket.USER_GET: 1000,
    Bucket.USER_WRITE: 600,
    Bucket.GROUPS: 600,
    Bucket.GROUP: 600,
    Bucket.OAUTH_TOKEN: 600,
    Bucket.OTHER: 600,
}
ENTERPRISE_CONCURRENCY = 75


@dataclass(frozen=True)
class RateLimitConfig:
    """Per-minute budgets by bucket and an optional limit on requests in flight."""

    per_minute: Mapping[Bucket, int] = field(default_factory=lambda: dict(ENTERPRISE_PER_MINUTE))
    concurrency: int | None = None

    @classmethod
    def enterprise(cls) -> RateLimitConfig:
        """Okta's Enterprise org figures, concurrency included."""
        return cls(dict(ENTERPRISE_PER_MINUTE), ENTERPRISE_CONCURRENCY)

    @classmethod
    def uniform(cls, per_minute: int, *, concurrency: int | None = None) -> RateLimitConfig:
        """The same budget for every bucket (Integrator Free orgs: 100, concurrency 35)."""
        return cls({bucket: per_minute for bucket in Bucket}, concurrency)

    def budget(self, bucket: Bucket) -> int:
        """Return the per-minute budget of ``bucket`` (unlisted buckets use ``OTHER``'s)."""
        return self.per_minute.get(bucket, self.per_minute.get(Bucket.OTHER, 600))


_USER_ONE = re.compile(r"^/api/v1/users/[^/]+$")
_GROUP_ANY = re.compile(r"^/api/v1/groups/[^/]+(/.*)?$")


def classify(method: str, path: str) -> Bucket:
    """Return the bucket for a request, after Okta's management rate-limit table."""
    if path == "/api/v1/users":
        return Bucket.USERS
    if _USER_ONE.match(path):
        return Bucket.USER_GET if method == "GET" else Bucket.USER_WRITE
    if path == "/api/v1/groups":
        return Bucket.GROUPS
    if _GROUP_ANY.match(path):
        return Bucket.GROUP
    if path == "/oauth2/v1/token":
        return Bucket.OAUTH_TOKEN
    return Bucket.OTHER


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may proceed, and the headers that describe its bucket."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("X-Rate-Limit-Limit", str(self.limit)),
            ("X-Rate-Limit-Remaining", str(self.remaining)),
            ("X-Rate-Limit-Reset", str(self.reset)),
        ]


class RateLimiter:
    """Counts requests per bucket per minute window and requests in flight."""

    def __init__(self, config: RateLimitConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[Bucket, tuple[int, int]] = {}  # bucket -> (window start, used)
        self._in_flight = 0

    def acquire(self, bucket: Bucket) -> Decision:
        """Count one request; when allowed, the caller must :meth:`release` it."""
        now = self._clock()
        window = math.floor(now / 60.0) * 60
        reset = window + 60
        limit = self.config.budget(bucket)
        with self._lock:
            start, used = self._windows.get(bucket, (window, 0))
            if start != window:
                used = 0
            concurrency = self.config.concurrency
            if concurrency is not None and self._in_flight >= concurrency:
                return Decision(False, 0, 0, reset)
            if used >= limit:
                self._windows[bucket] = (window, used)
                return Decision(False, limit, 0, reset)
            used += 1
            self._windows[bucket] = (window, used)
            self._in_flight += 1
            return Decision(True, limit, limit - used, reset)

    def release(self) -> None:
        """Mark one allowed request as finished."""
        with self._lock:
            self._in_flight -= 1

    def reset(self) -> None:
        """Forget all counts (for tests)."""
        with self._lock:
            self._windows.clear()
