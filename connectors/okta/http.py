"""The Okta SDK's HTTP path, with one retry policy, rate-limit pacing and typed failures.

Every request the SDK makes (typed API methods, ``create_request``/``fire_request``
calls, the OAuth token request) ends in ``RequestExecutor.fire_request``.
:class:`PolicyExecutor` overrides that one method, so the rules below hold for all of
them and are stated only here:

* Proactive pacing (:mod:`connectors.okta.pacing`): each response's
  ``X-Rate-Limit-Remaining``/``X-Rate-Limit-Reset`` are remembered per endpoint;
  when the budget is spent, the next call to that endpoint waits for the reset
  instead of collecting a 429
  (https://developer.okta.com/docs/reference/rl-best-practices/).
* 429 ``E0000047`` is retried after ``X-Rate-Limit-Reset`` plus a little jitter, for
  any method: Okta did not process the request. A concurrency 429 (limit and
  remaining both 0, https://developer.okta.com/docs/reference/rl2-concurrency/) backs
  off briefly instead of waiting for the window.
* 5xx answers and timeouts are retried with jittered exponential backoff, but only
  for requests that are safe to replay (GET/PUT/DELETE and the OAuth token request).
  A lifecycle POST that may have reached Okta is never sent twice: a second
  ``reset_password`` would invalidate the link the first one issued.
* A connection that could not be opened never carried the request, so it is retried
  whatever the method.
* Every call has a budget of attempts and of seconds spent waiting; past it the last
  failure is raised as :class:`OktaHttpError` or :class:`OktaTransportError`.
* In OAuth mode a 401 fetches a new access token and resends the request once (Okta
  refused it unprocessed).

The SDK's own retry is switched off (``rateLimit.maxRetries: 0``) so that this is the
only policy. Nothing here logs or raises a header value, a request body or a
successful response body (they carry API tokens, temporary passwords and reset
links); failures carry only the method, path and Okta's error code, summary and
causes. Clocks and sleep come from a :class:`~config.clock.Clock`, which tests replace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
from okta.http_client import HTTPClient
from okta.request_executor import RequestExecutor
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from config.clock import Clock, SystemClock
from config.logging import get_logger
from connectors.okta.pacing import (
    RateLimitPacer,
    bucket_of,
    is_concurrency_429,
    seconds_until_reset,
)
from connectors.waits import waiting

log = get_logger("connectors.okta")

# Replaying these cannot do anything twice (RFC 9110 section 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Asking for another access token is harmless, although it is a POST.
TOKEN_PATH = "/oauth2/v1/token"
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})

_rng = random.SystemRandom()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one call tries: attempts, seconds of waiting, backoff shape and jitter."""

    max_attempts: int = 4
    max_wait: float = 75.0
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.25


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """Timeouts, TLS trust and how many requests may be in flight at once."""

    request_timeout: float = 30.0
    connect_timeout: float = 10.0
    max_concurrency: int = 20
    ca_file: str | None = None


@dataclass(slots=True)
class HttpStats:
    """Counters of what the transport did, for tests, metrics and the benchmark."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    paced_waits: int = 0
    paced_seconds: float = 0.0
    retry_wait_seconds: float = 0.0
    server_errors: int = 0
    transport_errors: int = 0
    by_bucket: dict[str, int] = field(default_factory=dict)


class OktaHttpError(Exception):
    """Okta answered with an error status; built from the error object, never the request.

    ``code`` is Okta's ``errorCode`` (``E0000007``...) or an OAuth ``error``
    (``invalid_client``...); ``causes`` are the ``errorCauses`` summaries.
    """

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status: int,
        code: str | None,
        summary: str,
        causes: tuple[str, ...] = (),
        retry_after: float | None = None,
        www_authenticate: str | None = None,
    ) -> None:
        super().__init__(f"{method} {path}: HTTP {status} {code or '-'} {summary}")
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.summary = summary
        self.causes = causes
        self.retry_after = retry_after
        self.www_authenticate = www_authenticate


class OktaTransportError(Exception):
    """No HTTP answer: the connection failed, broke, or timed out.

    ``maybe_sent`` is False only when the connection never opened, so the request
    cannot have reached Okta.
    """

    def __init__(self, *, method: str, path: str, kind: str, maybe_sent: bool) -> None:
        super().__init__(f"{method} {path}: {kind}")
        self.method = method
        self.path = path
        self.kind = kind
        self.maybe_sent = maybe_sent

    @classmethod
    def from_exception(cls, exc: BaseException, method: str, path: str) -> OktaTransportError:
        """Classify an aiohttp/asyncio failure (its text may hold the URL, so it is dropped)."""
        if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
            return cls(method=method, path=path, kind="TLS verification failed", maybe_sent=False)
        if isinstance(exc, aiohttp.ClientConnectorError):
            return cls(method=method, path=path, kind="connection refused", maybe_sent=False)
        if isinstance(exc, TimeoutError):
            return cls(method=method, path=path, kind="timed out", maybe_sent=True)
        return cls(method=method, path=path, kind=type(exc).__name__, maybe_sent=True)


def _error_fields(body: str) -> tuple[str | None, str, tuple[str, ...]]:
    """Read code, summary and causes from Okta's error object or an OAuth error body."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return None, "no error body", ()
    if "errorCode" in data:
        causes = tuple(
            str(cause.get("errorSummary", ""))
            for cause in data.get("errorCauses") or ()
            if isinstance(cause, dict)
        )
        return str(data["errorCode"]), str(data.get("errorSummary", "")), causes
    if "error" in data:
        return str(data["error"]), str(data.get("error_description", "")), ()
    return None, "unrecognised error body", ()


class SessionHttpClient(HTTPClient):
    """The SDK's HTTP client contract on one pooled session with connect and total timeouts.

    The SDK's default client formats each request (headers included) into a debug
    message and, without a session, opens a new connection per request; this one
    does neither. Failures are returned as the SDK expects: ``(None, None, None, exc)``.
    """

    def __init__(self, http_config: dict[str, Any], options: TransportOptions) -> None:
        super().__init__(http_config)  # type: ignore[no-untyped-call]
        self._options = options
        self._own_session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._own_session is None or self._own_session.closed:
            context = ssl.create_default_context(cafile=self._options.ca_file)
            self._own_session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context, limit=self._options.max_concurrency),
                timeout=aiohttp.ClientTimeout(
                    total=self._options.request_timeout,
                    sock_connect=self._options.connect_timeout,
                ),
            )
        return self._own_session

    async def aclose(self) -> None:
        """Close the pooled connections."""
        if self._own_session is not None and not self._own_session.closed:
            await self._own_session.close()
        self._own_session = None

    async def send_request(
        self, request: dict[str, Any]
    ) -> tuple[Any, aiohttp.ClientResponse | None, str | None, BaseException | None]:
        headers = {**self._default_headers, **request["headers"]}
        kwargs: dict[str, Any] = {}
        if request.get("data"):
            kwargs["data"] = json.dumps(request["data"])
        elif request.get("form"):
            # aiohttp encodes a dict form itself and sets its own Content-Type.
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            kwargs["data"] = request["form"]
        try:
            async with self._session_now().request(
                request["method"], request["url"], headers=headers, **kwargs
            ) as response:
                return response.request_info, response, await response.text(), None
        except (TimeoutError, aiohttp.ClientError) as exc:
            return None, None, None, exc


class PolicyExecutor(RequestExecutor):
    """The SDK's request executor with this module's retry and pacing policy.

    ``fire_request`` returns the SDK's ``(request, response, body, None)`` for a 2xx
    answer and raises :class:`OktaHttpError` or :class:`OktaTransportError` otherwise,
    so a typed API method never sees an error and every failure reaches the connector
    through one path.
    """

    def __init__(
        self,
        config: dict[str, Any],
        cache: Any,
        *,
        options: TransportOptions,
        policy: RetryPolicy,
        stats: HttpStats,
        timer: Clock | None = None,
    ) -> None:
        super().__init__(  # type: ignore[no-untyped-call]
            config, cache, lambda http_config: SessionHttpClient(http_config, options)
        )
        self.policy = policy
        self.stats = stats
        self._timer = timer or SystemClock()
        self._pacer = RateLimitPacer(stats, self._timer, policy.jitter)
        self._slots = asyncio.Semaphore(options.max_concurrency)

    @property
    def http(self) -> SessionHttpClient:
        return cast(SessionHttpClient, self._http_client)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self.http.aclose()

    async def fire_request(
        self, request: dict[str, Any]
    ) -> tuple[dict[str, Any], aiohttp.ClientResponse, str, None]:
        method = str(request["method"]).upper()
        path = urlsplit(str(request["url"])).path
        try:
            response, body = await self._send(request, method, path)
        except OktaHttpError as exc:
            if not (exc.status == 401 and await self._renew_access_token(request, path)):
                raise
            # Okta refused the request unprocessed, so sending it again is safe.
            response, body = await self._send(request, method, path)
        return request, response, body, None

    async def _renew_access_token(self, request: dict[str, Any], path: str) -> bool:
        """After a 401 in OAuth mode, fetch a new access token into ``request``.

        The SDK renews tokens by their announced lifetime only; a token revoked or
        expired early would otherwise fail every call until a restart.
        """
        if self._oauth is None or path == TOKEN_PATH:
            return False
        self.clear_cached_token()  # type: ignore[no-untyped-call]
        self._oauth.clear_access_token()
        token, token_type, error = await self._oauth.get_oauth_token()
        if error is not None or not token or token_type != "Bearer":
            return False  # DPoP requests also need a new proof; left to the next call
        request["headers"]["Authorization"] = f"Bearer {token}"
        return True

    async def _send(
        self, request: dict[str, Any], method: str, path: str
    ) -> tuple[aiohttp.ClientResponse, str]:
        replayable = method in IDEMPOTENT_METHODS or path == TOKEN_PATH
        bucket = bucket_of(method, path)
        started = self._timer.monotonic()
        attempts_spent = stop_after_attempt(self.policy.max_attempts)

        def should_stop(state: RetryCallState) -> bool:
            # Give up rather than start a wait that would end past the call's budget.
            waited = self._timer.monotonic() - started
            budget_spent = waited + (state.upcoming_sleep or 0.0) > self.policy.max_wait
            return attempts_spent(state) or budget_spent

        retrying = AsyncRetrying(
            stop=should_stop,
            wait=self._wait_before_retry,
            retry=retry_if_exception(lambda exc: _should_retry(exc, replayable)),
            before_sleep=self._count_retry,
            sleep=self._timer.sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(request, method, path, bucket)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _attempt(
        self, request: dict[str, Any], method: str, path: str, bucket: str
    ) -> tuple[aiohttp.ClientResponse, str]:
        await self._pacer.acquire(bucket)
        started = time.perf_counter()
        async with self._slots:
            _, response, body, error = await self.http.send_request(request)
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        self.stats.requests += 1
        self.stats.by_bucket[bucket] = self.stats.by_bucket.get(bucket, 0) + 1
        if response is None:
            self.stats.transport_errors += 1
            failure = OktaTransportError.from_exception(error or TimeoutError(), method, path)
            log.debug("okta request failed", method=method, path=path, error=failure.kind)
            raise failure
        headers = response.headers
        self._pacer.observe(bucket, headers)
        log.debug(
            "okta request",
            method=method,
            path=path,
            status=response.status,
            ms=elapsed_ms,
            remaining=headers.get("X-Rate-Limit-Remaining"),
        )
        if 200 <= response.status < 300:
            return response, body or ""
        code, summary, causes = _error_fields(body or "")
        retry_after: float | None = None
        if response.status == 429:
            self.stats.rate_limited += 1
            if not is_concurrency_429(headers):
                retry_after = seconds_until_reset(headers, self._timer.wall())
        elif response.status >= 500:
            self.stats.server_errors += 1
        raise OktaHttpError(
            method=method,
            path=path,
            status=response.status,
            code=code,
            summary=summary,
            causes=causes,
            retry_after=retry_after,
            www_authenticate=headers.get("WWW-Authenticate"),
        )

    def _wait_before_retry(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        jitter = _rng.uniform(0, self.policy.jitter)
        if isinstance(exc, OktaHttpError) and exc.status == 429 and exc.retry_after is not None:
            return exc.retry_after + jitter
        # Full jitter over an exponential ceiling (the AWS "exponential backoff and
        # jitter" scheme), so that many clients failing together spread out.
        ceiling = min(
            self.policy.backoff_max,
            self.policy.backoff_initial * 2 ** (state.attempt_number - 1),
        )
        return _rng.uniform(0, ceiling) + jitter

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        delay = state.upcoming_sleep
        self.stats.retry_wait_seconds += delay
        exc = state.outcome.exception() if state.outcome is not None else None
        reason = (
            f"HTTP {exc.status}"
            if isinstance(exc, OktaHttpError)
            else exc.kind
            if isinstance(exc, OktaTransportError)
            else "error"
        )
        path = getattr(exc, "path", "")
        if isinstance(exc, OktaHttpError) and exc.status == 429:
            waiting(delay)
        log.info(
            "okta retry",
            path=path,
            reason=reason,
            attempt=state.attempt_number,
            wait_s=round(delay, 3),
        )


def _should_retry(exc: BaseException, replayable: bool) -> bool:
    """Whether a failed attempt may be sent again (see the module docstring)."""
    if isinstance(exc, OktaHttpError):
        if exc.status == 429:
            return True
        return replayable and exc.status in RETRYABLE_STATUSES
    if isinstance(exc, OktaTransportError):
        if exc.kind == "TLS verification failed":
            return False
        return replayable or not exc.maybe_sent
    return False


def quiet_sdk_logger() -> None:
    """Silence the SDK's logger, which logs requests (headers included) at DEBUG.

    ``okta.client.Client`` adds a stream handler to ``okta-sdk-python`` on every
    construction and marks the logger disabled; this keeps it disabled, drops the
    handlers it piles up, and raises its level so nothing below WARNING is formatted.
    """
    sdk_logger = logging.getLogger("okta-sdk-python")
    for handler in list(sdk_logger.handlers):
        sdk_logger.removeHandler(handler)
    sdk_logger.setLevel(logging.WARNING)
    sdk_logger.disabled = True
