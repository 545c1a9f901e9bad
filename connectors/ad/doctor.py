"""The AD connector's least-privilege check, read-only, as the delegated service account.

What the helpdesk needs of AD is delegated rights, not group memberships:

* ``member`` written on each catalogue group (group membership);
* the "Reset Password" extended right (``User-Force-Change-Password``,
  00299570-246d-11d0-a768-00aa006e0529,
  https://learn.microsoft.com/en-us/windows/win32/adschema/r-user-force-change-password)
  and ``pwdLastSet`` written on users (temporary password, change at next logon);
* ``lockoutTime`` written on users (unlock).

Attribute writes are read from the constructed attribute ``allowedAttributesEffective``
and the extended right from each object's DACL, evaluated against the bind's own
token (``tokenGroups`` of the rootDSE): :mod:`connectors.ad.rights` and
:mod:`connectors.ad.acl`. Every search runs on the connector's own transport
(``connector.transport``). Nothing is written, so no check can lock out or reset
anyone.

Over-privilege is membership of a built-in privileged group (Domain Admins,
Account Operators...; well-known RIDs from
https://learn.microsoft.com/en-us/windows-server/identity/ad-ds/manage/understand-security-identifiers),
and, as a warning, rights that reach protected accounts or protected groups: the
connector refuses those itself, but the delegation should not reach them.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.ad.directory import AdDirectory
from connectors.ad.ldap import Conn, search
from connectors.ad.ldap3 import ldap3
from connectors.ad.rights import DELEGATION_HINT, GroupRights, Identity, check_accounts
from connectors.ad.settings import Settings
from connectors.ad.values import (
    GROUP_FILTER,
    PRIVILEGED_BUILTIN,
    PRIVILEGED_DOMAIN_RIDS,
    escape,
    looks_like_dn,
    sid_to_str,
)
from connectors.base import Capability, Directory, ResetDelivery
from connectors.doctor import Finding, Findings, Needs, join
from connectors.errors import ConnectorError, GroupNotFound

# Every authenticated LDAP bind carries these (MS-DTYP 2.4.2.4), whether or not
# the server lists them in tokenGroups.
EVERYONE = "S-1-1-0"
AUTHENTICATED_USERS = "S-1-5-11"


async def diagnose(connector: Directory, settings: Settings, needs: Needs) -> list[Finding]:
    """Check the service account's rights against ``needs``; reads only.

    ``connector`` is an ``ActiveDirectoryConnector`` built from ``settings``.
    Findings in report order: connect, privileged groups, reset delivery, catalogue
    groups, protected groups, account rights per container, protected accounts,
    domain policy.
    """
    if not isinstance(connector, AdDirectory):
        raise TypeError(f"not an Active Directory connector: {type(connector).__name__}")
    out = Findings(connector.name)
    try:
        identity = await connector.transport.run(
            "doctor: identify", lambda c: _identify(c, connector.name, settings)
        )
    except ConnectorError as exc:
        out.error(
            "connect",
            exc,
            fix="check bind_dn, the password secret, the URLs and ca_file/tls_server_name",
        )
        return out.rows
    out.ok(
        "connect",
        f"bound as {identity.bind_dn} ({identity.endpoint})",
        bind_dn=identity.bind_dn,
        domain=identity.domain_dn,
    )
    if not settings.verify_tls:
        out.warn(
            "tls",
            "certificate verification is off: the bind password goes to whoever answers",
            fix="set verify_tls: true and ca_file to the DCs' CA",
        )
    _check_privileged_groups(identity, out)
    if needs.serves(Capability.PASSWORD_RESET) and needs.reset_delivery is ResetDelivery.LINK:
        out.fail(
            "reset delivery",
            "Active Directory cannot send reset links, and password_reset.delivery is link",
            fix="set password_reset.delivery: temp_password",
        )
    try:
        protected = await _resolve_groups(
            connector, [*settings.protected_groups, *needs.protected_groups], identity
        )
        if needs.serves(Capability.GROUPS):
            await _check_catalogue(connector, settings, needs, protected, out)
        if needs.touches_accounts:
            _report_protected_groups(protected, out)
            await check_accounts(connector, needs, identity, protected, out)
        if needs.serves(Capability.PASSWORD_EXPIRY):
            policy = await connector.domain_policy()
            age = policy.max_pwd_age
            out.ok(
                "domain policy",
                "readable: passwords "
                + (f"expire after {age.days} days" if age else "never expire"),
                max_pwd_age_days=age.days if age else None,
            )
    except ConnectorError as exc:
        out.error("rights", exc)
    return out.rows


def _identify(conn: Conn, provider: str, settings: Settings) -> Identity:
    root = search(
        conn,
        provider,
        "read rootDSE",
        "",
        "(objectClass=*)",
        ["defaultNamingContext", "tokenGroups"],
        scope=ldap3.BASE,
    )
    domain_dn = root[0].text("defaultNamingContext") if root else ""
    # On the rootDSE, tokenGroups are the SIDs of this very bind's token (well-known
    # ones such as Everyone included), not of some stored account.
    token = {sid_to_str(raw) for raw in (root[0].raw.get("tokengroups", []) if root else [])}
    me = search(
        conn,
        provider,
        "read the service account",
        settings.bind_dn,
        "(objectClass=*)",
        ["objectSid", "adminCount"],
        scope=ldap3.BASE,
    )
    sid = ""
    admin_count = False
    if me:
        raw = me[0].first("objectSid")
        sid = sid_to_str(raw) if raw else ""
        admin_count = me[0].integer("adminCount") == 1
    token |= {s for s in (sid, EVERYONE, AUTHENTICATED_USERS) if s}
    server = conn.server
    scheme = "ldaps" if server.ssl else "ldap"
    tls = " with StartTLS" if settings.start_tls and not server.ssl else ""
    endpoint = f"{scheme}://{server.host}:{server.port}{tls}"
    return Identity(settings.bind_dn, domain_dn, sid, token, admin_count, endpoint)


def _check_privileged_groups(identity: Identity, out: Findings) -> None:
    domain = identity.sid.rsplit("-", 1)[0] if identity.sid else ""
    held: list[str] = []
    for sid in sorted(identity.token):
        if sid in PRIVILEGED_BUILTIN:
            held.append(PRIVILEGED_BUILTIN[sid])
        elif domain and sid.startswith(domain + "-"):
            rid = int(sid.rsplit("-", 1)[1])
            if rid in PRIVILEGED_DOMAIN_RIDS:
                held.append(PRIVILEGED_DOMAIN_RIDS[rid])
    if held:
        out.fail(
            "least privilege",
            f"over-privileged: the service account is in {join(sorted(set(held)))}",
            fix=f"remove it from those groups; {DELEGATION_HINT}, and write member on the "
            "catalogue groups",
            privileged_groups=sorted(set(held)),
        )
    elif identity.admin_count:
        out.warn(
            "least privilege",
            "adminCount=1: the account was once in a privileged group, and AdminSDHolder "
            "still controls its permissions",
            fix="clear adminCount and re-enable inheritance on the account",
        )
    else:
        out.ok("least privilege", "in no built-in privileged group", privileged_groups=[])


def _group_lookup(conn: Conn, provider: str, base: str, ref: str) -> list[GroupRights]:
    value = escape(ref)
    match = (
        f"(distinguishedName={value})"
        if looks_like_dn(ref)
        else f"(|(sAMAccountName={value})(cn={value}))"
    )
    found = search(
        conn,
        provider,
        "doctor: find group",
        base,
        f"(&{GROUP_FILTER}{match})",
        ["sAMAccountName", "cn", "allowedAttributesEffective", "adminCount"],
        size_limit=2,
        missing=GroupNotFound,
    )
    return [
        GroupRights(
            ref,
            e.dn,
            e.text("sAMAccountName") or e.text("cn"),
            "member" in {v.lower() for v in e.texts("allowedAttributesEffective")},
            e.integer("adminCount") == 1,
        )
        for e in found
    ]


async def _resolve_groups(
    connector: AdDirectory, refs: Sequence[str], identity: Identity
) -> dict[str, list[GroupRights]]:
    wanted = list(dict.fromkeys(r.strip() for r in refs if r.strip()))

    def lookup(conn: Conn) -> dict[str, list[GroupRights]]:
        return {r: _group_lookup(conn, connector.name, identity.domain_dn, r) for r in wanted}

    return await connector.transport.run("doctor: protected groups", lookup)


async def _check_catalogue(
    connector: AdDirectory,
    settings: Settings,
    needs: Needs,
    protected: dict[str, list[GroupRights]],
    out: Findings,
) -> None:
    if not needs.groups:
        out.skip("catalogue groups", "no catalogue group is served by this connector")
        return
    base = settings.groups_dn or settings.base_dn
    protected_dns = {g.dn.lower() for groups in protected.values() for g in groups}

    def lookup(conn: Conn) -> dict[str, list[GroupRights]]:
        return {name: _group_lookup(conn, connector.name, base, name) for name in needs.groups}

    found = await connector.transport.run("doctor: catalogue groups", lookup)
    for name in needs.groups:
        check = f"group {name}"
        groups = found.get(name, [])
        if len(groups) != 1:
            out.fail(
                check,
                f"no single group named {name!r} under {base} ({len(groups)} found)",
                fix="fix provider_group in the catalogue (sAMAccountName, cn or DN)",
            )
            continue
        group = groups[0]
        if group.dn.lower() in protected_dns or group.admin_count:
            out.fail(
                check,
                f"{group.dn} is protected (adminCount=1 or a protected group): "
                "requesting it would grant privilege, and the connector refuses it",
                fix="remove it from the catalogue",
                dn=group.dn,
            )
        elif not group.member_writable:
            out.fail(
                check,
                f"the service account cannot write member on {group.dn}",
                fix="delegate 'Modify the membership of a group' (write member) on this group "
                "or its OU to the service account",
                dn=group.dn,
            )
        else:
            out.ok(check, f"member writable ({group.dn})", dn=group.dn)


def _report_protected_groups(protected: dict[str, list[GroupRights]], out: Findings) -> None:
    missing = [ref for ref, groups in protected.items() if not groups]
    writable = sorted(
        {g.name for groups in protected.values() for g in groups if g.member_writable}
    )
    if missing:
        out.warn(
            "protected groups",
            f"not found in the directory: {join(missing)}: they protect nobody",
            fix="fix the names (on non-English domains, list built-in groups by DN)",
            missing=missing,
        )
    if writable:
        out.warn(
            "protected groups",
            f"the service account may change the membership of {join(writable)}; "
            "the connector refuses it, but the delegation should not reach them",
            fix="remove the write-member grant on those groups (or their OU)",
            writable=writable,
        )
    if not missing and not writable:
        out.ok("protected groups", f"all found, none writable: {join(protected)}")
