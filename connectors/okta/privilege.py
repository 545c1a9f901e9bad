"""What Okta admin roles and OAuth scopes grant, the least that suffices, and what is held.

What each standard role allows follows Okta's comparison of admin roles
(https://help.okta.com/en-us/content/topics/security/administrators-admin-comparison.htm),
the same model the local sandbox enforces (``sandboxes/okta/roles.py``). The
least roles for the helpdesk are Help Desk Admin (resets, unlocks, MFA), Group
Membership Admin targeted at the catalogue groups (membership), and Report Admin
(password policies and the admin-role lookups of the protected-account check).
Super and Org Admin are always reported as over-privileged.

Everything here is pure: :mod:`connectors.okta.doctor` reads the roles, scopes
and targets from Okta and hands them to these judgements.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from connectors.base import Capability
from connectors.doctor import Findings, Needs, join

COMPARISON_URL = (
    "https://help.okta.com/en-us/content/topics/security/administrators-admin-comparison.htm"
)


class Need(enum.Enum):
    """Something the helpdesk asks of Okta, as admin roles and scopes grant it."""

    USERS_READ = "find employees by email"
    LIFECYCLE = "reset passwords, unlock accounts and reset MFA"
    MEMBERSHIP = "change the membership of catalogue groups"
    POLICIES = "read password policies (expiry)"
    ROLES = "read admin roles (the protected-account check)"


_READ_ALL = frozenset({Need.USERS_READ, Need.POLICIES, Need.ROLES})
_EVERYTHING = frozenset(Need)

# What each standard role grants of the helpdesk's needs (the comparison page above).
ROLE_GRANTS: Mapping[str, frozenset[Need]] = {
    "SUPER_ADMIN": _EVERYTHING,
    "ORG_ADMIN": _EVERYTHING,
    "USER_ADMIN": frozenset({Need.USERS_READ, Need.LIFECYCLE, Need.MEMBERSHIP}),
    "HELP_DESK_ADMIN": frozenset({Need.USERS_READ, Need.LIFECYCLE}),
    "GROUP_MEMBERSHIP_ADMIN": frozenset({Need.USERS_READ, Need.MEMBERSHIP}),
    "READ_ONLY_ADMIN": _READ_ALL,
    "REPORT_ADMIN": _READ_ALL,
    "APP_ADMIN": frozenset({Need.USERS_READ}),
    "MOBILE_ADMIN": frozenset({Need.USERS_READ}),
    "API_ACCESS_MANAGEMENT_ADMIN": frozenset(),
}
# The least role for each need, in the order the least set is built.
LEAST_ROLE: Mapping[Need, str] = {
    Need.LIFECYCLE: "HELP_DESK_ADMIN",
    Need.MEMBERSHIP: "GROUP_MEMBERSHIP_ADMIN",
    Need.POLICIES: "REPORT_ADMIN",
    Need.ROLES: "REPORT_ADMIN",
    Need.USERS_READ: "REPORT_ADMIN",
}
TOP_ROLES = frozenset({"SUPER_ADMIN", "ORG_ADMIN"})
# Roles Okta lets an admin limit to target groups (listGroupTargetsForRole).
TARGETABLE_ROLES = frozenset({"USER_ADMIN", "GROUP_MEMBERSHIP_ADMIN", "HELP_DESK_ADMIN"})

# OAuth scopes by need; a ``.manage`` scope includes its ``.read`` counterpart.
SCOPE_FOR: Mapping[Need, str] = {
    Need.USERS_READ: "okta.users.read",
    Need.LIFECYCLE: "okta.users.manage",
    Need.MEMBERSHIP: "okta.groups.manage",
    Need.POLICIES: "okta.policies.read",
    Need.ROLES: "okta.roles.read",
}
_GROUPS_READ = "okta.groups.read"


def needs_of(needs: Needs) -> frozenset[Need]:
    """What the routed capabilities ask of Okta.

    Every reset, unlock or MFA reset is preceded by the protected-account check,
    which lists the employee's admin roles, so those capabilities need ``ROLES`` too.
    """
    wanted: set[Need] = set()
    if needs.capabilities:
        wanted.add(Need.USERS_READ)
    if needs.serves(Capability.GROUPS):
        wanted.add(Need.MEMBERSHIP)
    if needs.touches_accounts:
        wanted |= {Need.LIFECYCLE, Need.ROLES}
    if needs.serves(Capability.PASSWORD_EXPIRY):
        wanted.add(Need.POLICIES)
    return frozenset(wanted)


def least_roles(wanted: Collection[Need]) -> list[str]:
    """The smallest set of standard roles that grants ``wanted``, in a stable order."""
    chosen: list[str] = []
    for need, role in LEAST_ROLE.items():
        if need in wanted and not any(need in ROLE_GRANTS[r] for r in chosen):
            chosen.append(role)
    return chosen


def least_scopes(wanted: Collection[Need]) -> list[str]:
    """The smallest set of OAuth scopes that grants ``wanted``.

    Group lookups (catalogue groups, the groups password policies target) need
    ``okta.groups.read``, which ``okta.groups.manage`` includes.
    """
    scopes: list[str] = []
    for need in (Need.LIFECYCLE, Need.USERS_READ, Need.MEMBERSHIP, Need.POLICIES, Need.ROLES):
        if need not in wanted:
            continue
        scope = SCOPE_FOR[need]
        if need is Need.USERS_READ and "okta.users.manage" in scopes:
            continue
        scopes.append(scope)
    if Need.POLICIES in wanted and "okta.groups.manage" not in scopes:
        scopes.append(_GROUPS_READ)
    return scopes


def _scope_covers(held: Collection[str], scope: str) -> bool:
    if scope in held:
        return True
    return scope.endswith(".read") and scope.removesuffix(".read") + ".manage" in held


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """One admin role assignment: its type, id, and how it reaches the principal."""

    role: str
    assignment_id: str
    assignment_type: str  # USER, GROUP or CLIENT
    assignee_id: str
    label: str = ""
    status: str = "ACTIVE"

    @property
    def source(self) -> str:
        """``direct`` or ``via group 00g...`` (how the admin holds it)."""
        return f"via group {self.assignee_id}" if self.assignment_type == "GROUP" else "direct"


@dataclass(frozen=True, slots=True)
class RoleAssessment:
    """What the held roles mean for the needs: missing, too strong, unneeded, and the least set."""

    held: tuple[str, ...]
    missing: frozenset[Need]
    top: tuple[str, ...]
    unneeded: tuple[str, ...]
    broader: tuple[str, ...]
    custom: tuple[str, ...]
    least: tuple[str, ...]


def assess_roles(held: Iterable[str], wanted: Collection[Need]) -> RoleAssessment:
    """Compare the role types held with what ``wanted`` requires.

    ``top`` are Super/Org Admin; ``broader`` are other roles outside the least set
    that grant something needed (a Group Admin where Group Membership Admin
    suffices); ``unneeded`` grant nothing the other roles don't already cover.
    Custom roles (type ``CUSTOM``) are listed apart: their permissions are not read.
    """
    roles = tuple(dict.fromkeys(held))
    standard = [r for r in roles if r in ROLE_GRANTS]
    custom = tuple(r for r in roles if r not in ROLE_GRANTS)
    granted: set[Need] = set()
    for role in standard:
        granted |= ROLE_GRANTS[role]
    least = tuple(least_roles(wanted))
    missing = frozenset(n for n in wanted if n not in granted)
    top = tuple(r for r in standard if r in TOP_ROLES)
    unneeded: list[str] = []
    broader: list[str] = []
    for role in standard:
        if role in TOP_ROLES or role in least:
            continue
        if not ROLE_GRANTS[role] & set(wanted):
            unneeded.append(role)
            continue
        others: set[Need] = set()
        for other in standard:
            if other != role:
                others |= ROLE_GRANTS[other]
        if set(wanted) & ROLE_GRANTS[role] <= others:
            unneeded.append(role)
        else:
            broader.append(role)
    return RoleAssessment(roles, missing, top, tuple(unneeded), tuple(broader), custom, least)


def role_grants(items: Any, principal_id: str, kind: str) -> list[RoleGrant]:
    """Read a Roles API list (``StandardRole``/``CustomRole`` objects)."""
    grants: list[RoleGrant] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        assignment_type = str(item.get("assignmentType") or kind)
        assignee = principal_id
        href = ((item.get("_links") or {}).get("assignee") or {}).get("href")
        if assignment_type == "GROUP" and href:
            assignee = urlsplit(str(href)).path.rstrip("/").rsplit("/", 1)[-1]
        grants.append(
            RoleGrant(
                role=str(item.get("type") or "CUSTOM"),
                assignment_id=str(item.get("id") or ""),
                assignment_type=assignment_type,
                assignee_id=assignee,
                label=str(item.get("label") or ""),
                status=str(item.get("status") or "ACTIVE"),
            )
        )
    return [g for g in grants if g.status == "ACTIVE"]


@dataclass(slots=True)
class Principal:
    """Who the credential acts as: an API token's owner or an OAuth service app."""

    kind: str  # "token" or "service app"
    id: str
    label: str
    grants: list[RoleGrant] | None = None


def check_scopes(scopes: Sequence[str], wanted: frozenset[Need], out: Findings) -> None:
    """Judge a service app's ``scopes`` (all granted, once it has a token) against ``wanted``."""
    # The token request named every configured scope and Okta refuses a token when
    # any of them is not granted (invalid_scope), so a token means all were granted.
    held = tuple(scopes)
    least = least_scopes(wanted)
    missing = [s for s in least if not _scope_covers(held, s)]
    # A held scope outside the least set is more than needed, a .manage where .read suffices too.
    extra = [s for s in held if s not in least]
    data = {"scopes": list(held), "least_scopes": least, "missing": missing, "extra": extra}
    if missing:
        out.fail(
            "scopes",
            f"the token lacks {join(missing)}: calls needing them are refused",
            fix=f"grant and request {join(missing)} (scopes: {join(least)})",
            **data,
        )
    elif extra:
        out.warn(
            "scopes",
            f"more than needed: {join(extra)}",
            fix=f"request only {join(least)}",
            **data,
        )
    else:
        out.ok("scopes", f"{join(held)} (the least that suffices)", **data)


def report_roles(
    principal: Principal, needs: Needs, wanted: frozenset[Need], out: Findings
) -> None:
    """Judge the principal's admin roles: what is missing for ``wanted``, what is too much."""
    grants = principal.grants or []
    assessment = assess_roles((g.role for g in grants), wanted)
    held_text = join(
        sorted({f"{g.role} ({g.source})" if g.source != "direct" else g.role for g in grants})
    )
    least_text = _least_text(assessment.least, needs)
    data = {
        "roles": [
            {"type": g.role, "assignment": g.assignment_type, "assignee": g.assignee_id}
            for g in grants
        ],
        "least_roles": list(assessment.least),
        "missing": [n.name for n in sorted(assessment.missing, key=lambda n: n.name)],
        "over_privileged": list(assessment.top),
        "not_needed": list(assessment.unneeded),
        "broader_than_needed": list(assessment.broader),
        "custom": list(assessment.custom),
    }
    if not grants:
        out.fail(
            "admin roles",
            f"the {principal.kind} {principal.label} holds no admin role",
            fix=f"assign {least_text}",
            **data,
        )
        return
    if assessment.missing:
        lacking = "; ".join(n.value for n in sorted(assessment.missing, key=lambda n: n.name))
        out.fail(
            "admin roles",
            f"{held_text}: nothing grants: {lacking}",
            fix=f"assign {least_text}",
            **data,
        )
    else:
        out.ok("admin roles", f"{held_text}", **data)
    if assessment.top:
        out.fail(
            "least privilege",
            f"over-privileged: {join(assessment.top)} can change anything in the org, "
            "admins included",
            fix=f"replace with {least_text} ({COMPARISON_URL})",
            least_roles=list(assessment.least),
            over_privileged=list(assessment.top),
        )
    elif assessment.broader or assessment.unneeded or assessment.custom:
        lines = [f"{r}: more than needed" for r in assessment.broader]
        lines += [f"{r}: not needed" for r in assessment.unneeded]
        lines += [f"{r}: custom role, its permissions were not checked" for r in assessment.custom]
        out.warn(
            "least privilege",
            "; ".join(lines),
            fix=f"the least that suffices: {least_text}",
            least_roles=list(assessment.least),
        )
    else:
        out.ok("least privilege", "no role beyond the least that suffices")


def _least_text(least: Sequence[str], needs: Needs) -> str:
    parts = []
    for role in least:
        if role == "GROUP_MEMBERSHIP_ADMIN" and needs.groups:
            parts.append(f"{role} targeted at {join(needs.groups)}")
        else:
            parts.append(role)
    return join(parts) if parts else "no admin role"


def target_findings(role: str, targets: list[str] | None, needs: Needs, out: Findings) -> None:
    """Judge one targetable role's group targets against the catalogue (``None``: unknown).

    A membership role must reach every catalogue group and should reach no other;
    a Help Desk role limited to groups leaves everyone else without self-service.
    """
    check = f"targets {role}"
    membership = Need.MEMBERSHIP in ROLE_GRANTS[role] and needs.serves(Capability.GROUPS)
    lifecycle = Need.LIFECYCLE in ROLE_GRANTS[role] and needs.touches_accounts
    if not (membership or lifecycle):
        return  # a role the deployment does not use is reported under least privilege
    if targets is None:
        out.skip(
            check,
            "the role's group targets could not be read (this org does not serve the "
            "Role Targets API); taken as unrestricted",
        )
        return
    wanted = {g.casefold(): g for g in needs.groups}
    held = {t.casefold(): t for t in targets}
    if not targets:
        if membership:
            out.warn(
                check,
                f"{role} applies to every group: the bot could change the membership of "
                "any group (admin groups excepted)",
                fix=f"target it at the catalogue groups only: {join(needs.groups)}",
                targets=[],
            )
        else:
            out.ok(check, f"{role} applies to every user (not limited to groups)", targets=[])
        return
    data = {"targets": sorted(targets)}
    if membership:
        lacking = [g for k, g in wanted.items() if k not in held]
        extra = [t for k, t in held.items() if k not in wanted]
        if lacking:
            out.fail(
                check,
                f"{role} does not reach catalogue group(s) {join(lacking)}",
                fix=f"add {join(lacking)} to the role's targets",
                missing=lacking,
                **data,
            )
        elif extra:
            out.warn(
                check,
                f"{role} also reaches {join(extra)}, which nobody can request",
                fix=f"remove {join(extra)} from the role's targets",
                extra=extra,
                **data,
            )
        else:
            out.ok(check, f"{role} is targeted at exactly the catalogue groups", **data)
    if lifecycle:
        out.warn(
            check,
            f"{role} is limited to members of {join(sorted(targets))}: other employees "
            "cannot reset, unlock or reset MFA through the bot",
            fix="remove the targets if every employee should be served",
            **data,
        )
