"""One doctor run: the registered families and every configured connector, concurrently."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime

from actions.providers import Providers
from bot.doctor.connectors import build, connector_findings
from bot.doctor.family import DoctorContext, offered_capabilities
from bot.doctor.registry import FAMILIES
from bot.doctor.report import DoctorReport
from config.logging import scrub_text
from config.settings import HelpdeskConfig
from connectors.doctor import Finding, Findings
from connectors.registry import kind_label

DEFAULT_TIMEOUT = 60.0


async def _bounded(
    area: str, seconds: float, run: Callable[[], Awaitable[list[Finding]]]
) -> list[Finding]:
    """Run one area's checks within ``seconds``; a crash or a hang becomes a failed finding."""
    try:
        async with asyncio.timeout(seconds):
            return await run()
    except TimeoutError:
        out = Findings(area)
        out.fail("checks", f"did not finish within {seconds:g}s", fix="check the network path")
        return out.rows
    except Exception as exc:  # one broken area must not hide the others
        out = Findings(area)
        out.fail("checks", f"the check itself failed: {type(exc).__name__}: {scrub_text(str(exc))}")
        return out.rows


async def diagnose(
    cfg: HelpdeskConfig,
    environ: Mapping[str, str] | None = None,
    *,
    providers: Providers | None = None,
    skip: Collection[str] = (),
    connectors: Sequence[str] | None = None,
    area_timeout: float = DEFAULT_TIMEOUT,
    sample_size: int = 200,
    strict: bool = False,
) -> DoctorReport:
    """Run every check for ``cfg`` and return the report; reads only, changes nothing.

    ``skip`` names families not to run (``slack``, ``audit``...; those marked
    ``always`` run regardless). ``providers`` lends already-built connectors (they
    are not closed); others are built from the configuration and closed.
    ``connectors`` limits the connector areas to those names. Areas run
    concurrently, each within ``area_timeout`` seconds.
    """
    environ = os.environ if environ is None else environ
    started = time.monotonic()
    families = [f for f in FAMILIES if f.always or f.area not in skip]
    names = [n for n in cfg.connectors if connectors is None or n in connectors]
    built = {name: build(name, cfg, environ, providers) for name in cfg.connectors}
    try:
        declared = {
            name: b.conn.capabilities if b.conn is not None else None for name, b in built.items()
        }
        ctx = DoctorContext(cfg, environ, declared, offered_capabilities(cfg, declared))
        jobs: list[Awaitable[list[Finding]]] = [
            _bounded(f.area, area_timeout, functools.partial(f.check, ctx))
            for f in families
            if not f.inline
        ]
        for name in names:
            check = functools.partial(connector_findings, built[name], cfg, sample_size)
            jobs.append(_bounded(name, area_timeout, check))
        findings: list[Finding] = []
        for family in families:
            if family.inline:
                findings += await family.check(ctx)
        for rows in await asyncio.gather(*jobs):
            findings.extend(rows)
    finally:
        for one in built.values():
            if one.own and one.conn is not None:
                await one.conn.aclose()
    labels = {f.area: f.label for f in FAMILIES}
    for name, block in cfg.connectors.items():
        labels[name] = kind_label(block.kind)
    return DoctorReport(
        findings,
        str(cfg.source or "configuration"),
        datetime.now(UTC),
        time.monotonic() - started,
        labels,
        strict,
    )


async def connector_health(
    cfg: HelpdeskConfig,
    providers: Providers | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    area_timeout: float = 30.0,
) -> DoctorReport:
    """The connectors' part of the doctor, for an admin view in Slack (App Home, a command).

    Slack-free: pass the running bot's ``providers`` to reuse its connections.
    Read ``report.areas()`` (one per connector, after ``config``),
    ``report.area_status(name)`` and ``report.in_area(name)``; render with
    :func:`~bot.doctor.report.render_table` or from ``to_dict()``.
    """
    return await diagnose(
        cfg, environ, providers=providers, skip=[f.area for f in FAMILIES],
        area_timeout=area_timeout,
    )
