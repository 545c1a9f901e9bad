"""The doctor's audit family: the audit trail as stored, reachable, and kept as configured."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.doctor.family import DoctorContext, Family
from config.logging import scrub_text
from config.settings import HelpdeskConfig
from connectors.doctor import Finding, Findings


def days_text(value: Any) -> str:
    """``30 days`` for a duration of whole days, else the value as it prints."""
    days = getattr(value, "days", 0)
    return f"{days} days" if days else str(value)


async def _audit_findings(cfg: HelpdeskConfig) -> list[Finding]:
    """The audit trail as stored: reachable, how old, anything past retention. Read-only."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.ext.asyncio import create_async_engine

    from store.audit import AuditFilter, count_audit, oldest_audit
    from store.db import Store, normalise_url

    out = Findings("audit")
    url = normalise_url(cfg.database_url)
    shown = make_url(url).render_as_string(hide_password=True)
    if url.startswith("sqlite") and ":memory:" not in url:
        path = Path(url.split(":///", 1)[-1])
        if not await asyncio.to_thread(path.exists):
            out.skip("store", f"no database yet at {path} (made when the bot first starts)")
            return out.rows
    # Not Store.open: that would run migrations, and the doctor changes nothing.
    engine = create_async_engine(url)
    try:
        store = Store(engine)
        total = await count_audit(store)
        oldest = await oldest_audit(store)
        retention = cfg.audit.retention
        stale = 0
        if retention is not None:
            cutoff = datetime.now(UTC) - retention
            stale = await count_audit(store, AuditFilter(until=cutoff))
    except SQLAlchemyError as exc:
        message = scrub_text(str(getattr(exc, "orig", exc)) or type(exc).__name__)
        if "audit_records" in message and ("no such table" in message or "exist" in message):
            out.skip("store", f"{shown}: no audit trail yet (made when the bot first starts)")
        else:
            out.fail(
                "store",
                f"cannot read the audit trail at {shown}: {type(exc).__name__}",
                fix="check database_url / DATABASE_URL and that the database is up",
            )
        return out.rows
    finally:
        await engine.dispose()
    since = f", oldest {oldest:%Y-%m-%d}" if oldest else ""
    out.ok("store", f"{shown}: {total} audit record(s){since}", records=total)
    if stale:
        out.warn(
            "retention",
            f"{stale} record(s) are older than audit.retention ({days_text(retention)})",
            fix="run 'helpdesk audit prune' (daily, from cron or a scheduler)",
            past_retention=stale,
        )
    return out.rows



async def _check(ctx: DoctorContext) -> list[Finding]:
    return await _audit_findings(ctx.cfg)


FAMILY = Family("audit", "audit trail", _check)
