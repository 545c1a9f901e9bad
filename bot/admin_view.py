"""The IT admins' view: pending approvals, recent actions, the last sweep, connector health.

Who is an IT admin is ``organisation.it_admins``: Slack user ids, and user groups
(``S123`` or ``@handle``) whose members are read through the ``PeopleDirectory``
port (in Slack ``usergroups.users.list``, cached briefly); a group that cannot be
read counts as empty, so a failed lookup never grants the view.

:class:`AdminView` is the conversation's ``AdminDesk``:

* ``home_sections``: for an IT admin, "Pending approvals" (every pending access
  request, oldest first), "Recent actions" (the latest audit records) and "Last
  password-expiry sweep" (the counts the nudge runs store); nothing for anyone else;
* ``status``: ``/helpdesk status``, the doctor's connector checks
  (:func:`bot.doctor.connector_health`) on the running bot's connectors within a
  time limit, or a polite refusal; both are audited as ``admin_status``.

Everything here only reads. Nothing shown holds a secret: audit records are shown
without their ``detail``, and every free text passes through the log redactor.
The wording is here, Slack-free; Block Kit is built by ``bot.views``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from actions.access import PeopleDirectory, RequestState
from actions.access.model import is_identity_check
from actions.audit import Actor, Auditor
from actions.providers import Providers
from bot.doctor import DoctorReport, connector_health
from bot.replies import HomeSection, Reply
from bot.views.text import when
from config.clock import Now, utc_now
from config.logging import get_logger, scrub_text
from config.settings import ApproverKind, HelpdeskConfig, approver_kind
from connectors.doctor import Finding, Status
from store.audit import as_utc, latest_audit
from store.db import Store
from store.models import AccessRequest
from store.nudges import RUN_END_STATES, NudgeStore, RunRecord

log = get_logger("helpdesk.admin")

PENDING_SHOWN = 15
RECENT_SHOWN = 10
HEALTH_TIMEOUT = 20.0  # seconds the whole status check may take
AREA_TIMEOUT = 10.0  # seconds one connector's checks may take
STATUS_ACTION = "admin_status"
_PROBLEMS_SHOWN = 3
_STATUS_BUDGET = 2800  # characters of the status reply (a section holds 3000)
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


class ItAdmins:
    """Who the IT admins are: the named Slack users and the members of the named user groups."""

    def __init__(self, entries: Sequence[str], people: PeopleDirectory) -> None:
        self.users = frozenset(e for e in entries if approver_kind(e) is ApproverKind.USER)
        self.groups = tuple(e for e in entries if approver_kind(e) is ApproverKind.USERGROUP)
        self.people = people

    async def includes(self, slack_user: str) -> bool:
        """Whether ``slack_user`` is an IT admin; a group that cannot be read counts as empty."""
        if slack_user in self.users:
            return True
        for group in self.groups:
            try:
                members = await self.people.usergroup_members(group)
            except Exception as exc:  # an outage must not grant (or break) anything
                log.warning("it_admins_lookup_failed", usergroup=group, error=type(exc).__name__)
                continue
            if slack_user in members:
                return True
        return False


# -- what the admins' App Home shows -----------------------------------------------------
@dataclass(frozen=True)
class PendingApproval:
    """A pending access request: who asked for what, when, and the approvals so far."""

    requester: str
    requester_email: str
    group_name: str
    created_at: datetime
    approvals: int
    approvals_required: int
    identity: bool = False
    """An identity check before a self-service change, rather than an access request."""


@dataclass(frozen=True)
class RecentAction:
    """An audit record without its detail: time, actor, action, target, result."""

    at: datetime
    actor: str
    action: str
    target: str | None
    result: str


@dataclass(frozen=True)
class SweepSummary:
    """How a finished password-expiry sweep ended and what it counted (None: not recorded)."""

    status: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    scanned: int | None
    nudged: int | None
    skipped: int | None
    failed: int | None


@dataclass(frozen=True)
class AdminData:
    """Everything the admins' sections show, read at ``now``."""

    now: datetime
    pending: Sequence[PendingApproval] = ()
    pending_total: int = 0
    recent: Sequence[RecentAction] = ()
    sweep: SweepSummary | None = None
    sweep_running_since: datetime | None = None


async def pending_approvals(store: Store, limit: int) -> tuple[list[PendingApproval], int]:
    """The ``limit`` oldest pending access requests, and how many are pending in all."""
    pending = AccessRequest.state == RequestState.PENDING
    async with AsyncSession(store.engine, expire_on_commit=False) as session:
        total = await session.scalar(
            select(func.count()).select_from(AccessRequest).where(pending)
        )
        rows = (
            await session.scalars(
                select(AccessRequest)
                .where(pending)
                .order_by(AccessRequest.created_at, AccessRequest.id)
                .limit(limit)
            )
        ).all()
    shown = [
        PendingApproval(
            r.requester, r.requester_email, r.group_name, as_utc(r.created_at), r.approvals,
            r.approvals_required, is_identity_check(r.group_key),
        )
        for r in rows
    ]
    return shown, int(total or 0)


async def recent_actions(store: Store, limit: int) -> list[RecentAction]:
    """The ``limit`` latest audit records, newest first, without their detail."""
    rows = await latest_audit(store, limit=limit)
    return [
        RecentAction(as_utc(r.at), r.actor, r.action, r.target or r.target_user_id, r.result)
        for r in reversed(rows)
    ]


def _total(value: Any) -> int | None:
    """A stored count: a number, or per-reason counts to add up (None when absent)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        return sum(v for v in value.values() if isinstance(v, int) and not isinstance(v, bool))
    return None


def last_sweep(runs: Sequence[RunRecord]) -> tuple[SweepSummary | None, datetime | None]:
    """The newest finished run of ``runs`` and when a still running one started.

    ``runs`` are newest first, as ``NudgeStore.recent_runs`` returns them.
    """
    running = runs[0].started_at if runs and runs[0].status not in RUN_END_STATES else None
    for run in runs:
        if run.status in RUN_END_STATES:
            counts = run.counts
            summary = SweepSummary(
                run.status, run.trigger, run.started_at, run.finished_at,
                _total(counts.get("scanned")), _total(counts.get("nudged")),
                _total(counts.get("skipped")), _total(counts.get("failed")),
            )
            return summary, running
    return None, running


# -- wording ---------------------------------------------------------------------------------
def _escape(text: str) -> str:
    """Free text shown in mrkdwn: redacted, and no mention, link or @channel smuggled in."""
    return scrub_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _person(slack_user: str) -> str:
    return f"<@{slack_user}>" if _SLACK_USER.match(slack_user) else _escape(slack_user)


def age(delta: timedelta) -> str:
    """``under a minute``, ``5 minutes``, ``1 hour``, ``3 days``: the largest whole unit."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
    return "under a minute"


def pending_line(item: PendingApproval, now: datetime) -> str:
    """``• @ada (ada@…) → *Figma* · waiting 2 days · 1 of 2 approvals`` (an identity check:
    ``→ identity check before *MFA reset*``)."""
    votes = (
        f" · {item.approvals} of {item.approvals_required} approvals"
        if item.approvals_required > 1
        else ""
    )
    what = f"*{_escape(item.group_name)}*"
    if item.identity:
        what = f"identity check before {what}"
    return (
        f"• {_person(item.requester)} ({_escape(item.requester_email)}) → "
        f"{what} · waiting {age(now - item.created_at)}{votes}"
    )


def action_line(item: RecentAction) -> str:
    """``• 01 May 09:00 (the reader's time) @ada password_reset → ada@example.com: *success*``."""
    target = f" → {_escape(item.target)}" if item.target else ""
    return (
        f"• {when(item.at)} · {_person(item.actor)} {_escape(item.action)}{target}: "
        f"*{_escape(item.result)}*"
    )


_TRIGGERS = {"schedule": "scheduled", "manual": "manual"}


def _count(value: int | None) -> str:
    return "not recorded" if value is None else f"{value:,}"


def sweep_section(
    sweep: SweepSummary | None, running_since: datetime | None, now: datetime
) -> HomeSection:
    """The last password-expiry sweep: how and when it ended, scanned/nudged/skipped/failed."""
    title = "Last password-expiry sweep"
    started = f"(started {when(running_since)})" if running_since else ""
    if sweep is None:
        first = [f"No sweep has finished yet; one is running now {started}."] if started else []
        return HomeSection(title, first, empty="No sweep yet.")
    running = [f"A sweep is running now {started}."] if started else []
    ended = sweep.finished_at or sweep.started_at
    how = _TRIGGERS.get(sweep.trigger, sweep.trigger.replace("_", " "))
    line = f"*{_escape(sweep.status)}* {when(ended)} ({age(now - ended)} ago, {_escape(how)} run)"
    fields = (
        ("Scanned", _count(sweep.scanned)),
        ("Nudged", _count(sweep.nudged)),
        ("Skipped", _count(sweep.skipped)),
        ("Failed", _count(sweep.failed)),
    )
    return HomeSection(title, [line, *running], fields)


def admin_sections(data: AdminData) -> list[HomeSection]:
    """The admins' App Home sections: pending approvals, recent actions, the last sweep."""
    return [
        HomeSection(
            "Pending approvals",
            [pending_line(p, data.now) for p in data.pending],
            more=max(0, data.pending_total - len(data.pending)),
            empty="Nothing is waiting for approval.",
        ),
        HomeSection(
            "Recent actions",
            [action_line(a) for a in data.recent],
            empty="No actions recorded yet.",
        ),
        sweep_section(data.sweep, data.sweep_running_since, data.now),
    ]


# -- connector health ------------------------------------------------------------------------
@dataclass(frozen=True)
class AreaHealth:
    """One connector (or the configuration) in the health check.

    ``status`` is its worst finding's; ``problems`` its failures, then its warnings.
    """

    name: str
    label: str
    status: Status
    problems: Sequence[Finding] = ()


@dataclass(frozen=True)
class Health:
    """The connectors' health, or ``error``: why the check gave no report."""

    areas: Sequence[AreaHealth]
    seconds: float
    error: str | None = None

    @property
    def status(self) -> Status:
        """The worst status of all areas (``fail`` when the check gave no report)."""
        if self.error is not None:
            return Status.FAIL
        return max((a.status for a in self.areas), key=lambda s: s.rank, default=Status.SKIP)


def health_of(report: DoctorReport) -> Health:
    """The doctor's connector report, per area; the configuration only when it has problems."""
    areas: list[AreaHealth] = []
    for name in report.areas():
        status = report.area_status(name)
        if name == "config" and status in (Status.OK, Status.SKIP):
            continue
        problems = sorted(
            (f for f in report.in_area(name) if f.status in (Status.FAIL, Status.WARN)),
            key=lambda f: -f.status.rank,
        )
        areas.append(AreaHealth(name, report.labels.get(name, name), status, tuple(problems)))
    return Health(tuple(areas), report.duration)


_STATUS_WORDS = {
    Status.OK: "ok",
    Status.WARN: "works, with warnings",
    Status.FAIL: "*FAILING*",
    Status.SKIP: "not checked",
}


def _problem_line(finding: Finding) -> str:
    fix = f" Fix: {_escape(finding.fix)}" if finding.fix else ""
    return f"      {_escape(finding.check)}: {_escape(finding.summary)}{fix}"[:400]


def status_reply(health: Health) -> Reply:
    """``/helpdesk status`` for an IT admin: each connector's health and what to fix."""
    doctor = "Every check, with its fix: `helpdesk doctor` on the bot's host."
    if health.error is not None:
        return Reply(f"*Connector health*: {health.error}\n{doctor}")
    failing = sum(a.status is Status.FAIL for a in health.areas)
    warned = sum(a.status is Status.WARN for a in health.areas)
    verdict = (
        "every connector answers"
        if not failing and not warned
        else f"{failing} failing, {warned} with warnings"
    )
    lines = [f"*Connector health*: {verdict} (checked in {health.seconds:.1f}s)."]
    used = len(lines[0]) + len(doctor)
    for area in health.areas:
        label = f" ({_escape(area.label)})" if area.label != area.name else ""
        block = [f"• *{_escape(area.name)}*{label}: {_STATUS_WORDS[area.status]}"]
        block += [_problem_line(f) for f in area.problems[:_PROBLEMS_SHOWN]]
        if len(area.problems) > _PROBLEMS_SHOWN:
            block.append(f"      and {len(area.problems) - _PROBLEMS_SHOWN} more")
        cost = sum(len(line) + 1 for line in block)
        if used + cost > _STATUS_BUDGET:
            lines.append("• and more: see the doctor.")
            break
        lines += block
        used += cost
    lines.append(doctor)
    return Reply("\n".join(lines))


# -- the service -----------------------------------------------------------------------------
class AdminView:
    """The IT admins' App Home sections and ``/helpdesk status``; read-only."""

    def __init__(
        self,
        cfg: HelpdeskConfig,
        store: Store,
        providers: Providers,
        admins: ItAdmins,
        *,
        clock: Now = utc_now,
        health_timeout: float = HEALTH_TIMEOUT,
        area_timeout: float = AREA_TIMEOUT,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.providers = providers
        self.admins = admins
        self.clock = clock
        self.health_timeout = health_timeout
        self.area_timeout = area_timeout
        self.nudges = NudgeStore(store.engine)
        self.auditor = Auditor(store)

    async def home_sections(self, actor: Actor) -> list[HomeSection]:
        """The admin sections of ``actor``'s App Home; none unless they are an IT admin."""
        if not await self.admins.includes(actor.slack_user_id):
            return []
        return admin_sections(await self.read())

    async def read(self) -> AdminData:
        """Read what the admins' sections show: pending requests, audit records, runs."""
        (pending, total), recent, runs = await asyncio.gather(
            pending_approvals(self.store, PENDING_SHOWN),
            recent_actions(self.store, RECENT_SHOWN),
            self.nudges.recent_runs(limit=10),
        )
        sweep, running = last_sweep(runs)
        return AdminData(self.clock(), pending, total, recent, sweep, running)

    async def status(self, actor: Actor) -> list[Reply]:
        """``/helpdesk status``: connector health for an IT admin, a polite refusal for others."""
        if not await self.admins.includes(actor.slack_user_id):
            await self.auditor.record(actor, STATUS_ACTION, "refused",
                                      detail={"reason": "not_it_admin"})
            org = self.cfg.organisation
            return [
                Reply(
                    "Sorry, connector status is only for the IT team. If something isn't "
                    f"working for you, please ask {org.it_contact} in {org.it_channel}."
                )
            ]
        health = await self.health()
        await self.auditor.record(actor, STATUS_ACTION, "success",
                                  detail={"health": health.status.value})
        return [status_reply(health)]

    async def health(self) -> Health:
        """The connectors' health from the running bot's connectors, within ``health_timeout``.

        Each connector's checks have ``area_timeout`` seconds (a hanging one shows as
        failing); the whole check is cut at ``health_timeout`` in any case.
        """
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.health_timeout):
                report = await connector_health(
                    self.cfg, self.providers, area_timeout=self.area_timeout
                )
        except TimeoutError:
            return Health(
                (), time.monotonic() - started,
                f"the checks did not finish within {self.health_timeout:g}s; "
                "a directory may be hanging.",
            )
        except Exception as exc:  # the check's own failure: say so rather than go silent
            log.warning("connector_health_failed", error=type(exc).__name__)
            return Health(
                (), time.monotonic() - started,
                f"the checks could not run ({type(exc).__name__}).",
            )
        return health_of(report)


__all__ = [
    "AdminData",
    "AdminView",
    "AreaHealth",
    "Health",
    "ItAdmins",
    "PendingApproval",
    "RecentAction",
    "SweepSummary",
    "action_line",
    "admin_sections",
    "age",
    "health_of",
    "last_sweep",
    "pending_approvals",
    "pending_line",
    "recent_actions",
    "status_reply",
    "sweep_section",
]
