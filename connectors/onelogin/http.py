"""OneLogin's REST API over ``httpx.AsyncClient``: token cache, one retry policy, paging.

Every call the connector makes goes through :meth:`OneLoginHttp.request`, so the
rules below hold for all of them and are stated only here:

* Token: OAuth 2.0 client credentials at ``POST /auth/oauth2/v2/token`` with HTTP
  Basic authentication (https://developers.onelogin.com/api-docs/2/oauth20-tokens/generate-tokens).
  The token is cached and replaced shortly before ``expires_in`` runs out (10 hours
  by default). A 401 on a resource call drops the token and fetches a new one,
  once per call: OneLogin hands back the same token until it expires or is
  revoked, so a second 401 means the credential itself is refused, and looping
  would only spend the rate limit.
* Rate limits: OneLogin allows a number of calls per hour and reports the budget in
  ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (seconds left in the window, not an
  epoch; https://developers.onelogin.com/api-docs/1/oauth20-tokens/get-rate-limit). When
  an answer says nothing remains, the next call waits for the reset instead of
  collecting a 429. A 429 is retried after ``X-RateLimit-Reset`` for any method,
  because OneLogin did not process the request.
* Failures: 5xx answers, timeouts and broken connections are retried with jittered
  exponential backoff, but only for requests that are safe to replay (GET, DELETE,
  and PUTs the caller does not mark otherwise). A POST that may have reached
  OneLogin is never sent twice; the connector checks the outcome instead. A
  connection that could not be opened never carried the request, so it is retried
  whatever the method.
* Budget: each call makes at most ``max_attempts`` attempts and waits at most
  ``max_wait`` seconds in total (pacing, backoff and rate-limit waits together). A
  wait that would exceed it is not started: the call fails at once with
  :class:`~connectors.errors.Unavailable` carrying ``retry_after``.
* Paging: API v2 lists are cursor-paged; the next page's cursor is the
  ``After-Cursor`` response header (https://developers.onelogin.com/api-docs/2/getting-started/using-query-parameters).

Nothing here logs or raises a request body, a header value or a response body:
they carry the client secret, access tokens and temporary passwords.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from config.clock import SYSTEM_CLOCK, Clock
from config.logging import get_logger
from config.secrets import Secret
from connectors.errors import ConnectorError, PermissionDenied, Unavailable
from connectors.onelogin.errors import (
    GATEWAY_STATUSES,
    NOT_SENT,
    Subject,
    answer_lost,
    error_from_response,
    error_from_transport,
    retry_after_of,
    writes,
)
from connectors.waits import waiting

log = get_logger(__name__)

TOKEN_PATH = "/auth/oauth2/v2/token"
# Replaying these cannot do anything twice (RFC 9110 section 9.2.2).
REPLAY_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
# API v2 returns at most 100 items per page.
MAX_PAGE_SIZE = 100
_MAX_PAGES = 100_000

_rng = random.SystemRandom()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one call tries: attempts, seconds of waiting, backoff shape and jitter."""

    max_attempts: int = 4
    max_wait: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.5
    # Refresh the token this long before OneLogin says it expires.
    token_refresh_margin: float = 300.0


@dataclass(frozen=True, slots=True)
class RateLimitSnapshot:
    """The budget OneLogin last reported; ``None`` where it has not said."""

    limit: int | None
    remaining: int | None
    reset_in: float | None


class _RetryableAnswer(Exception):
    """An answer worth trying again; carries the response for the final error."""

    def __init__(self, response: httpx.Response, wait: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.wait = wait


@dataclass
class TransportStats:
    """Running totals of what the transport did (read for ``/metrics``)."""

    retries: int = 0
    rate_limited: int = 0


class _Budget:
    """Seconds of waiting one call has left."""

    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait
        self.spent = 0.0

    def allows(self, seconds: float) -> bool:
        return self.spent + seconds <= self.max_wait


class _StopOverBudget(stop_base):
    """Stop before a wait that the call's budget cannot afford."""

    def __init__(self, budget: _Budget) -> None:
        self._budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        return not self._budget.allows(retry_state.upcoming_sleep)


class _RateLimits:
    """The last ``X-RateLimit-*`` values, with the reset as a point on our clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset_at: float | None = None

    def update(self, headers: httpx.Headers) -> None:
        limit = _int_header(headers, "X-RateLimit-Limit")
        remaining = _int_header(headers, "X-RateLimit-Remaining")
        reset = _int_header(headers, "X-RateLimit-Reset")
        if limit is None and remaining is None and reset is None:
            return
        self.limit = limit
        self.remaining = remaining
        self.reset_at = None if reset is None else self._clock() + reset

    def wait_needed(self) -> float:
        """Seconds until the window resets when the budget is spent, else 0."""
        if self.remaining is None or self.remaining > 0 or self.reset_at is None:
            return 0.0
        return max(0.0, self.reset_at - self._clock())

    def waited(self) -> None:
        # After the reset the budget is unknown until the next answer says.
        self.remaining = None
        self.reset_at = None

    def snapshot(self) -> RateLimitSnapshot:
        reset_in = None if self.reset_at is None else max(0.0, self.reset_at - self._clock())
        return RateLimitSnapshot(self.limit, self.remaining, reset_in)


class OneLoginHttp:
    """An authenticated OneLogin API client with the retry and paging rules above."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        client_id: str,
        client_secret: Secret,
        *,
        timeout: httpx.Timeout | None = None,
        verify: Any = True,
        policy: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock.monotonic
        self._sleep = clock.sleep
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout or httpx.Timeout(20.0, connect=5.0),
            verify=verify,
            transport=transport,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "helpdesk-bot"},
        )
        self._token: Secret | None = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()
        self._limits = _RateLimits(clock.monotonic)
        self.token_fetches = 0
        self.stats = TransportStats()

    def __repr__(self) -> str:
        return f"OneLoginHttp(provider={self.provider!r}, base_url={self.base_url!r})"

    @property
    def rate_limit(self) -> RateLimitSnapshot:
        """The rate-limit budget from the last answer that reported one."""
        return self._limits.snapshot()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    # -- public calls -----------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        subject: Subject,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        replay_safe: bool | None = None,
    ) -> httpx.Response:
        """Send one API call under the retry policy; raise the mapped error on failure.

        ``replay_safe`` overrides the method's default (see ``REPLAY_SAFE_METHODS``):
        pass ``False`` for a PUT whose repetition would be refused or harmful.
        """
        method = method.upper()
        safe = method in REPLAY_SAFE_METHODS if replay_safe is None else replay_safe
        budget = _Budget(self.policy.max_wait)

        async def attempt() -> httpx.Response:
            await self._pace(budget)
            return await self._send_authenticated(method, path, params, json, safe)

        response = await self._with_retries(attempt, method, path, safe, budget, subject)
        if response.status_code in GATEWAY_STATUSES and writes(method, path, TOKEN_PATH):
            raise answer_lost(self.provider, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise error_from_response(self.provider, response, subject)
        return response

    async def get_json(
        self, path: str, *, subject: Subject, params: Mapping[str, str | int] | None = None
    ) -> Any:
        """GET ``path`` and decode its JSON body."""
        response = await self.request("GET", path, subject=subject, params=params)
        return self.decode(response)

    async def paginate(
        self,
        path: str,
        *,
        subject: Subject,
        params: Mapping[str, str | int] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield each page of a v2 list, following ``After-Cursor`` until it is absent."""
        base: dict[str, str | int] = dict(params or {})
        base["limit"] = max(1, min(page_size, MAX_PAGE_SIZE))
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            query = dict(base)
            if cursor is not None:
                query["cursor"] = cursor
            response = await self.request("GET", path, subject=subject, params=query)
            items = self.decode(response)
            if not isinstance(items, list):
                raise ConnectorError(self.provider, f"OneLogin sent a non-list page for {path}")
            yield [item for item in items if isinstance(item, dict)]
            cursor = response.headers.get("After-Cursor") or None
            # A cursor seen before would page forever; an empty page ends the list too.
            if cursor is None or not items or cursor in seen:
                return
            seen.add(cursor)

    def decode(self, response: httpx.Response) -> Any:
        """The JSON body of a successful answer (``None`` when it is empty)."""
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(
                self.provider, f"OneLogin answered HTTP {response.status_code} without JSON"
            ) from None

    # -- token ------------------------------------------------------------------
    async def _access_token(self) -> Secret:
        async with self._token_lock:
            if self._token is not None and self._clock() < self._token_expires_at:
                return self._token
            return await self._fetch_token()

    def _drop_token(self, token: Secret) -> None:
        # Only the token that was refused: a concurrent call may already hold a newer one.
        if self._token == token:
            self._token = None
            self._token_expires_at = 0.0

    async def _fetch_token(self) -> Secret:
        budget = _Budget(self.policy.max_wait)

        async def attempt() -> httpx.Response:
            return await self._send(
                "POST",
                TOKEN_PATH,
                None,
                {"grant_type": "client_credentials"},
                auth=httpx.BasicAuth(self._client_id, self._client_secret.reveal()),
                safe=True,
            )

        # Asking for a token again is harmless, although it is a POST.
        response = await self._with_retries(
            attempt, "POST", TOKEN_PATH, True, budget, Subject.TOKEN
        )
        if response.status_code >= 400:
            raise error_from_response(self.provider, response, Subject.TOKEN)
        body = self.decode(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise PermissionDenied(self.provider, "OneLogin's token answer has no access_token")
        try:
            expires_in = float(body.get("expires_in", 36000))
        except (TypeError, ValueError):
            expires_in = 36000.0
        margin = min(self.policy.token_refresh_margin, expires_in / 10)
        self._token = Secret(token)
        self._token_expires_at = self._clock() + max(0.0, expires_in - margin)
        self.token_fetches += 1
        log.info("onelogin.token_issued", provider=self.provider, expires_in=expires_in)
        return self._token

    # -- one attempt ------------------------------------------------------------
    async def _send_authenticated(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        safe: bool,
    ) -> httpx.Response:
        token = await self._access_token()
        response = await self._send(method, path, params, json, token=token, safe=safe)
        if response.status_code != 401:
            return response
        # One refresh per call: a request refused with 401 was not processed, so it
        # may be sent again whatever its method.
        log.info("onelogin.token_refused", provider=self.provider, path=path)
        self._drop_token(token)
        token = await self._access_token()
        return await self._send(method, path, params, json, token=token, safe=safe)

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        *,
        token: Secret | None = None,
        auth: httpx.Auth | None = None,
        safe: bool,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token.reveal()}"} if token is not None else None
        # httpx encodes every query value, so "&", "=" or "," in an email stay inside it.
        response = await self._client.request(
            method,
            path,
            params=dict(params) if params else None,
            json=json,
            headers=headers,
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
        )
        if path != TOKEN_PATH:
            self._limits.update(response.headers)
        log.debug(
            "onelogin.response",
            provider=self.provider,
            method=method,
            path=path,
            status=response.status_code,
        )
        if response.status_code == 429:
            self.stats.rate_limited += 1
            await response.aread()
            raise _RetryableAnswer(response, retry_after_of(response) or 1.0)
        if response.status_code in RETRYABLE_STATUSES and safe:
            await response.aread()
            raise _RetryableAnswer(response, None)
        return response

    async def _pace(self, budget: _Budget) -> None:
        wait = self._limits.wait_needed()
        if wait <= 0:
            return
        if not budget.allows(wait):
            raise Unavailable(
                self.provider,
                f"OneLogin rate limit spent; it resets in {wait:.0f}s",
                retry_after=wait,
                code="rate_limited",
            )
        log.info("onelogin.rate_limit_pause", provider=self.provider, wait=round(wait, 3))
        waiting(wait)
        budget.spent += wait
        await self._sleep(wait)
        self._limits.waited()

    # -- the retry loop ---------------------------------------------------------
    async def _with_retries(
        self,
        attempt: Callable[[], Awaitable[httpx.Response]],
        method: str,
        path: str,
        safe: bool,
        budget: _Budget,
        subject: Subject,
    ) -> httpx.Response:
        policy = self.policy

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, _RetryableAnswer):
                return True
            if isinstance(exc, NOT_SENT):
                return True
            return isinstance(exc, httpx.TransportError) and safe

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome is not None else None
            if isinstance(exc, _RetryableAnswer) and exc.wait is not None:
                return exc.wait + _rng.uniform(0, policy.jitter)
            step = policy.backoff_initial * 2.0 ** (state.attempt_number - 1)
            ceiling = min(policy.backoff_max, step)
            # Equal jitter: never less than half the step, so retries do not bunch up.
            return float(ceiling / 2 + _rng.uniform(0, ceiling / 2))

        def before_sleep(state: RetryCallState) -> None:
            self.stats.retries += 1
            budget.spent += state.upcoming_sleep
            exc = state.outcome.exception() if state.outcome is not None else None
            reason = str(exc) if isinstance(exc, _RetryableAnswer) else type(exc).__name__
            if isinstance(exc, _RetryableAnswer) and exc.response.status_code == 429:
                waiting(state.upcoming_sleep)
            log.info(
                "onelogin.retry",
                provider=self.provider,
                method=method,
                path=path,
                attempt=state.attempt_number,
                reason=reason,
                wait=round(state.upcoming_sleep, 3),
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception(retryable),
            wait=wait,
            stop=stop_after_attempt(policy.max_attempts) | _StopOverBudget(budget),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            async for attempt_state in retrying:
                with attempt_state:
                    return await attempt()
        except _RetryableAnswer as exc:
            status = exc.response.status_code
            if status in GATEWAY_STATUSES and writes(method, path, TOKEN_PATH):
                raise answer_lost(self.provider, f"HTTP {status}") from None
            raise error_from_response(self.provider, exc.response, subject) from None
        except httpx.TransportError as exc:
            wrote = writes(method, path, TOKEN_PATH)
            raise error_from_transport(self.provider, exc, wrote=wrote) from None
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None
