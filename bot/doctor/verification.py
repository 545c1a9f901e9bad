"""The doctor's verification family; the checks live with verification (``actions/``)."""

from __future__ import annotations

from actions.verification.doctor import AREA, verification_findings
from bot.doctor.family import DoctorContext, Family
from connectors.doctor import Finding


async def _check(ctx: DoctorContext) -> list[Finding]:
    return verification_findings(ctx.cfg, ctx.declared, ctx.offered)


FAMILY = Family(AREA, "verification", _check, inline=True)
