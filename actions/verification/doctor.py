"""``helpdesk doctor``'s verification area: how each change is verified, read from configuration.

``none`` for MFA reset is a problem (whoever holds a Slack session could remove every
factor and enrol their own), a warning for password reset and unlock. ``push`` where no
connector can send pushes, and ``approval`` with nobody named to approve, are warnings:
those methods never apply and the next one (or a refusal) does.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.settings import ApproverKind, HelpdeskConfig, approver_kind
from config.verification import VERIFIED_CAPABILITIES, Method
from connectors.base import Capability
from connectors.doctor import Finding, Findings

AREA = "verification"


def verification_findings(
    cfg: HelpdeskConfig, declared: Mapping[str, Capability | None], offered: Capability
) -> list[Finding]:
    """One finding per change the bot offers, and one for the push route when it matters."""
    settings = cfg.verification
    out = Findings(AREA)
    pushers = [n for n, caps in declared.items() if caps is not None
               and Capability.PUSH_VERIFY in caps]
    deciders = [a for a in settings.approval.approvers
                if approver_kind(a) is not ApproverKind.CHANNEL]
    for label in VERIFIED_CAPABILITIES:
        if Capability.parse(label) not in offered:
            continue
        methods = settings.methods(label)
        check = f"{label} verification"
        listed = ", ".join(m.value for m in methods)
        if methods == [Method.NONE]:
            message = (
                f"{label}: none, so a Slack session alone is enough to "
                + ("remove every MFA factor" if label == "mfa_reset" else "make this change")
            )
            fix = f"set verification.{label} to [push, approval] or [approval]"
            if label == "mfa_reset":
                out.fail(check, message, fix=fix)
            else:
                out.warn(check, message, fix=fix)
            continue
        problems: list[str] = []
        provider = cfg.capabilities.get(label)
        own = declared.get(provider) if provider else None
        if Method.PUSH in methods and not (
            (own is not None and Capability.PUSH_VERIFY in own)
            or (settings.verifier is not None and settings.verifier in pushers)
        ):
            problems.append(
                "push never applies: the connector serving it can't send pushes and no "
                "verification.verifier that can is set"
            )
        if Method.APPROVAL in methods and not deciders:
            problems.append("approval never applies: verification.approval.approvers is empty")
        if problems:
            out.warn(check, f"{label}: {listed}; " + "; ".join(problems),
                     fix="set verification.verifier to an Okta or OneLogin connector, "
                     "or name approvers")
        else:
            out.ok(check, f"{label}: {listed}")
    if settings.verifier is not None and settings.verifier not in pushers:
        out.warn(
            "verifier",
            f"verification.verifier is {settings.verifier}, which can't send pushes",
            fix="name an Okta connector (or remove verification.verifier)",
        )
    return out.rows
