"""The configured connectors, and which one serves each capability."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import cast

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
from connectors.registry import kind_label, load_kind


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
        self.connectors = dict(connectors)
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
