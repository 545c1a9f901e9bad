"""The doctor's connector areas: each configured connector, checked by its kind's ``diagnose``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actions.providers import Providers
from config.logging import scrub_text
from config.secrets import MissingSecret
from config.settings import HelpdeskConfig
from config.verification import VERIFIED_CAPABILITIES, Method
from connectors.base import Capability, ContainStep, Directory
from connectors.doctor import Finding, Findings, Needs
from connectors.errors import ConnectorError
from connectors.registry import load_kind


def _needs_for(name: str, conn: Directory, cfg: HelpdeskConfig, sample_size: int) -> Needs:
    routed = Capability.NONE
    for label, provider in cfg.capabilities.items():
        cap = Capability.parse(label)
        if provider == name and cap in conn.capabilities:
            routed |= cap
    groups_provider = cfg.capabilities.get(Capability.GROUPS.label)
    groups = tuple(
        dict.fromkeys(
            e.provider_group for e in cfg.catalogue if (e.provider or groups_provider) == name
        )
    )
    return Needs(
        capabilities=routed,
        pushes=_pushes(name, conn, cfg),
        containment=_containment(routed, conn, cfg),
        groups=groups if Capability.GROUPS in routed else (),
        protected_groups=tuple(cfg.protected.groups),
        refuse_admin_roles=cfg.protected.refuse_admin_roles,
        reset_delivery=cfg.password_reset.delivery,
        sample_size=sample_size,
    )


def _pushes(name: str, conn: Directory, cfg: HelpdeskConfig) -> bool:
    """Whether ``name`` sends the pushes of a verified change (as ``Verification`` picks it)."""
    v = cfg.verification
    for label in VERIFIED_CAPABILITIES:
        provider = cfg.capabilities.get(label)
        if not provider or Method.PUSH not in v.methods(label):
            continue
        if Capability.PUSH_VERIFY in conn.capabilities and name in (provider, v.verifier):
            return True
    return False


def _containment(
    routed: Capability, conn: Directory, cfg: HelpdeskConfig
) -> frozenset[ContainStep]:
    """The ``on_report`` steps a report would ask of this connector (its changes carry links)."""
    changes = Capability.PASSWORD_RESET | Capability.UNLOCK | Capability.MFA_RESET
    n = cfg.notices
    if not routed & changes or not n.enabled or n.public_url is None:
        return frozenset()
    if Capability.CONTAIN not in conn.capabilities:
        return frozenset()
    return frozenset(ContainStep(s.value) for s in n.on_report)


@dataclass
class Built:
    """A connector ready to check (or why it could not be built)."""

    name: str
    kind: str
    settings: Any = None
    conn: Directory | None = None
    own: bool = True
    failure: list[Finding] = field(default_factory=list)


def build(
    name: str, cfg: HelpdeskConfig, environ: Mapping[str, str], providers: Providers | None
) -> Built:
    """Build one connector as the bot would (no I/O), or borrow the running bot's."""
    block = cfg.connectors[name]
    module = load_kind(block.kind)
    built = Built(name, block.kind, module.Settings.model_validate(block.options()))
    if providers is not None and name in providers.connectors:
        built.conn, built.own = providers.connectors[name], False
        return built
    out = Findings(name)
    try:
        built.conn = module.build(name, built.settings, environ)
    except MissingSecret as exc:
        out.fail("credentials", str(exc), fix="set the secret the connector block names")
    except ValueError as exc:
        out.fail("credentials", f"unusable: {scrub_text(str(exc))}")
    built.failure = out.rows
    return built


async def connector_findings(
    built: Built, cfg: HelpdeskConfig, sample_size: int
) -> list[Finding]:
    """One connector's area: its kind's ``diagnose``, or why it could not be built."""
    if built.conn is None:
        return built.failure
    needs = _needs_for(built.name, built.conn, cfg, sample_size)
    try:
        return await load_kind(built.kind).diagnose(built.conn, built.settings, needs)
    except ConnectorError as exc:
        out = Findings(built.name)
        out.error("connect", exc)
        return out.rows
