"""The LDAP transport of the AD connector: TLS, a small connection pool, threads and retries.

ldap3 is blocking, so every call runs on a dedicated thread pool whose size is
the pool size; a worker takes an idle bound connection (or opens one), runs
one unit of work on it and gives it back. Transient failures (socket errors,
timeouts, ``busy``/``unavailable``) are retried a bounded number of times with
a fresh connection; a write whose outcome is unknown is never replayed.

The bind password is handed to ldap3 for the bind only and wiped from the
connection right after, because ldap3 puts it in ``repr(connection)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import ssl
import threading
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from config.logging import get_logger
from config.secrets import Secret
from connectors.ad.errors import (
    TransientFailure,
    bind_error,
    error_from_exception,
    error_from_result,
)
from connectors.ad.ldap3 import ldap3, ldap_exc
from connectors.ad.values import Entry
from connectors.errors import ConnectorError, OutcomeUnknown, UserNotFound

T = TypeVar("T")
Conn = Any  # an ldap3.Connection using the SAFE_SYNC strategy

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"  # RFC 2696 simple paged results

log = get_logger("connectors.ad")


class VerifyingTls(ldap3.Tls):  # type: ignore[misc]
    """ldap3's ``Tls`` with verification done by the ``ssl`` module itself.

    ldap3 2.9 turns off ``check_hostname`` and compares names afterwards with the
    deprecated ``ssl.match_hostname``; here the handshake checks the chain and the
    name (``server_name``, which may differ from the address dialled, e.g. an IP).
    """

    def __init__(self, *, ca_file: str | None, server_name: str | None, verify: bool) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE)
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self._context = context
        self._server_name = server_name

    def wrap_socket(self, connection: Conn, do_handshake: bool = False) -> None:
        connection.socket = self._context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=self._server_name or connection.server.host,
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One domain controller URL, parsed."""

    url: str
    host: str
    port: int
    use_ssl: bool

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ValueError(f"not an ldap:// or ldaps:// URL: {url!r}")
        default = 636 if scheme == "ldaps" else 389
        return cls(url, parts.hostname, parts.port or default, scheme == "ldaps")


@dataclass(frozen=True, slots=True)
class TransportConfig:
    """What the transport needs; built from the connector's ``Settings``."""

    provider: str
    endpoints: tuple[Endpoint, ...]
    start_tls: bool
    bind_dn: str
    ca_file: str | None
    verify_tls: bool
    tls_server_name: str | None
    pool_size: int
    connect_timeout: float
    operation_timeout: float
    retry_attempts: int
    idle_seconds: float


@dataclass(slots=True)
class _Pooled:
    conn: Conn
    endpoint: Endpoint
    last_used: float
    fresh: bool = True


class LdapTransport:
    """Pooled, retried ldap3 connections bound as the service account."""

    def __init__(self, config: TransportConfig, password: Secret) -> None:
        self._cfg = config
        self._password = password
        self._tls = VerifyingTls(
            ca_file=config.ca_file, server_name=config.tls_server_name, verify=config.verify_tls
        )
        self._servers = [
            ldap3.Server(
                e.host,
                port=e.port,
                use_ssl=e.use_ssl,
                tls=self._tls,
                get_info=ldap3.NONE,
                connect_timeout=config.connect_timeout,
            )
            for e in config.endpoints
        ]
        self._executor = ThreadPoolExecutor(
            max_workers=config.pool_size, thread_name_prefix=f"ad-{config.provider}"
        )
        self._idle: list[_Pooled] = []
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        urls = ", ".join(e.url for e in self._cfg.endpoints)
        return f"LdapTransport({self._cfg.provider!r}, [{urls}], bind_dn={self._cfg.bind_dn!r})"

    # -- connections (worker threads) ----------------------------------------
    def _open(self) -> _Pooled:
        """Open and bind a connection to the first endpoint that answers.

        A refused bind (bad password, locked or disabled service account) stops at
        once, without trying other controllers or retrying: every attempt would
        count towards locking the service account out. Unreachable endpoints fall
        through to the next; a TLS failure is reported rather than a later outage.
        """
        hard: ConnectorError | None = None
        soft: ConnectorError | None = None
        for endpoint, server in zip(self._cfg.endpoints, self._servers, strict=True):
            conn = ldap3.Connection(
                server,
                user=self._cfg.bind_dn,
                password=self._password.reveal(),
                client_strategy=ldap3.SAFE_SYNC,
                raise_exceptions=False,
                auto_referrals=False,
                receive_timeout=math.ceil(self._cfg.operation_timeout),  # ldap3 packs an int
                return_empty_attributes=False,
            )
            try:
                conn.open()
                if self._cfg.start_tls and not endpoint.use_ssl:
                    conn.start_tls()
                ok, result, _, _ = conn.bind()
            except (ldap_exc.LDAPException, OSError) as exc:
                _close_quietly(conn)
                error, transient = error_from_exception(
                    self._cfg.provider, f"connect to {endpoint.url}", exc
                )
                log.warning("ad.connect_failed", url=endpoint.url, error=error.message)
                if transient:
                    soft = error
                else:
                    hard = hard or error
                continue
            finally:
                conn.password = None  # ldap3 would show it in repr(conn)
            if ok:
                return _Pooled(conn, endpoint, time.monotonic())
            _close_quietly(conn)
            try:
                raise bind_error(self._cfg.provider, self._cfg.bind_dn, result)
            except TransientFailure as exc:  # busy/unavailable: try the next controller
                soft = exc.error
        if hard is not None:
            raise hard
        assert soft is not None
        raise TransientFailure(soft)

    def _checkout(self) -> _Pooled:
        if self._closed:
            raise ConnectorError(self._cfg.provider, "connector is closed", code="closed")
        now = time.monotonic()
        stale: list[_Pooled] = []
        picked: _Pooled | None = None
        with self._lock:
            while self._idle:
                candidate = self._idle.pop()
                if now - candidate.last_used > self._cfg.idle_seconds:
                    stale.append(candidate)
                    continue
                picked = candidate
                break
        for old in stale:
            _close_quietly(old.conn)
        if picked is not None:
            picked.fresh = False
            return picked
        return self._open()

    def _checkin(self, pooled: _Pooled) -> None:
        pooled.last_used = time.monotonic()
        with self._lock:
            if not self._closed and len(self._idle) < self._cfg.pool_size:
                self._idle.append(pooled)
                return
        _close_quietly(pooled.conn)

    def _alive(self, pooled: _Pooled) -> bool:
        """Cheap round trip (rootDSE, no attributes) before a write on a reused connection."""
        try:
            _, result, _, _ = pooled.conn.search(
                "", "(objectClass=*)", ldap3.BASE, attributes=["1.1"]
            )
        except (ldap_exc.LDAPException, OSError):
            return False
        return bool(result.get("description") == "success")

    def _job(self, op: str, fn: Callable[[Conn], T], idempotent: bool, writes: bool) -> T:
        pooled = self._checkout()
        if writes and not pooled.fresh and not self._alive(pooled):
            _close_quietly(pooled.conn)
            pooled = self._open()
        try:
            value = fn(pooled.conn)
        except (ldap_exc.LDAPException, OSError) as exc:
            _close_quietly(pooled.conn)
            error, transient = error_from_exception(self._cfg.provider, op, exc)
            if writes:
                # The connection was up and the write may have been sent: a lost answer.
                error = OutcomeUnknown(
                    self._cfg.provider, f"{error.message}; the outcome is unknown",
                    code=error.code,
                )
            if transient and idempotent:
                raise TransientFailure(error) from None
            raise error from None
        except TransientFailure:
            self._checkin(pooled)  # the server answered "busy": the connection is fine
            raise
        except ConnectorError:
            self._checkin(pooled)
            raise
        except BaseException:
            _close_quietly(pooled.conn)
            raise
        self._checkin(pooled)
        return value

    # -- async API -----------------------------------------------------------
    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self._cfg.retry_attempts),
            wait=wait_exponential(multiplier=0.1, max=2.0) + wait_random(0, 0.1),
            retry=retry_if_exception_type(TransientFailure),
            reraise=True,
            before_sleep=self._log_retry,
        )

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        detail = exc.error.message if isinstance(exc, TransientFailure) else type(exc).__name__
        log.info(
            "ad.retry", provider=self._cfg.provider, attempt=state.attempt_number, error=detail
        )

    async def run(
        self,
        op: str,
        fn: Callable[[Conn], T],
        *,
        idempotent: bool = True,
        writes: bool | None = None,
    ) -> T:
        """Run ``fn(connection)`` on a worker thread; retry transient failures (bounded).

        A non-idempotent ``fn`` is retried only when the server refused it
        outright (busy, unavailable) or the connection failed before it was sent.
        ``writes`` (default: not ``idempotent``): ``fn`` changes the directory, so a
        connection lost while it ran is :class:`~connectors.errors.OutcomeUnknown`, and
        stays so when a retry then fails before sending anything.
        """
        if self._closed:
            raise ConnectorError(self._cfg.provider, "connector is closed", code="closed")
        loop = asyncio.get_running_loop()
        wrote = not idempotent if writes is None else writes
        job = functools.partial(self._job, op, fn, idempotent, wrote)
        lost: list[OutcomeUnknown] = []
        try:
            async for attempt in self._retrying():
                with attempt:
                    try:
                        return await loop.run_in_executor(self._executor, job)
                    except TransientFailure as exc:
                        if isinstance(exc.error, OutcomeUnknown):
                            lost.append(exc.error)
                        raise
        except TransientFailure as exc:
            if lost and not isinstance(exc.error, OutcomeUnknown):
                raise lost[-1] from None
            raise exc.error from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def paged_search(
        self,
        base: str,
        search_filter: str,
        attributes: Sequence[str],
        page_size: int,
    ) -> AsyncGenerator[list[Entry], None]:
        """Yield pages of a subtree search (RFC 2696 paged results) on one held connection.

        The cookie belongs to the connection, so the connection is kept out of the
        pool for the whole sweep; an abandoned sweep discards it.
        """
        loop = asyncio.get_running_loop()
        provider = self._cfg.provider

        def fetch(conn: Conn, cookie: bytes | None) -> tuple[list[Entry], bytes | None]:
            _, result, response, _ = conn.search(
                base,
                search_filter,
                ldap3.SUBTREE,
                attributes=list(attributes),
                paged_size=page_size,
                paged_cookie=cookie,
            )
            if result.get("description") != "success":
                raise error_from_result(provider, "expiry sweep", result)
            control = (result.get("controls") or {}).get(PAGED_RESULTS_OID) or {}
            next_cookie = (control.get("value") or {}).get("cookie") or None
            return entries_of(response), next_cookie

        def first() -> tuple[_Pooled, list[Entry], bytes | None]:
            pooled = self._checkout()
            try:
                entries, cookie = fetch(pooled.conn, None)
            except (ldap_exc.LDAPException, OSError) as exc:
                _close_quietly(pooled.conn)
                error, transient = error_from_exception(provider, "expiry sweep", exc)
                raise (TransientFailure(error) if transient else error) from None
            except BaseException:
                _close_quietly(pooled.conn)
                raise
            return pooled, entries, cookie

        pooled: _Pooled | None = None
        try:
            try:
                async for attempt in self._retrying():
                    with attempt:
                        pooled, entries, cookie = await loop.run_in_executor(self._executor, first)
            except TransientFailure as exc:
                raise exc.error from None
            assert pooled is not None
            while True:
                yield entries
                if not cookie:
                    break
                held = pooled
                try:
                    entries, cookie = await loop.run_in_executor(
                        self._executor, fetch, held.conn, cookie
                    )
                except (ldap_exc.LDAPException, OSError) as exc:
                    error, _ = error_from_exception(provider, "expiry sweep", exc)
                    raise error from None
                except TransientFailure as exc:
                    raise exc.error from None
            done, pooled = pooled, None
            self._checkin(done)
        finally:
            if pooled is not None:
                self._discard_later(pooled)

    def _discard_later(self, pooled: _Pooled) -> None:
        """Close a connection without blocking the event loop (a sweep abandoned mid-way)."""
        try:
            self._executor.submit(_close_quietly, pooled.conn)
        except RuntimeError:  # executor already shut down
            _close_quietly(pooled.conn)

    async def aclose(self) -> None:
        """Unbind idle connections and stop the worker threads."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for pooled in idle:
            await asyncio.to_thread(_close_quietly, pooled.conn)
        self._executor.shutdown(wait=False, cancel_futures=True)


def entries_of(response: Sequence[dict[str, Any]] | None) -> list[Entry]:
    """Search result entries only (AD also returns continuation references)."""
    return [Entry.from_response(r) for r in response or () if r.get("type") == "searchResEntry"]


def search(
    conn: Conn,
    provider: str,
    op: str,
    base: str,
    search_filter: str,
    attributes: Sequence[str],
    *,
    scope: str = ldap3.SUBTREE,
    size_limit: int = 0,
    missing: type[ConnectorError] = UserNotFound,
) -> list[Entry]:
    """One search on a worker thread; a missing base object is an empty result for BASE scope."""
    _, result, response, _ = conn.search(
        base, search_filter, scope, attributes=list(attributes), size_limit=size_limit
    )
    # ldap3's status is False for an empty result too; the result code tells them apart.
    name = result.get("description")
    if name == "success":
        return entries_of(response)
    if name == "sizeLimitExceeded" and size_limit:
        return entries_of(response)  # we asked for a cap to detect ambiguity
    if name == "noSuchObject" and scope == ldap3.BASE:
        return []
    raise error_from_result(provider, op, result, missing=missing)


def modify(
    conn: Conn, dn: str, changes: dict[str, list[tuple[str, list[Any]]]]
) -> tuple[bool, dict[str, Any]]:
    """One modify; returns (ok, result) so callers can treat some refusals as outcomes."""
    ok, result, _, _ = conn.modify(dn, changes)
    return bool(ok), dict(result)


def _close_quietly(conn: Conn) -> None:
    # Closing a broken socket may fail too; there is nothing left to do then.
    with contextlib.suppress(Exception):
        conn.unbind()
    # A connect that failed leaves its socket on the connection, and unbind() skips a
    # connection that never opened: close it here rather than leave it to the collector.
    sock = getattr(conn, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()
