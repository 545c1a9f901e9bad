"""``helpdesk doctor``: does every credential work, hold what it needs, and no more?

For the configuration, the audit trail, Slack and each configured connector the
doctor runs read-only checks and reports one :class:`~connectors.doctor.Finding`
per aspect: ``ok``, ``warn`` (works, but should change: least privilege,
hygiene), ``fail`` (a capability will not work, or a credential is far stronger
than needed) or ``skip`` (could not or need not be checked). Connector checks
live beside each connector, reached through the registry as the kind's
``diagnose`` (``connectors/okta/doctor.py``...), the Slack checks in
:mod:`bot.doctor_slack`.

``run_doctor`` is the CLI: a table (or ``--json``), exit 0 when nothing failed,
1 when something did (warnings too with ``--strict``), 2 when the doctor could
not run. :func:`connector_health` is the same report for an admin view in Slack,
connectors only, reusing the running bot's connectors.

Nothing in the report holds a secret: secrets are named by where they are read
from (``env SLACK_BOT_TOKEN``), and every string is passed through the log
redactor before it is printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from actions.providers import Providers
from actions.verification.doctor import verification_findings
from bot.doctor_notices import notice_area
from config.logging import scrub_text
from config.secrets import MissingSecret
from config.settings import HelpdeskConfig
from connectors.base import ALL_CAPABILITIES, Capability, Directory
from connectors.doctor import Finding, Findings, Needs, Status, join, worst
from connectors.errors import ConnectorError
from connectors.registry import kind_label, load_kind

DEFAULT_TIMEOUT = 60.0
REPORT_VERSION = 1


@dataclass
class DoctorReport:
    """Every finding of one run, grouped by area in the order the areas were checked.

    ``labels`` name each area for people (``okta`` -> ``Okta``); ``strict`` makes
    warnings count as problems.
    """

    findings: list[Finding]
    source: str
    generated_at: datetime
    duration: float
    labels: dict[str, str] = field(default_factory=dict)
    strict: bool = False

    def areas(self) -> list[str]:
        """The areas in report order."""
        return list(dict.fromkeys(f.area for f in self.findings))

    def in_area(self, area: str) -> list[Finding]:
        """The findings of one area."""
        return [f for f in self.findings if f.area == area]

    def area_status(self, area: str) -> Status:
        """The worst status in an area (what an admin view shows per connector)."""
        return worst(f.status for f in self.in_area(area))

    def counts(self) -> dict[str, int]:
        """How many findings have each status."""
        return {s.value: sum(f.status is s for f in self.findings) for s in Status}

    @property
    def problems(self) -> list[Finding]:
        """Failed findings, and warnings too when ``strict``."""
        bad = {Status.FAIL, Status.WARN} if self.strict else {Status.FAIL}
        return [f for f in self.findings if f.status in bad]

    @property
    def exit_code(self) -> int:
        """0 when there is no problem, 1 otherwise."""
        return 1 if self.problems else 0

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON types (the ``--json`` output)."""
        return {
            "version": REPORT_VERSION,
            "ok": not self.problems,
            "exit_code": self.exit_code,
            "strict": self.strict,
            "config": self.source,
            "generated_at": self.generated_at.isoformat().replace("+00:00", "Z"),
            "duration_seconds": round(self.duration, 3),
            "summary": self.counts(),
            "areas": {
                area: {
                    "label": self.labels.get(area, area),
                    "status": self.area_status(area).value,
                }
                for area in self.areas()
            },
            "findings": [f.to_dict() for f in self.findings],
        }


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
        groups=groups if Capability.GROUPS in routed else (),
        protected_groups=tuple(cfg.protected.groups),
        refuse_admin_roles=cfg.protected.refuse_admin_roles,
        reset_delivery=cfg.password_reset.delivery,
        sample_size=sample_size,
    )


def _offered(cfg: HelpdeskConfig, declared: Mapping[str, Capability | None]) -> Capability:
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


def _config_findings(
    cfg: HelpdeskConfig, declared: Mapping[str, Capability | None]
) -> list[Finding]:
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
    offered = _offered(cfg, declared)
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
            f"records older than {_days(retention)} are pruned by 'helpdesk audit prune'",
        )
    return out.rows


def _days(value: Any) -> str:
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
            f"{stale} record(s) are older than audit.retention ({_days(retention)})",
            fix="run 'helpdesk audit prune' (daily, from cron or a scheduler)",
            past_retention=stale,
        )
    return out.rows


@dataclass
class _Built:
    """A connector ready to check (or why it could not be built)."""

    name: str
    kind: str
    settings: Any = None
    conn: Directory | None = None
    own: bool = True
    failure: list[Finding] = field(default_factory=list)


def _build(
    name: str, cfg: HelpdeskConfig, environ: Mapping[str, str], providers: Providers | None
) -> _Built:
    """Build one connector as the bot would (no I/O), or borrow the running bot's."""
    block = cfg.connectors[name]
    module = load_kind(block.kind)
    built = _Built(name, block.kind, module.Settings.model_validate(block.options()))
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


async def _connector_findings(
    built: _Built, cfg: HelpdeskConfig, sample_size: int
) -> list[Finding]:
    if built.conn is None:
        return built.failure
    needs = _needs_for(built.name, built.conn, cfg, sample_size)
    try:
        return await load_kind(built.kind).diagnose(built.conn, built.settings, needs)
    except ConnectorError as exc:
        out = Findings(built.name)
        out.error("connect", exc)
        return out.rows


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
    slack: bool = True,
    audit: bool = True,
    verification: bool = True,
    connectors: Sequence[str] | None = None,
    area_timeout: float = DEFAULT_TIMEOUT,
    sample_size: int = 200,
    strict: bool = False,
) -> DoctorReport:
    """Run every check for ``cfg`` and return the report; reads only, changes nothing.

    ``providers`` lends already-built connectors (they are not closed); others are
    built from the configuration and closed. ``connectors`` limits the connector
    areas to those names. Areas run concurrently, each within ``area_timeout`` seconds.
    """
    from bot.doctor_slack import diagnose_slack

    environ = os.environ if environ is None else environ
    started = time.monotonic()
    names = [n for n in cfg.connectors if connectors is None or n in connectors]
    built = {name: _build(name, cfg, environ, providers) for name in cfg.connectors}
    try:
        declared = {
            name: b.conn.capabilities if b.conn is not None else None for name, b in built.items()
        }
        offered = _offered(cfg, declared)
        jobs: list[Awaitable[list[Finding]]] = []
        if slack:
            jobs.append(
                _bounded(
                    "slack", area_timeout, lambda: diagnose_slack(cfg, environ, offered=offered)
                )
            )
        if audit:
            jobs.append(_bounded("audit", area_timeout, lambda: _audit_findings(cfg)))
        for name in names:
            one = built[name]
            jobs.append(
                _bounded(
                    name,
                    area_timeout,
                    lambda b=one: _connector_findings(b, cfg, sample_size),  # type: ignore[misc]
                )
            )
        if verification:  # change notices, report links, containment, factor verification
            jobs.append(_bounded("notices", area_timeout, lambda: notice_area(cfg, environ, built)))
        findings = _config_findings(cfg, declared)
        if verification:
            findings += verification_findings(cfg, declared, offered)
        for rows in await asyncio.gather(*jobs):
            findings.extend(rows)
    finally:
        for one in built.values():
            if one.own and one.conn is not None:
                await one.conn.aclose()
    labels = {"config": "configuration", "slack": "Slack", "audit": "audit trail",
              "verification": "verification"}
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
    :func:`render_table` or from ``to_dict()``.
    """
    return await diagnose(
        cfg, environ, providers=providers, slack=False, audit=False, verification=False,
        area_timeout=area_timeout,
    )


_TAGS = {Status.OK: "ok", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.SKIP: "skip"}


def render_table(report: DoctorReport, width: int = 100) -> str:
    """The report as a readable table, one section per area, fixes under their finding."""
    lines = [
        f"helpdesk doctor: {report.source}, "
        f"{report.generated_at:%Y-%m-%d %H:%M:%SZ} ({report.duration:.1f}s)",
    ]
    check_width = min(30, max((len(f.check) for f in report.findings), default=10))
    indent = 2 + 6 + check_width + 2
    for area in report.areas():
        label = report.labels.get(area, area)
        title = area if label in (area, "") else f"{area} ({label})"
        lines += ["", f"{title}: {report.area_status(area).value}"]
        for finding in report.in_area(area):
            tag = _TAGS[finding.status]
            summary = scrub_text(finding.summary)
            head = f"  {tag:<6}{finding.check:<{check_width}}  "
            if len(finding.check) > check_width:
                lines.append(f"  {tag:<6}{finding.check}")
                head = " " * indent
            lines += textwrap.wrap(
                summary,
                width=width,
                initial_indent=head,
                subsequent_indent=" " * indent,
                break_on_hyphens=False,
                break_long_words=False,
            ) or [head.rstrip()]
            for extra in finding.details:
                lines += textwrap.wrap(
                    scrub_text(extra),
                    width=width,
                    initial_indent=" " * indent,
                    subsequent_indent=" " * indent,
                    break_long_words=False,
                )
            if finding.fix and finding.status is not Status.OK:
                lines += textwrap.wrap(
                    f"fix: {scrub_text(finding.fix)}",
                    width=width,
                    initial_indent=" " * indent,
                    subsequent_indent=" " * (indent + 5),
                    break_on_hyphens=False,
                    break_long_words=False,
                )
    counts = report.counts()
    verdict = (
        f"{counts['fail']} problem(s), {counts['warn']} warning(s), {counts['ok']} ok, "
        f"{counts['skip']} skipped: exit {report.exit_code}"
    )
    if report.strict:
        verdict += " (strict: warnings count as problems)"
    lines += ["", verdict]
    return "\n".join(lines) + "\n"


def render_json(report: DoctorReport) -> str:
    """The report as indented JSON (``--json``)."""
    return json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"


async def run_doctor(
    cfg: HelpdeskConfig,
    *,
    as_json: bool = False,
    strict: bool = False,
    area_timeout: float = DEFAULT_TIMEOUT,
    connectors: Sequence[str] | None = None,
    skip_slack: bool = False,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the doctor and print the report; the exit code: 0 fine, 1 problems, 2 could not run."""
    out = out or sys.stdout
    err = err or sys.stderr
    unknown = [n for n in connectors or () if n not in cfg.connectors]
    if unknown:
        known = join(sorted(cfg.connectors))
        print(f"doctor: no connector named {join(unknown)} (configured: {known})", file=err)
        return 2
    try:
        report = await diagnose(
            cfg,
            environ,
            slack=not skip_slack,
            connectors=connectors,
            area_timeout=area_timeout,
            strict=strict,
        )
    except Exception as exc:  # the doctor's own failure: say so, exit 2
        print(f"doctor could not run: {type(exc).__name__}: {scrub_text(str(exc))}", file=err)
        return 2
    out.write(render_json(report) if as_json else render_table(report))
    out.flush()
    return report.exit_code
