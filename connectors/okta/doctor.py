"""The Okta connector's least-privilege check: who the credential is, what it may do, what it lacks.

An API token acts with its owner's admin roles (``GET /api/v1/users/me``, then
``/api/v1/users/{id}/roles``); an OAuth service app is limited twice, by its
granted scopes and by the admin roles assigned to the app
(``/oauth2/v1/clients/{clientId}/roles``;
https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/).

What the roles and scopes grant, the least set that suffices and how what is held
is judged live in :mod:`connectors.okta.privilege`; this module reads them from Okta.

Group Membership, Group (``USER_ADMIN``) and Help Desk Admin can be limited to
target groups; the Roles API lists them at ``.../roles/{roleAssignmentId}/targets/groups``
and answers ``[]`` for a role that is not limited
(https://developer.okta.com/docs/api/openapi/okta-management/management/tag/RoleBTargetAdmin/).
An org that does not serve that API (the local sandbox) leaves targets unknown.

Every request goes through the connector's own API session (``connector.api``:
retries, pacing, error mapping) and only reads; nothing is changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connectors.base import Capability, Directory
from connectors.doctor import PROBE_EMAIL, Finding, Findings, Needs, join
from connectors.errors import ConnectorError, PermissionDenied, Unavailable, UserNotFound
from connectors.okta.connector import OktaConnector
from connectors.okta.errors import Subject
from connectors.okta.privilege import (
    TARGETABLE_ROLES,
    Principal,
    RoleGrant,
    check_scopes,
    needs_of,
    report_roles,
    role_grants,
    target_findings,
)
from connectors.okta.settings import Settings
from connectors.okta.values import quote_search_value

_NOT_SERVED_CODES = frozenset({"E0000007", "E0000008", "E0000022"})


def _not_served(exc: ConnectorError) -> bool:
    """An answer meaning "this org has no such API (or object)", rather than a refusal."""
    if isinstance(exc, PermissionDenied | Unavailable):
        return False
    return exc.code in _NOT_SERVED_CODES or isinstance(exc, UserNotFound)


async def diagnose(connector: Directory, settings: Settings, needs: Needs) -> list[Finding]:
    """Check the connector's credential against ``needs``; read-only.

    ``connector`` is an :class:`OktaConnector` built from ``settings``. Returns the
    findings in report order: connect, scopes (service apps), admin roles, role
    targets, catalogue groups, protected groups, password policies.
    """
    if not isinstance(connector, OktaConnector):
        raise TypeError(f"not an Okta connector: {type(connector).__name__}")
    out = Findings(connector.name)
    wanted = needs_of(needs)
    principal = await _connect(connector, settings, out)
    if principal is None:
        return out.rows
    if principal.kind == "service app":
        check_scopes(settings.scopes, wanted, out)
    await _read_roles(connector, principal, needs, out)
    if principal.grants is not None:
        report_roles(principal, needs, wanted, out)
        await _report_targets(connector, principal, needs, out)
    if needs.serves(Capability.GROUPS):
        await _check_catalogue(connector, needs, out)
    if needs.touches_accounts:
        await _check_protected_groups(connector, settings, needs, out)
    if needs.serves(Capability.PASSWORD_EXPIRY):
        await _check_policies(connector, out)
    return out.rows


async def _connect(
    connector: OktaConnector, settings: Settings, out: Findings
) -> Principal | None:
    """Authenticate (and, with an API token, learn its owner); ``None`` when that failed."""
    try:
        if settings.api_token is not None:
            data = await connector.api.get("/api/v1/users/me", subject=Subject.USER)
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
            return Principal("token", owner_id, login)
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
        return Principal("service app", client_id, client_id)
    except ConnectorError as exc:
        _connect_failed(settings, exc, out)
        return None


def _connect_failed(settings: Settings, exc: ConnectorError, out: Findings) -> None:
    cause = exc.__cause__
    summary = getattr(cause, "summary", "") or ""
    if exc.code == "invalid_scope":
        out.fail(
            "connect",
            f"Okta refused the token request: {summary or exc.message}",
            fix="grant the service app every scope in 'scopes' (Okta Admin Console > "
            "Applications > the app > Okta API Scopes), or request fewer",
            code=exc.code,
            requested=list(settings.scopes),
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


async def _read_roles(
    connector: OktaConnector, principal: Principal, needs: Needs, out: Findings
) -> None:
    if principal.kind == "token":
        path = f"/api/v1/users/{quote(principal.id, safe='')}/roles"
    else:
        path = f"/oauth2/v1/clients/{quote(principal.id, safe='')}/roles"
    try:
        data = await connector.api.get(path, subject=Subject.OTHER)
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
    principal.grants = role_grants(data, principal.id, kind)


async def _group_targets(
    connector: OktaConnector, principal: Principal, grant: RoleGrant
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
        async for page in connector.api.pages(path, {"limit": "200"}, Subject.OTHER):
            for item in page:
                profile = item.get("profile") or {}
                names.append(str(profile.get("name") or item.get("id") or ""))
    except ConnectorError as exc:
        if _not_served(exc) or isinstance(exc, PermissionDenied):
            return None
        raise
    return names


async def _report_targets(
    connector: OktaConnector, principal: Principal, needs: Needs, out: Findings
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
    async for page in connector.api.pages("/api/v1/groups", params, Subject.GROUP):
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
        data = await connector.api.get(path, subject=Subject.GROUP)
    except ConnectorError as exc:
        if _not_served(exc) or isinstance(exc, PermissionDenied):
            return []
        raise
    return sorted({g.role for g in role_grants(data, group_id, "GROUP")})


async def _check_protected_groups(
    connector: OktaConnector, settings: Settings, needs: Needs, out: Findings
) -> None:
    names = list(dict.fromkeys([*needs.protected_groups, *settings.protected_groups]))
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
    try:
        await connector.api.get(
            "/api/v1/policies", {"type": "PASSWORD", "limit": "1"}, subject=Subject.OTHER
        )
    except ConnectorError as exc:
        out.error(
            "password policies",
            exc,
            fix="assign REPORT_ADMIN (with a service app, also grant okta.policies.read)",
        )
        return
    out.ok("password policies", "readable (password expiry works)")


#: Roles whose holders may suspend users (Okta's comparison of admin roles; a custom
#: role with ``okta.users.lifecycle.suspend`` does too but is not read here).
SUSPEND_ROLES = frozenset({"SUPER_ADMIN", "ORG_ADMIN", "USER_ADMIN"})


@dataclass(frozen=True)
class CredentialRoles:
    """What the connector's credential holds: its kind, scopes and admin role types."""

    kind: str
    scopes: tuple[str, ...]
    roles: frozenset[str] | None  # None: they could not be read


async def credential_roles(connector: Directory, settings: Settings) -> CredentialRoles | None:
    """The credential's admin roles (read-only); ``None`` when it can't connect."""
    if not isinstance(connector, OktaConnector):
        raise TypeError(f"not an Okta connector: {type(connector).__name__}")
    out = Findings(connector.name)
    principal = await _connect(connector, settings, out)
    if principal is None:
        return None
    await _read_roles(connector, principal, Needs(), out)
    roles = (frozenset(g.role for g in principal.grants)
             if principal.grants is not None else None)
    scopes = tuple(settings.scopes) if principal.kind == "service app" else ()
    return CredentialRoles(principal.kind, scopes, roles)
