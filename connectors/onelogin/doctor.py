"""The OneLogin connector's least-privilege check: the API credential's scope, probed harmlessly.

A OneLogin API credential has exactly one scope, chosen when it is created
(https://developers.onelogin.com/api-docs/2/getting-started/working-with-api-credentials):

* *Authentication Only*: authentication endpoints, nothing the helpdesk uses;
* *Read Users*: GET on the User, Role and Group resources;
* *Manage Users*: GET, POST, PUT, DELETE on those, except setting passwords and
  assigning or removing roles;
* *Read All*: GET on every resource (user policies, privileges, MFA devices);
* *Manage All*: everything, including passwords and role assignment: in effect
  a super user.

No API tells the scope, so it is inferred from answers to calls that cannot change
anything: each names an object that does not exist (id 0), so an allowed call
answers 404 and a call outside the scope 401 or 403. A OneLogin role is what the
connector calls a group; setting a temporary password and assigning roles need
*Manage All*, so a deployment offering those has no narrower choice.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

from connectors.base import Capability, ContainStep, Directory, ResetDelivery
from connectors.doctor import Finding, Findings, Needs, join
from connectors.errors import ConnectorError, GroupNotFound, PermissionDenied, UserNotFound
from connectors.onelogin.connector import OneLoginConnector
from connectors.onelogin.errors import Subject
from connectors.onelogin.settings import Settings

CREDENTIALS_URL = (
    "https://developers.onelogin.com/api-docs/2/getting-started/working-with-api-credentials"
)


class Right(enum.Enum):
    """An ability a scope grants, as far as the helpdesk uses it."""

    READ_USERS = "read users and roles"
    WRITE_USERS = "unlock and update users"
    READ_ALL = "read user policies, privileges and MFA devices"
    WRITE_ALL = "set passwords, assign roles, remove MFA devices"


class Scope(enum.Enum):
    """OneLogin's API credential scopes, with what each grants."""

    AUTHENTICATION_ONLY = "Authentication Only"
    READ_USERS = "Read Users"
    MANAGE_USERS = "Manage Users"
    READ_ALL = "Read All"
    MANAGE_ALL = "Manage All"

    @property
    def rights(self) -> frozenset[Right]:
        """What this scope allows."""
        return _SCOPE_RIGHTS[self]


_SCOPE_RIGHTS: dict[Scope, frozenset[Right]] = {
    Scope.AUTHENTICATION_ONLY: frozenset(),
    Scope.READ_USERS: frozenset({Right.READ_USERS}),
    Scope.MANAGE_USERS: frozenset({Right.READ_USERS, Right.WRITE_USERS}),
    Scope.READ_ALL: frozenset({Right.READ_USERS, Right.READ_ALL}),
    Scope.MANAGE_ALL: frozenset(Right),
}
# Narrowest first: the least scope is the first that grants every right needed.
_BY_BREADTH = (
    Scope.AUTHENTICATION_ONLY,
    Scope.READ_USERS,
    Scope.MANAGE_USERS,
    Scope.READ_ALL,
    Scope.MANAGE_ALL,
)


def rights_needed(needs: Needs, settings: Settings) -> frozenset[Right]:
    """What the routed capabilities (and the connector's settings) ask of the credential."""
    wanted: set[Right] = set()
    if needs.capabilities:
        wanted.add(Right.READ_USERS)
    if needs.serves(Capability.GROUPS) or needs.serves(Capability.PASSWORD_RESET):
        wanted.add(Right.WRITE_ALL)  # role assignment, temporary passwords
    if needs.serves(Capability.UNLOCK):
        wanted.add(Right.WRITE_USERS)
    if needs.serves(Capability.MFA_RESET):
        wanted |= {Right.READ_ALL, Right.WRITE_ALL}
    if needs.pushes:
        # Listing the MFA devices and the verifications API both need Manage All
        # (sandboxes/onelogin/push.py cites OneLogin's pages).
        wanted |= {Right.READ_USERS, Right.READ_ALL, Right.WRITE_ALL}
    if ContainStep.CLEAR_SESSIONS in needs.containment:
        wanted.add(Right.WRITE_USERS)  # Log User Out: Manage Users
    if needs.containment & {ContainStep.SUSPEND, ContainStep.RESET_FACTORS}:
        wanted |= {Right.READ_ALL, Right.WRITE_ALL}  # status 2, MFA devices: Manage All
    policies = settings.default_policy_id is not None or bool(settings.policy_by_group)
    if needs.serves(Capability.PASSWORD_EXPIRY) and policies:
        wanted.add(Right.READ_ALL)
    if needs.touches_accounts and settings.check_admin_privileges:
        # /api/1/privileges is not a User, Role or Group resource, which is all that
        # Read Users and Manage Users cover by OneLogin's description of them.
        wanted.add(Right.READ_ALL)
    return frozenset(wanted)


def least_scope(wanted: Collection[Right]) -> Scope:
    """The narrowest scope that grants every right in ``wanted``."""
    for scope in _BY_BREADTH:
        if set(wanted) <= scope.rights:
            return scope
    return Scope.MANAGE_ALL


@dataclass(frozen=True, slots=True)
class ProbeResults:
    """Whether each probe was allowed (``None``: the answer told nothing)."""

    read_users: bool | None
    write_users: bool | None
    read_all: bool | None
    write_all: bool | None


def infer_scope(results: ProbeResults) -> Scope | None:
    """The scope that explains the probes' answers; ``None`` when they are inconclusive."""
    if results.write_all:
        return Scope.MANAGE_ALL
    if results.write_users and results.read_all:
        return Scope.MANAGE_ALL
    if results.write_users:
        return Scope.MANAGE_USERS
    if results.read_all:
        return Scope.READ_ALL
    if results.read_users:
        return Scope.READ_USERS
    if results.read_users is False:
        return Scope.AUTHENTICATION_ONLY
    return None


async def _allowed(
    connector: OneLoginConnector,
    method: str,
    path: str,
    subject: Subject,
    *,
    json: object = None,
    params: dict[str, str | int] | None = None,
) -> bool | None:
    """Send one harmless call: ``True`` allowed, ``False`` refused, ``None`` unknown."""
    try:
        await connector.http.request(
            method, path, subject=subject, json=json, params=params, replay_safe=False
        )
    except (UserNotFound, GroupNotFound):
        return True  # past the scope check, the object (id 0) does not exist
    except PermissionDenied:
        return False
    except ConnectorError:
        return None
    return True


async def probe(connector: OneLoginConnector) -> ProbeResults:
    """Ask OneLogin four harmless questions, one per right (see the module docstring)."""
    read_users = await _allowed(connector, "GET", "/api/2/users", Subject.USER, params={"limit": 1})
    # An empty update of a user that does not exist: 404 when PUT on users is allowed.
    write_users = await _allowed(connector, "PUT", "/api/2/users/0", Subject.USER, json={})
    read_all = await _allowed(connector, "GET", "/api/2/mfa/users/0/devices", Subject.MFA)
    # Assigning nobody to a role that does not exist.
    write_all = await _allowed(connector, "POST", "/api/2/roles/0/users", Subject.ROLE, json=[])
    return ProbeResults(read_users, write_users, read_all, write_all)


async def diagnose(connector: Directory, settings: Settings, needs: Needs) -> list[Finding]:
    """Check the credential's scope against ``needs``; nothing is changed.

    ``connector`` is a :class:`OneLoginConnector` built from ``settings``, the
    validated config block (it decides whether policies and privileges are read).
    Findings: connect, credential scope, least privilege, privileges API, catalogue
    roles, protected roles.
    """
    if not isinstance(connector, OneLoginConnector):
        raise TypeError(f"not a OneLogin connector: {type(connector).__name__}")
    out = Findings(connector.name)
    before = connector.http.token_fetches
    results = await probe(connector)
    if connector.http.token_fetches == before and results.read_users is not True:
        # No token was issued: the client id or secret was refused, or OneLogin is down.
        try:
            await connector.http.request(
                "GET", "/api/2/users", subject=Subject.USER, params={"limit": 1}
            )
        except ConnectorError as exc:
            out.error(
                "connect",
                exc,
                fix="check client_id and the client_secret secret (Developers > API "
                "Credentials), and the subdomain or region",
            )
            return out.rows
    out.ok("connect", f"token issued by {connector.http.base_url}")
    held = infer_scope(results)
    wanted = rights_needed(needs, settings)
    least = least_scope(wanted)
    _report_scope(held, wanted, least, results, out)
    if needs.serves(Capability.PASSWORD_RESET) and needs.reset_delivery is ResetDelivery.LINK:
        out.fail(
            "reset delivery",
            "OneLogin's API cannot issue reset links, and password_reset.delivery is link",
            fix="set password_reset.delivery: temp_password",
        )
    if needs.touches_accounts and settings.check_admin_privileges:
        await _check_privileges(connector, out)
    if needs.serves(Capability.GROUPS):
        await _check_roles(connector, needs.groups, "group", out)
    if needs.touches_accounts:
        names = list(dict.fromkeys([*needs.protected_groups, *settings.protected_roles]))
        await _check_protected(connector, names, out)
    return out.rows


def _report_scope(
    held: Scope | None,
    wanted: frozenset[Right],
    least: Scope,
    results: ProbeResults,
    out: Findings,
) -> None:
    data = {
        "probes": {
            "read_users": results.read_users,
            "write_users": results.write_users,
            "read_all": results.read_all,
            "write_all": results.write_all,
        },
        "least_scope": least.value,
        "needed": sorted(r.value for r in wanted),
    }
    if held is None:
        out.skip("credential scope", "the probes were inconclusive", **data)
        return
    data["scope"] = held.value
    missing = sorted(r.value for r in wanted - held.rights)
    if missing:
        out.fail(
            "credential scope",
            f"{held.value}: does not allow: {'; '.join(missing)}",
            fix=f"use a credential with scope {least.value} ({CREDENTIALS_URL})",
            **data,
        )
    else:
        out.ok("credential scope", f"{held.value} (inferred from harmless probes)", **data)
    if held is least or missing:
        if held is least:
            note = "no narrower scope grants what the enabled capabilities need"
            out.ok("least privilege", f"{held.value} is the least that suffices ({note})")
        return
    if held is Scope.MANAGE_ALL:
        out.fail(
            "least privilege",
            "over-privileged: Manage All is the equivalent of a super user",
            fix=f"create a credential with scope {least.value} and replace this one",
            scope=held.value,
            least_scope=least.value,
        )
    else:
        out.warn(
            "least privilege",
            f"{held.value} is more than needed",
            fix=f"a credential with scope {least.value} suffices",
            scope=held.value,
            least_scope=least.value,
        )


async def _check_privileges(connector: OneLoginConnector, out: Findings) -> None:
    try:
        await connector.http.get_json("/api/1/privileges", subject=Subject.PRIVILEGE)
    except ConnectorError as exc:
        out.fail(
            "admin privileges",
            f"cannot list admin privileges ({exc.message}): the protected-account check "
            "fails, so every reset, unlock and MFA reset is refused",
            fix="give the credential Read All or Manage All, or set check_admin_privileges: "
            "false and list admin roles in protected_roles",
            code=exc.code,
        )
        return
    out.ok("admin privileges", "readable (holders of admin privileges are refused)")


async def _check_roles(
    connector: OneLoginConnector, names: Collection[str], kind: str, out: Findings
) -> None:
    if not names:
        out.skip("catalogue roles", "no catalogue group is served by this connector")
        return
    for name in names:
        check = f"{kind} {name}"
        try:
            role = await connector.find_group(name)
        except GroupNotFound as exc:
            out.fail(
                check,
                exc.message,
                fix="fix provider_group in the catalogue (a OneLogin role name)",
            )
            continue
        except ConnectorError as exc:
            out.error(check, exc)
            continue
        out.ok(check, f"role found ({role.id})", role_id=role.id)


async def _check_protected(connector: OneLoginConnector, names: list[str], out: Findings) -> None:
    if not names:
        out.skip("protected roles", "none configured (admin privileges still refuse admins)")
        return
    missing: list[str] = []
    for name in names:
        try:
            await connector.find_group(name)
        except GroupNotFound:
            missing.append(name)
        except ConnectorError as exc:
            out.error("protected roles", exc)
            return
    if missing:
        out.warn(
            "protected roles",
            f"no OneLogin role named {join(missing)}: they protect nobody",
            fix="fix the names under protected.groups / protected_roles",
            missing=missing,
        )
    else:
        out.ok("protected roles", f"all found: {join(names)}")
