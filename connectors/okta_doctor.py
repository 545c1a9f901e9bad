"""The Okta connector's least-privilege check: who the credential is, what it may do, what it lacks.

An API token acts with its owner's admin roles (``GET /api/v1/users/me``, then
``/api/v1/users/{id}/roles``); an OAuth service app is limited twice, by its
granted scopes and by the admin roles assigned to the app
(``/oauth2/v1/clients/{clientId}/roles``;
https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/).

What each standard role allows follows Okta's comparison of admin roles
(https://help.okta.com/en-us/content/topics/security/administrators-admin-comparison.htm),
the same model the local sandbox enforces (``sandboxes/okta/roles.py``). The
least roles for the helpdesk are Help Desk Admin (resets, unlocks, MFA), Group
Membership Admin targeted at the catalogue groups (membership), and Report Admin
(password policies and the admin-role lookups of the protected-account check).
Super and Org Admin are always reported as over-privileged.

Group Membership, Group (``USER_ADMIN``) and Help Desk Admin can be limited to
target groups; the Roles API lists them at ``.../roles/{roleAssignmentId}/targets/groups``
and answers ``[]`` for a role that is not limited
(https://developer.okta.com/docs/api/openapi/okta-management/management/tag/RoleBTargetAdmin/).
An org that does not serve that API (the local sandbox) leaves targets unknown.

Every request goes through the connector's own transport (retries, pacing, error
mapping) and only reads; nothing is changed.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from connectors.base import Capability
from connectors.doctor import Finding, Findings, Needs, join
from connectors.errors import ConnectorError, PermissionDenied, Unavailable, UserNotFound
from connectors.okta import OktaConnector, quote_search_value
from connectors.okta_errors import Subject

PROBE_EMAIL = "helpdesk-doctor-probe@invalid.invalid"
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


def _role_grants(items: Any, principal_id: str, kind: str) -> list[RoleGrant]:
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
class _Principal:
    """Who the credential acts as: an API token's owner or an OAuth service app."""

    kind: str  # "token" or "service app"
    id: str
    label: str
    grants: list[RoleGrant] | None = None


_NOT_SERVED_CODES = frozenset({"E0000007", "E0000008", "E0000022"})


def _not_served(exc: ConnectorError) -> bool:
    """An answer meaning "this org has no such API (or object)", rather than a refusal."""
    if isinstance(exc, PermissionDenied | Unavailable):
        return False
    return exc.code in _NOT_SERVED_CODES or isinstance(exc, UserNotFound)


async def diagnose(connector: OktaConnector, needs: Needs) -> list[Finding]:
    """Check the connector's credential against ``needs``; read-only.

    Returns the findings in report order: connect, scopes (service apps), admin
    roles, role targets, catalogue groups, protected groups, password policies.
    """
    out = Findings(connector.name)
    wanted = needs_of(needs)
    principal = await _connect(connector, out)
    if principal is None:
        return out.rows
    if principal.kind == "service app":
        _check_scopes(connector, wanted, out)
    await _read_roles(connector, principal, needs, out)
    if principal.grants is not None:
        _report_roles(principal, needs, wanted, out)
        await _report_targets(connector, principal, needs, out)
    if needs.serves(Capability.GROUPS):
        await _check_catalogue(connector, needs, out)
    if needs.touches_accounts:
        await _check_protected_groups(connector, needs, out)
    if needs.serves(Capability.PASSWORD_EXPIRY):
        await _check_policies(connector, out)
    return out.rows


async def _connect(connector: OktaConnector, out: Findings) -> _Principal | None:
    """Authenticate (and, with an API token, learn its owner); ``None`` when that failed."""
    settings = connector.settings
    try:
        if settings.api_token is not None:
            data, _ = await connector._raw("GET", connector._url("/api/v1/users/me"), Subject.USER)
            me: Mapping[str, Any] = data if isinstance(data, dict) else {}
            profile = me.get("profile") or {}
            owner_id = str(me.get("id") or "")
            login = str(profile.get("login") or owner_id)
            status = str(me.get("status") or "")
            out.ok(
                "connect",
                f"authenticated at {settings.org_url} with an API token owned by {login}",
                principal=login,
                principal_id=owner_id,
                auth="api_token",
                owner_status=status,
            )
            return _Principal("token", owner_id, login)
        # A service app has no "me": an impossible lookup makes the SDK fetch a token.
        lookup: ConnectorError | None = None
        try:
            await connector.find_user_by_email(PROBE_EMAIL)
        except UserNotFound:
            pass
        except PermissionDenied as exc:
            if exc.code != "E0000006":
                raise
            lookup = exc  # a token was issued; the API call itself was refused
        client_id = settings.client_id or ""
        out.ok(
            "connect",
            f"authenticated at {settings.org_url} as OAuth service app {client_id}",
            principal=client_id,
            auth="oauth_service_app",
            scopes=list(settings.scopes),
        )
        if lookup is not None:
            out.fail(
                "find users",
                f"looking up an employee by email was refused ({lookup.code})",
                fix="grant okta.users.read (or okta.users.manage) and an admin role to the app",
                code=lookup.code,
            )
        return _Principal("service app", client_id, client_id)
    except ConnectorError as exc:
        _connect_failed(connector, exc, out)
        return None


def _connect_failed(connector: OktaConnector, exc: ConnectorError, out: Findings) -> None:
    cause = exc.__cause__
    summary = getattr(cause, "summary", "") or ""
    if exc.code == "invalid_scope":
        out.fail(
            "connect",
            f"Okta refused the token request: {summary or exc.message}",
            fix="grant the service app every scope in 'scopes' (Okta Admin Console > "
            "Applications > the app > Okta API Scopes), or request fewer",
            code=exc.code,
            requested=list(connector.settings.scopes),
        )
        return
    if exc.code == "invalid_client":
        out.fail(
            "connect",
            exc.message,
            fix="check client_id, that the app's public key matches private_key (and key_id)",
            code=exc.code,
        )
        return
    if exc.code == "E0000011":
        out.fail(
            "connect",
            "Okta refused the API token (invalid, revoked, or its owner is deactivated)",
            fix="create a new API token as the service user and update the secret",
            code=exc.code,
        )
        return
    out.error("connect", exc)


def _check_scopes(connector: OktaConnector, wanted: frozenset[Need], out: Findings) -> None:
    # The token request named every configured scope and Okta refuses a token when
    # any of them is not granted (invalid_scope), so a token means all were granted.
    held = tuple(connector.settings.scopes)
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


async def _read_roles(
    connector: OktaConnector, principal: _Principal, needs: Needs, out: Findings
) -> None:
    if principal.kind == "token":
        path = f"/api/v1/users/{quote(principal.id, safe='')}/roles"
    else:
        path = f"/oauth2/v1/clients/{quote(principal.id, safe='')}/roles"
    try:
        data, _ = await connector._raw("GET", connector._url(path), Subject.OTHER)
    except ConnectorError as exc:
        if _not_served(exc):
            out.skip(
                "admin roles",
                f"this org did not answer {path} ({exc.code or exc.message})",
                code=exc.code,
            )
        elif isinstance(exc, PermissionDenied) and needs.touches_accounts:
            out.fail(
                "admin roles",
                "the credential cannot read admin roles, so the protected-account check "
                "fails and every reset, unlock and MFA reset is refused",
                fix="assign REPORT_ADMIN (with a service app, also grant okta.roles.read)",
                code=exc.code,
            )
        elif isinstance(exc, PermissionDenied):
            out.warn(
                "admin roles",
                "the credential cannot read admin roles; its own could not be checked",
                fix="assign REPORT_ADMIN to let the doctor verify least privilege",
                code=exc.code,
            )
        else:
            out.error("admin roles", exc)
        return
    kind = "USER" if principal.kind == "token" else "CLIENT"
    principal.grants = _role_grants(data, principal.id, kind)


def _report_roles(
    principal: _Principal, needs: Needs, wanted: frozenset[Need], out: Findings
) -> None:
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


async def _group_targets(
    connector: OktaConnector, principal: _Principal, grant: RoleGrant
) -> list[str] | None:
    """Names of the groups a role is limited to: ``[]`` for none (org-wide), ``None`` unknown."""
    rid = quote(grant.assignment_id, safe="")
    if grant.assignment_type == "GROUP":
        path = f"/api/v1/groups/{quote(grant.assignee_id, safe='')}/roles/{rid}/targets/groups"
    elif grant.assignment_type == "CLIENT":
        path = f"/oauth2/v1/clients/{quote(principal.id, safe='')}/roles/{rid}/targets/groups"
    else:
        path = f"/api/v1/users/{quote(principal.id, safe='')}/roles/{rid}/targets/groups"
    names: list[str] = []
    try:
        async for page in connector._pages(path, {"limit": "200"}, Subject.OTHER):
            for item in page:
                profile = item.get("profile") or {}
                names.append(str(profile.get("name") or item.get("id") or ""))
    except ConnectorError as exc:
        if _not_served(exc) or isinstance(exc, PermissionDenied):
            return None
        raise
    return names


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


async def _report_targets(
    connector: OktaConnector, principal: _Principal, needs: Needs, out: Findings
) -> None:
    by_role: dict[str, list[str] | None] = {}
    for grant in principal.grants or []:
        if grant.role not in TARGETABLE_ROLES:
            continue
        targets = await _group_targets(connector, principal, grant)
        if grant.role not in by_role:
            by_role[grant.role] = targets
            continue
        # The same role assigned twice (directly and through a group, say): the union.
        known = by_role[grant.role]
        if known is None or targets is None:
            by_role[grant.role] = None
        elif not known or not targets:
            by_role[grant.role] = []
        else:
            by_role[grant.role] = sorted({*known, *targets})
    for role, targets in by_role.items():
        target_findings(role, targets, needs, out)


async def _find_groups(connector: OktaConnector, name: str) -> list[dict[str, Any]]:
    params = {"search": f"profile.name eq {quote_search_value(name)}", "limit": "200"}
    found: list[dict[str, Any]] = []
    async for page in connector._pages("/api/v1/groups", params, Subject.GROUP):
        found.extend(page)
    exact = [g for g in found if (g.get("profile") or {}).get("name") == name]
    return exact or [
        g
        for g in found
        if str((g.get("profile") or {}).get("name") or "").casefold() == name.casefold()
    ]


async def _check_catalogue(connector: OktaConnector, needs: Needs, out: Findings) -> None:
    if not needs.groups:
        out.skip("catalogue groups", "no catalogue group is served by this connector")
        return
    for name in needs.groups:
        check = f"group {name}"
        try:
            found = await _find_groups(connector, name)
        except ConnectorError as exc:
            out.error(check, exc)
            continue
        if len(found) != 1:
            out.fail(
                check,
                f"no single Okta group named {name!r} ({len(found)} found)",
                fix="fix provider_group in the catalogue, or create the group",
            )
            continue
        group = found[0]
        gid, kind = str(group.get("id") or ""), str(group.get("type") or "")
        if kind != "OKTA_GROUP":
            # Only Okta-mastered groups change through the API; app groups are imported.
            out.fail(
                check,
                f"{name} is a {kind} group: its membership is mastered elsewhere",
                fix="request an OKTA_GROUP instead (or change membership at its source)",
                group_id=gid,
                type=kind,
            )
            continue
        admin_roles = await _group_admin_roles(connector, gid)
        if admin_roles:
            out.fail(
                check,
                f"{name} grants admin role(s) {join(admin_roles)}: requesting it would "
                "make an employee an admin",
                fix="remove it from the catalogue",
                group_id=gid,
                admin_roles=admin_roles,
            )
            continue
        out.ok(check, f"found ({gid})", group_id=gid)


async def _group_admin_roles(connector: OktaConnector, group_id: str) -> list[str]:
    """Admin roles assigned to a group; empty when none or when the org won't say."""
    path = f"/api/v1/groups/{quote(group_id, safe='')}/roles"
    try:
        data, _ = await connector._raw("GET", connector._url(path), Subject.GROUP)
    except ConnectorError as exc:
        if _not_served(exc) or isinstance(exc, PermissionDenied):
            return []
        raise
    return sorted({g.role for g in _role_grants(data, group_id, "GROUP")})


async def _check_protected_groups(connector: OktaConnector, needs: Needs, out: Findings) -> None:
    names = list(dict.fromkeys([*needs.protected_groups, *connector.settings.protected_groups]))
    if not names:
        out.warn(
            "protected groups",
            "no protected group is configured: only admin-role holders are refused",
            fix="list the groups of privileged people under protected.groups",
        )
        return
    missing: list[str] = []
    for name in names:
        try:
            if not await _find_groups(connector, name):
                missing.append(name)
        except ConnectorError as exc:
            out.error("protected groups", exc)
            return
    if missing:
        out.warn(
            "protected groups",
            f"not found in Okta: {join(missing)}: they protect nobody",
            fix="fix the names under protected.groups (Okta group names, exact)",
            missing=missing,
        )
    else:
        out.ok("protected groups", f"all found: {join(names)}", groups=names)


async def _check_policies(connector: OktaConnector, out: Findings) -> None:
    url = connector._url("/api/v1/policies", {"type": "PASSWORD", "limit": "1"})
    try:
        await connector._raw("GET", url, Subject.OTHER)
    except ConnectorError as exc:
        out.error(
            "password policies",
            exc,
            fix="assign REPORT_ADMIN (with a service app, also grant okta.policies.read)",
        )
        return
    out.ok("password policies", "readable (password expiry works)")
