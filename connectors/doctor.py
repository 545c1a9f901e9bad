"""What a connector's self-check reports, and what the deployment asks of the connector.

``helpdesk doctor`` hands each connector kind's ``diagnose(connector, settings,
needs)`` (``connectors/okta/doctor.py``, ``connectors/ad/doctor.py``,
``connectors/onelogin/doctor.py``) a :class:`Needs`: the capabilities routed to it,
the catalogue groups it must change, the protected groups. The function answers
with :class:`Finding` rows: can it connect, which roles or scopes the credential
holds, what is missing for those needs and what is more than they require. A kind
with no privilege model answers with :func:`probe_only`.

Findings are built from ids, names, role and scope names and vendor error codes,
never from credentials: nothing here may hold a secret.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config.logging import scrub_text
from connectors.base import Capability, ContainStep, Directory, ResetDelivery
from connectors.errors import ConnectorError, PermissionDenied, Unavailable, UserNotFound

# An address no directory can hold: looking it up proves a credential works, harmlessly.
PROBE_EMAIL = "helpdesk-doctor-probe@invalid.invalid"


class Status(enum.StrEnum):
    """How one check ended: ``fail`` is a problem, ``warn`` works but should change."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"

    @property
    def rank(self) -> int:
        """Severity, for "the worst of": skip < ok < warn < fail."""
        return _RANK[self]


_RANK = {Status.SKIP: 0, Status.OK: 1, Status.WARN: 2, Status.FAIL: 3}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status of ``statuses`` (``skip`` for none)."""
    return max(statuses, key=lambda s: s.rank, default=Status.SKIP)


@dataclass(frozen=True, slots=True)
class Finding:
    """One row of the doctor's report.

    ``area`` is what was checked (``config``, ``slack``, a connector's name),
    ``check`` the aspect (``connect``, ``admin roles``, ``group figma-editors``),
    ``summary`` one line for people, ``fix`` what to change when the status is not
    ``ok``, ``details`` extra lines, and ``data`` the same facts for machines
    (role and scope names, counts), JSON-ready.
    """

    area: str
    check: str
    status: Status
    summary: str
    fix: str | None = None
    details: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain JSON types, every string passed through the redactor."""
        return {
            "area": self.area,
            "check": self.check,
            "status": self.status.value,
            "summary": scrub_text(self.summary),
            "fix": scrub_text(self.fix) if self.fix else None,
            "details": [scrub_text(d) for d in self.details],
            "data": _scrubbed(dict(self.data)),
        }


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {str(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_scrubbed(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return value


@dataclass(frozen=True, slots=True)
class Needs:
    """What this deployment asks of one connector.

    ``capabilities`` are those routed to it; ``groups`` the catalogue groups whose
    membership it must change; ``protected_groups`` the accounts it must never
    touch (the helpdesk's list; a connector adds its own); ``refuse_admin_roles``
    whether admin-role holders are refused, which needs reading admin roles;
    ``sample_size`` bounds how many accounts a check may read.
    """

    capabilities: Capability = Capability.NONE
    pushes: bool = False
    """Whether it sends the pushes that verify employees (its own changes', or as verifier)."""
    containment: frozenset[ContainStep] = frozenset()
    """What a "This wasn't me" report asks it to do to an account (``notices.on_report``)."""
    groups: tuple[str, ...] = ()
    protected_groups: tuple[str, ...] = ()
    refuse_admin_roles: bool = True
    reset_delivery: ResetDelivery = ResetDelivery.LINK
    sample_size: int = 200

    @property
    def touches_accounts(self) -> bool:
        """Whether the bot changes accounts here (and so checks them for privilege first)."""
        touching = Capability.PASSWORD_RESET | Capability.UNLOCK | Capability.MFA_RESET
        return bool(self.capabilities & touching)

    def serves(self, capability: Capability) -> bool:
        """Whether ``capability`` is routed to this connector."""
        return capability in self.capabilities


class Findings:
    """Collects the findings of one area, in the order they are made."""

    def __init__(self, area: str) -> None:
        self.area = area
        self.rows: list[Finding] = []

    def add(
        self,
        check: str,
        status: Status,
        summary: str,
        *,
        fix: str | None = None,
        details: Iterable[str] = (),
        **data: Any,
    ) -> Finding:
        """Record one finding and return it."""
        row = Finding(self.area, check, status, summary, fix, tuple(details), data)
        self.rows.append(row)
        return row

    def ok(self, check: str, summary: str, **kw: Any) -> Finding:
        """Record a check that passed."""
        return self.add(check, Status.OK, summary, **kw)

    def warn(self, check: str, summary: str, **kw: Any) -> Finding:
        """Record something that works but should change (least privilege, hygiene)."""
        return self.add(check, Status.WARN, summary, **kw)

    def fail(self, check: str, summary: str, **kw: Any) -> Finding:
        """Record a problem: a capability will not work, or the credential is too strong."""
        return self.add(check, Status.FAIL, summary, **kw)

    def skip(self, check: str, summary: str, **kw: Any) -> Finding:
        """Record a check that could not or need not run."""
        return self.add(check, Status.SKIP, summary, **kw)

    def error(self, check: str, exc: ConnectorError, *, fix: str | None = None) -> Finding:
        """Record a connector error as a failed check, with a generic fix by its kind."""
        if fix is None:
            if isinstance(exc, Unavailable):
                fix = "check the URL, the network path and TLS trust (ca_file), then retry"
            elif isinstance(exc, PermissionDenied):
                fix = "check the credential and the rights granted to it"
        return self.fail(check, exc.message, fix=fix, error=type(exc).__name__, code=exc.code)


def join(names: Iterable[str]) -> str:
    """``a, b, c`` (or ``none``)."""
    listed = list(names)
    return ", ".join(listed) if listed else "none"


async def probe_only(connector: Directory, kind: str) -> list[Finding]:
    """The check of a kind with no privilege model: is the directory reachable, and no more.

    Looks up :data:`PROBE_EMAIL`; "not found" proves a working credential. Other
    connector errors propagate (the doctor reports them as a failed ``connect``).
    """
    out = Findings(connector.name)
    try:
        await connector.find_user_by_email(PROBE_EMAIL)
        out.fail("connect", "a user matched an address that cannot exist")
    except UserNotFound:
        out.ok("connect", "reachable and authenticated")
        out.skip("least privilege", f"no privilege model for {kind} connectors")
    return out.rows
