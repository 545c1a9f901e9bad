"""The sandbox's moving parts: issued tokens, the rate-limit window, faults, a request log.

Tests reach them through the running sandbox::

    sb.faults.fail_next(2, status=503, path="/api/2/users/*")
    sb.faults.hang_next(seconds=1.0)
    sb.faults.fail_next(status=503, after_processing=True)   # done, but the answer is lost
    sb.faults.lose_answer_next(seconds=2.0, method="PUT")     # done, the answer held 2 s
    sb.limiter.exhaust()            # the next API call gets 429
    sb.tokens.revoke_all()          # every issued token now gets 401
    [r.path for r in sb.requests]   # what the server saw (no bodies, no headers)
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from sandboxes.onelogin.clock import Clock
from sandboxes.onelogin.state import OneLoginState


@dataclass(frozen=True, slots=True)
class IssuedToken:
    client_id: str
    created_at: float
    expires_at: float


class TokenStore:
    """Bearer tokens; OneLogin hands back the same token until it expires or is revoked.

    (https://developers.onelogin.com/api-docs/2/oauth20-tokens/generate-tokens)
    """

    def __init__(self, clock: Clock, ttl: float) -> None:
        self._clock = clock
        self.ttl = ttl
        self._tokens: dict[str, IssuedToken] = {}
        self.issued = 0
        self.reject_all = False

    def issue(self, client_id: str) -> tuple[str, IssuedToken]:
        now = self._clock()
        for value, token in self._tokens.items():
            if token.client_id == client_id and token.expires_at > now:
                return value, token
        value = secrets.token_hex(32)
        token = IssuedToken(client_id, now, now + self.ttl)
        self._tokens[value] = token
        self.issued += 1
        return value, token

    def valid(self, value: str) -> bool:
        token = self._tokens.get(value)
        return not self.reject_all and token is not None and token.expires_at > self._clock()

    def revoke_all(self) -> None:
        self._tokens.clear()

    def issued_values(self) -> list[str]:
        """Every token value still on record (for tests that look for leaks)."""
        return list(self._tokens)


class RateLimiter:
    """A fixed window of ``limit`` API calls per ``window`` seconds for the whole account."""

    def __init__(self, clock: Clock, limit: int = 5000, window: float = 3600.0) -> None:
        self._clock = clock
        self.limit = limit
        self.window = window
        self._window_start = clock()
        self._used = 0
        self.rejected = 0

    def _roll(self) -> None:
        now = self._clock()
        if now >= self._window_start + self.window:
            elapsed = now - self._window_start
            self._window_start += self.window * math.floor(elapsed / self.window)
            self._used = 0

    def take(self) -> bool:
        """Spend one call; ``False`` when the window's budget is gone."""
        self._roll()
        if self._used >= self.limit:
            self.rejected += 1
            return False
        self._used += 1
        return True

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*`` for the current window; Reset is seconds left, not an epoch."""
        self._roll()
        reset = max(0, math.ceil(self._window_start + self.window - self._clock()))
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self._used)),
            "X-RateLimit-Reset": str(reset),
        }

    def exhaust(self) -> None:
        """Spend the rest of the window, as another client of the account would."""
        self._roll()
        self._used = self.limit


@dataclass(slots=True)
class Fault:
    """One armed fault: hang ``hang_seconds``, then answer ``status`` (or normally).

    With ``after_processing`` the request is carried out first and only its answer is
    replaced, as when a response is lost after the server acted.
    """

    remaining: int
    status: int | None
    hang_seconds: float
    path: str | None
    method: str | None
    after_processing: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or fnmatchcase(path, self.path)


class FaultInjector:
    """Failures and hangs for the next matching requests, used up in the order armed."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        path: str | None = None,
        method: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` and a OneLogin error."""
        self._faults.append(Fault(count, status, 0.0, path, method, after_processing))

    def hang_next(
        self,
        count: int = 1,
        *,
        seconds: float,
        path: str | None = None,
        method: str | None = None,
        then_status: int | None = None,
    ) -> None:
        """Hold the next ``count`` matching requests ``seconds`` before answering."""
        self._faults.append(Fault(count, then_status, seconds, path, method))

    def lose_answer_next(
        self,
        count: int = 1,
        *,
        seconds: float,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Carry out the next ``count`` matching requests, then hold their answers
        ``seconds``: a client with a shorter timeout never learns the outcome."""
        self._faults.append(Fault(count, None, seconds, path, method, after_processing=True))

    def clear(self) -> None:
        self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method, path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What the sandbox saw of one request: never bodies or headers (they carry secrets)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    status: int
    body_keys: tuple[str, ...] = ()


@dataclass
class Runtime:
    """The state plus everything that is not account data."""

    state: OneLoginState
    clock: Clock
    tokens: TokenStore
    limiter: RateLimiter
    faults: FaultInjector = field(default_factory=FaultInjector)
    requests: list[RecordedRequest] = field(default_factory=list)
    # Fields left out of user answers, to imitate answers without e.g. "role_ids".
    omit_user_fields: set[str] = field(default_factory=set)
