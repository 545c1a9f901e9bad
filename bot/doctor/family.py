"""What a family of doctor checks is: a name, a label, and one check over a shared context.

A family is one area of the report (``slack``, ``audit``...). Its check reads
only (nothing is posted, changed or reset) and answers with
:class:`~connectors.doctor.Finding` rows; it is registered by one line in
:mod:`bot.doctor.registry`. The connectors are not a family: each configured
connector is an area of its own, checked through its kind's ``diagnose``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from config.settings import HelpdeskConfig
from connectors.base import Capability
from connectors.doctor import Finding


@dataclass(frozen=True)
class DoctorContext:
    """What every family's check may read.

    ``declared`` is each connector's capabilities (``None``: it could not be built,
    and its own checks say why); ``offered`` what the bot offers from them.
    """

    cfg: HelpdeskConfig
    environ: Mapping[str, str]
    declared: Mapping[str, Capability | None]
    offered: Capability


@dataclass(frozen=True)
class Family:
    """One area of checks.

    ``inline`` families run first, in registry order, and a crash in them stops
    the doctor (exit 2); the others run concurrently, each within the area
    timeout, a crash or a hang becoming a failed finding. ``always`` families run
    even when the caller skips every optional one (the admin view's health).
    """

    area: str
    label: str
    check: Callable[[DoctorContext], Awaitable[list[Finding]]]
    inline: bool = False
    always: bool = False


def offered_capabilities(
    cfg: HelpdeskConfig, declared: Mapping[str, Capability | None]
) -> Capability:
    """What the bot offers: routed capabilities their connector declares.

    A connector that could not be built (``None``) is taken at its word, so a
    missing secret is reported once, by the connector's own checks.
    """
    offered = Capability.NONE
    for label, provider in cfg.capabilities.items():
        cap = Capability.parse(label)
        caps = declared.get(provider)
        if caps is None or cap in caps:
            offered |= cap
    return offered
