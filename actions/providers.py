"""The configured connectors, and which one serves each capability."""

from __future__ import annotations

import functools
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from actions.audit import current_correlation_id
from config import metrics, tracing
from config.settings import HelpdeskConfig
from connectors.base import (
    ALL_CAPABILITIES,
    ROLE_OF_CAPABILITY,
    Capability,
    Directory,
    ExpiryReporter,
    GroupManager,
    MfaResetter,
    PasswordResetter,
    Unlocker,
)
from connectors.errors import ConnectorError, Unavailable
from connectors.registry import kind_label, load_kind

#: Methods every connector has that are plumbing, not calls to the identity system.
_NOT_CALLS = frozenset({"aclose"})


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    if isinstance(exc, Unavailable):
        return "unavailable"
    if isinstance(exc, ConnectorError):
        return "refused"
    return "error"


def _timed(name: str, operation: str, call: Callable[..., Awaitable[Any]]) -> Any:
    @functools.wraps(call)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            cid = current_correlation_id()
            with tracing.span(f"connector.{operation}", cid, connector=name):
                return await call(*args, **kwargs)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if not isinstance(failure, GeneratorExit):
                metrics.connector_called(
                    name, operation, _outcome(failure), time.perf_counter() - started
                )

    return timed


def instrument(conn: Directory) -> Directory:
    """Time and count every call ``conn`` makes to its system (``helpdesk_connector_*``).

    Each public coroutine method is shadowed on the instance by a timed one, so the
    connector keeps its type and its role protocols; done once per connector.
    """
    if getattr(conn, "_instrumented", False):
        return conn
    for operation, _ in inspect.getmembers(type(conn), inspect.iscoroutinefunction):
        if operation.startswith("_") or operation in _NOT_CALLS:
            continue
        setattr(conn, operation, _timed(conn.name, operation, getattr(conn, operation)))
    setattr(conn, "_instrumented", True)  # noqa: B010 - a marker, not part of its type
    return conn


def sync_transport_counts(connectors: Mapping[str, Directory]) -> None:
    """Carry each connector's transport totals (retries, 429s) into the API counters."""
    for name, conn in connectors.items():
        stats = getattr(conn, "stats", None)
        if stats is not None:
            metrics.TRANSPORTS.sync(
                name, float(getattr(stats, "retries", 0)), float(getattr(stats, "rate_limited", 0))
            )


class Providers:
    """Connector instances by name, routed per capability as the configuration says.

    A capability is offered only when a connector is configured for it *and*
    that connector declares it: what the bot shows is decided here, up front.
    """

    def __init__(
        self,
        connectors: Mapping[str, Directory],
        routes: Mapping[Capability, str],
        labels: Mapping[str, str] | None = None,
    ):
        self.connectors = {name: instrument(conn) for name, conn in connectors.items()}
        self.labels = {n: (labels or {}).get(n, n) for n in self.connectors}
        self.routes: dict[Capability, str] = {}
        for cap, name in routes.items():
            conn = self.connectors[name]
            if cap in conn.capabilities:
                self.routes[cap] = name

    @classmethod
    def from_config(
        cls, cfg: HelpdeskConfig, environ: Mapping[str, str] | None = None
    ) -> Providers:
        environ = os.environ if environ is None else environ
        built: dict[str, Directory] = {}
        for name, block in cfg.connectors.items():
            module = load_kind(block.kind)
            settings = module.Settings.model_validate(block.options())
            built[name] = module.build(name, settings, environ)
        routes = {Capability.parse(k): v for k, v in cfg.capabilities.items()}
        labels = {n: kind_label(b.kind) for n, b in cfg.connectors.items()}
        return cls(built, routes, labels)

    @property
    def available(self) -> Capability:
        found = Capability.NONE
        for cap in self.routes:
            found |= cap
        return found

    def offers(self, capability: Capability) -> bool:
        return capability in self.routes

    def provider_for(self, capability: Capability) -> Directory | None:
        name = self.routes.get(capability)
        return self.connectors[name] if name else None

    def _role(self, capability: Capability) -> object:
        conn = self.provider_for(capability)
        if conn is None:
            raise LookupError(f"no connector serves {capability.label}")
        assert isinstance(conn, ROLE_OF_CAPABILITY[capability])
        return conn

    def groups(self) -> GroupManager:
        return cast(GroupManager, self._role(Capability.GROUPS))

    def resetter(self) -> PasswordResetter:
        return cast(PasswordResetter, self._role(Capability.PASSWORD_RESET))

    def unlocker(self) -> Unlocker:
        return cast(Unlocker, self._role(Capability.UNLOCK))

    def mfa(self) -> MfaResetter:
        return cast(MfaResetter, self._role(Capability.MFA_RESET))

    def expiry(self) -> ExpiryReporter:
        return cast(ExpiryReporter, self._role(Capability.PASSWORD_EXPIRY))

    def label(self, conn: Directory) -> str:
        """How the employee knows this system: "Okta", "Active Directory"..."""
        return self.labels.get(conn.name, conn.name)

    def describe(self) -> dict[str, str | None]:
        return {cap.label: self.routes.get(cap) for cap in ALL_CAPABILITIES}

    async def aclose(self) -> None:
        for conn in self.connectors.values():
            await conn.aclose()
