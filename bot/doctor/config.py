"""The doctor's configuration family: what is routed where, what is offered, retention."""

from __future__ import annotations

from bot.doctor.audit import days_text
from bot.doctor.family import DoctorContext, Family
from connectors.base import ALL_CAPABILITIES, Capability
from connectors.doctor import Finding, Findings, join


async def config_findings(ctx: DoctorContext) -> list[Finding]:
    """The configuration as the bot will run it: routes, offered capabilities, retention."""
    cfg, declared = ctx.cfg, ctx.declared
    out = Findings("config")
    out.ok("file", f"{cfg.source or 'configuration'} is valid")
    routes: list[str] = []
    for cap in ALL_CAPABILITIES:
        provider = cfg.capabilities.get(cap.label)
        if provider is None:
            continue
        caps = declared.get(provider)
        if caps is None or cap in caps:
            routes.append(f"{cap.label}: {provider}")
        else:
            kind = cfg.connectors[provider].kind
            out.warn(
                f"capability {cap.label}",
                f"routed to {provider}, but a {kind} connector cannot do it: not offered",
                fix=f"route {cap.label} to a connector that can, or remove it",
            )
    offered = ctx.offered
    missing = [c.label for c in ALL_CAPABILITIES if c not in offered]
    detail = [f"not offered: {join(missing)}"] if missing else []
    out.ok("capabilities", join(routes) if routes else "none offered", details=detail)
    if cfg.catalogue and Capability.GROUPS not in offered:
        out.warn(
            "catalogue",
            f"{len(cfg.catalogue)} requestable group(s), but no connector serves groups",
            fix="route the groups capability to a connector",
        )
    used = {p for p in cfg.capabilities.values()} | {
        e.provider for e in cfg.catalogue if e.provider
    }
    for name in cfg.connectors:
        if name not in used:
            out.warn(
                f"connector {name}",
                "configured but serves no capability",
                fix="route a capability to it or remove it",
            )
    retention = cfg.audit.retention
    window = max(
        limit.per for limit in (cfg.limits.password_reset, cfg.limits.unlock, cfg.limits.mfa_reset)
    )
    if retention is None:
        out.ok("audit retention", "audit records are kept forever (audit.retention)")
    elif retention < window:
        out.fail(
            "audit retention",
            f"audit.retention ({retention.days}d) is shorter than the longest limit window "
            f"({window}): pruning would reset the per-employee limits",
            fix=f"set audit.retention to at least {window}",
        )
    else:
        out.ok(
            "audit retention",
            f"records older than {days_text(retention)} are pruned by 'helpdesk audit prune'",
        )
    return out.rows


FAMILY = Family("config", "configuration", config_findings, inline=True, always=True)
