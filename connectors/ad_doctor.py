"""The AD connector's least-privilege check, read-only, as the delegated service account.

What the helpdesk needs of AD is delegated rights, not group memberships:

* ``member`` written on each catalogue group (group membership);
* the "Reset Password" extended right (``User-Force-Change-Password``,
  00299570-246d-11d0-a768-00aa006e0529,
  https://learn.microsoft.com/en-us/windows/win32/adschema/r-user-force-change-password)
  and ``pwdLastSet`` written on users (temporary password, change at next logon);
* ``lockoutTime`` written on users (unlock).

Attribute writes are read from the constructed attribute ``allowedAttributesEffective``:
the directory lists the attributes the requester may write on that very object
(https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/c16a23d1-6847-4b25-9f6b-f09fc29e8627).
An extended right has no such attribute, so the object's DACL (read with the
SD-flags control asking for the DACL only, which ``READ_CONTROL`` allows) is
evaluated against the bind's own token (``tokenGroups`` of the rootDSE), the way
a control-access right is checked in an object's ACL
(https://learn.microsoft.com/en-us/windows/win32/ad/checking-a-control-access-right-in-an-objectampaposs-acl).
Nothing is written, so no check can lock out or reset anyone.

Over-privilege is membership of a built-in privileged group (Domain Admins,
Account Operators...; well-known RIDs from
https://learn.microsoft.com/en-us/windows-server/identity/ad-ds/manage/understand-security-identifiers),
and, as a warning, rights that reach protected accounts or protected groups: the
connector refuses those itself, but the delegation should not reach them.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.ad import ActiveDirectoryConnector
from connectors.ad_errors import error_from_result
from connectors.ad_ldap import Conn, entries_of, search
from connectors.ad_ldap3 import ldap3
from connectors.ad_values import (
    GROUP_FILTER,
    MATCH_BIT_AND,
    MATCH_IN_CHAIN,
    PERSON_FILTER,
    PRIVILEGED_BUILTIN,
    PRIVILEGED_DOMAIN_RIDS,
    UAC,
    Entry,
    escape,
    looks_like_dn,
    sid_to_str,
)
from connectors.base import Capability, ResetDelivery
from connectors.doctor import Finding, Findings, Needs, join
from connectors.errors import ConnectorError, GroupNotFound

RESET_PASSWORD_RIGHT = uuid.UUID("00299570-246d-11d0-a768-00aa006e0529")
SD_FLAGS_OID = "1.2.840.113556.1.4.801"  # LDAP_SERVER_SD_FLAGS_OID
DACL_SECURITY_INFORMATION = 0x4

# Access mask bits (MS-ADTS 5.1.3.2): control access, and GENERIC_ALL as stored unmapped.
RIGHT_DS_CONTROL_ACCESS = 0x100
GENERIC_ALL = 0x10000000
# ACE types and flags (MS-DTYP 2.4.4.1 and 2.4.4.3).
ACCESS_ALLOWED = 0x00
ACCESS_DENIED = 0x01
ACCESS_ALLOWED_OBJECT = 0x05
ACCESS_DENIED_OBJECT = 0x06
INHERIT_ONLY_ACE = 0x08
ACE_OBJECT_TYPE_PRESENT = 0x1
ACE_INHERITED_OBJECT_TYPE_PRESENT = 0x2

# Every authenticated LDAP bind carries these (MS-DTYP 2.4.2.4), whether or not
# the server lists them in tokenGroups.
EVERYONE = "S-1-1-0"
AUTHENTICATED_USERS = "S-1-5-11"


DELEGATION_HINT = (
    "delegate on the users' OU: the 'Reset Password' right, write pwdLastSet and write "
    "lockoutTime on user objects (AD Users and Computers > Delegate Control, or "
    "dsacl/dsacls)"
)


@dataclass(frozen=True, slots=True)
class Ace:
    """One access control entry of a DACL, as far as access checks need it."""

    type: int
    flags: int
    mask: int
    sid: str
    object_type: uuid.UUID | None = None


def parse_dacl(descriptor: bytes) -> list[Ace]:
    """The DACL of a self-relative security descriptor (MS-DTYP 2.4.6), in order.

    An absent DACL gives an empty list. Raises ``ValueError`` on a malformed buffer.
    """
    if len(descriptor) < 20:
        raise ValueError("security descriptor too short")
    dacl_offset = struct.unpack_from("<I", descriptor, 16)[0]
    if dacl_offset == 0:
        return []
    _, _, size, count, _ = struct.unpack_from("<BBHHH", descriptor, dacl_offset)
    end = dacl_offset + size
    if end > len(descriptor):
        raise ValueError("DACL runs past the descriptor")
    aces: list[Ace] = []
    pos = dacl_offset + 8
    for _ in range(count):
        ace_type, ace_flags, ace_size = struct.unpack_from("<BBH", descriptor, pos)
        if ace_size < 8 or pos + ace_size > end:
            raise ValueError("malformed ACE")
        body = descriptor[pos + 4 : pos + ace_size]
        mask = struct.unpack_from("<I", body, 0)[0]
        if ace_type in (ACCESS_ALLOWED, ACCESS_DENIED):
            aces.append(Ace(ace_type, ace_flags, mask, sid_to_str(body[4:])))
        elif ace_type in (ACCESS_ALLOWED_OBJECT, ACCESS_DENIED_OBJECT):
            object_flags = struct.unpack_from("<I", body, 4)[0]
            offset = 8
            object_type = None
            if object_flags & ACE_OBJECT_TYPE_PRESENT:
                object_type = uuid.UUID(bytes_le=bytes(body[offset : offset + 16]))
                offset += 16
            if object_flags & ACE_INHERITED_OBJECT_TYPE_PRESENT:
                offset += 16
            aces.append(Ace(ace_type, ace_flags, mask, sid_to_str(body[offset:]), object_type))
        # Other types (audit, callback, mandatory label) never grant a control access right.
        pos += ace_size
    return aces


def has_control_access(aces: Iterable[Ace], sids: Iterable[str], right: uuid.UUID) -> bool:
    """Whether ``sids`` are granted extended right ``right`` by ``aces``.

    ACEs are taken in order and the first that names the right for one of the SIDs
    decides: an object ACE names it by its ObjectType (or with none, every right),
    a plain ACE with the control-access bit names every right. Inherit-only ACEs
    are for children and are skipped.
    """
    token = set(sids)
    for ace in aces:
        if ace.flags & INHERIT_ONLY_ACE or ace.sid not in token:
            continue
        if not ace.mask & (RIGHT_DS_CONTROL_ACCESS | GENERIC_ALL):
            continue
        if ace.type in (ACCESS_ALLOWED_OBJECT, ACCESS_DENIED_OBJECT):
            if ace.object_type is not None and ace.object_type != right:
                continue
            return ace.type == ACCESS_ALLOWED_OBJECT
        if ace.type in (ACCESS_ALLOWED, ACCESS_DENIED):
            return ace.type == ACCESS_ALLOWED
    return False


@dataclass(slots=True)
class Identity:
    """The bind: its DN, its SID, the SIDs of its token, the domain it is in."""

    bind_dn: str
    domain_dn: str
    sid: str
    token: set[str]
    admin_count: bool
    endpoint: str


@dataclass(slots=True)
class AccountRights:
    """What the bind may do to one user account."""

    dn: str
    name: str
    reset: bool | None  # None: the DACL could not be read
    pwd_last_set: bool
    lockout_time: bool

    def lacks(self, needs: Needs) -> list[str]:
        """The rights ``needs`` asks for that this account does not grant."""
        missing: list[str] = []
        if needs.serves(Capability.PASSWORD_RESET):
            if self.reset is False:
                missing.append("Reset Password")
            if not self.pwd_last_set:
                missing.append("write pwdLastSet")
        if needs.serves(Capability.UNLOCK) and not self.lockout_time:
            missing.append("write lockoutTime")
        return missing

    @property
    def any_write(self) -> bool:
        """Whether the bind could reset or unlock this account at all."""
        return bool(self.reset) or self.pwd_last_set or self.lockout_time


@dataclass(slots=True)
class _Container:
    dn: str
    accounts: list[AccountRights] = field(default_factory=list)


def _parent(dn: str) -> str:
    # DNs from the server are normalised; a comma escaped inside the RDN is "\,".
    index = 0
    while True:
        index = dn.find(",", index)
        if index < 0:
            return ""
        if index == 0 or dn[index - 1] != "\\":
            return dn[index + 1 :]
        index += 1


def _sd_control() -> list[tuple[str, bool, bytes]]:
    # BER of SDFlagsRequestValue ::= SEQUENCE { Flags INTEGER }, asking for the DACL only:
    # reading the SACL too would need ACCESS_SYSTEM_SECURITY and drop the attribute.
    # https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/3888c2b7-35b9-45b7-afeb-b772aa932dd0
    value = bytes([0x30, 0x03, 0x02, 0x01, DACL_SECURITY_INFORMATION])
    return [(SD_FLAGS_OID, True, value)]


async def diagnose(connector: ActiveDirectoryConnector, needs: Needs) -> list[Finding]:
    """Check the service account's rights against ``needs``; reads only.

    Findings in report order: connect, privileged groups, reset delivery, catalogue
    groups, protected groups, account rights per container, protected accounts,
    domain policy.
    """
    out = Findings(connector.name)
    settings = connector._settings
    try:
        identity = await connector._transport.run(
            "doctor: identify", lambda c: _identify(c, connector)
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
            await _check_catalogue(connector, needs, protected, out)
        if needs.touches_accounts:
            _report_protected_groups(protected, out)
            await _check_accounts(connector, needs, identity, protected, out)
        if needs.serves(Capability.PASSWORD_EXPIRY):
            policy = await connector._policy()
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


def _identify(conn: Conn, connector: ActiveDirectoryConnector) -> Identity:
    settings = connector._settings
    root = search(
        conn,
        connector.name,
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
        connector.name,
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


@dataclass(slots=True)
class _Group:
    ref: str
    dn: str
    name: str
    member_writable: bool
    admin_count: bool


def _group_lookup(
    conn: Conn, connector: ActiveDirectoryConnector, base: str, ref: str
) -> list[_Group]:
    value = escape(ref)
    match = (
        f"(distinguishedName={value})"
        if looks_like_dn(ref)
        else f"(|(sAMAccountName={value})(cn={value}))"
    )
    found = search(
        conn,
        connector.name,
        "doctor: find group",
        base,
        f"(&{GROUP_FILTER}{match})",
        ["sAMAccountName", "cn", "allowedAttributesEffective", "adminCount"],
        size_limit=2,
        missing=GroupNotFound,
    )
    return [
        _Group(
            ref,
            e.dn,
            e.text("sAMAccountName") or e.text("cn"),
            "member" in {v.lower() for v in e.texts("allowedAttributesEffective")},
            e.integer("adminCount") == 1,
        )
        for e in found
    ]


async def _resolve_groups(
    connector: ActiveDirectoryConnector, refs: Sequence[str], identity: Identity
) -> dict[str, list[_Group]]:
    wanted = list(dict.fromkeys(r.strip() for r in refs if r.strip()))

    def lookup(conn: Conn) -> dict[str, list[_Group]]:
        return {r: _group_lookup(conn, connector, identity.domain_dn, r) for r in wanted}

    return await connector._transport.run("doctor: protected groups", lookup)


async def _check_catalogue(
    connector: ActiveDirectoryConnector,
    needs: Needs,
    protected: dict[str, list[_Group]],
    out: Findings,
) -> None:
    if not needs.groups:
        out.skip("catalogue groups", "no catalogue group is served by this connector")
        return
    base = connector._settings.groups_dn or connector._settings.base_dn
    protected_dns = {g.dn.lower() for groups in protected.values() for g in groups}

    def lookup(conn: Conn) -> dict[str, list[_Group]]:
        return {name: _group_lookup(conn, connector, base, name) for name in needs.groups}

    found = await connector._transport.run("doctor: catalogue groups", lookup)
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


def _report_protected_groups(protected: dict[str, list[_Group]], out: Findings) -> None:
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


def _account_filter(
    identity: Identity, protected: dict[str, list[_Group]], *, privileged: bool
) -> str:
    chain = "".join(
        f"(memberOf:{MATCH_IN_CHAIN}:={escape(g.dn)})"
        for groups in protected.values()
        for g in groups
    )
    privileged_clause = f"(|(adminCount=1){chain})"
    disabled = f"(userAccountControl:{MATCH_BIT_AND}:={int(UAC.ACCOUNTDISABLE)})"
    not_me = f"(!(distinguishedName={escape(identity.bind_dn)}))"
    if privileged:
        return f"(&{PERSON_FILTER}{not_me}{privileged_clause})"
    # Employees: found by email (mail or UPN), enabled, no service principal names
    # (service accounts such as the DNS one carry SPNs and no address).
    employee = "(|(mail=*)(userPrincipalName=*))(!(servicePrincipalName=*))"
    return f"(&{PERSON_FILTER}{not_me}{employee}(!{disabled})(!{privileged_clause}))"


def _rights_of(
    conn: Conn,
    connector: ActiveDirectoryConnector,
    base: str,
    flt: str,
    limit: int,
    token: set[str],
) -> tuple[list[AccountRights], bool]:
    _, result, response, _ = conn.search(
        base,
        flt,
        ldap3.SUBTREE,
        attributes=["sAMAccountName", "allowedAttributesEffective", "nTSecurityDescriptor"],
        size_limit=limit,
        controls=_sd_control(),
    )
    name = result.get("description")
    if name not in ("success", "sizeLimitExceeded"):
        raise error_from_result(connector.name, "doctor: read accounts", result)
    rows: list[AccountRights] = []
    for entry in entries_of(response):
        rows.append(_account_rights(entry, token))
    return rows, name == "sizeLimitExceeded"


def _account_rights(entry: Entry, token: set[str]) -> AccountRights:
    writable = {v.lower() for v in entry.texts("allowedAttributesEffective")}
    raw = entry.first("nTSecurityDescriptor")
    reset: bool | None = None
    if raw:
        try:
            reset = has_control_access(parse_dacl(raw), token, RESET_PASSWORD_RIGHT)
        except ValueError:
            reset = None
    return AccountRights(
        dn=entry.dn,
        name=entry.text("sAMAccountName") or entry.dn,
        reset=reset,
        pwd_last_set="pwdlastset" in writable,
        lockout_time="lockouttime" in writable,
    )


async def _check_accounts(
    connector: ActiveDirectoryConnector,
    needs: Needs,
    identity: Identity,
    protected: dict[str, list[_Group]],
    out: Findings,
) -> None:
    settings = connector._settings
    base = settings.users_dn or settings.base_dn
    limit = max(1, needs.sample_size)

    def read(conn: Conn) -> tuple[list[AccountRights], bool, list[AccountRights]]:
        ordinary, capped = _rights_of(
            conn,
            connector,
            base,
            _account_filter(identity, protected, privileged=False),
            limit,
            identity.token,
        )
        guarded, _ = _rights_of(
            conn,
            connector,
            base,
            _account_filter(identity, protected, privileged=True),
            limit,
            identity.token,
        )
        return ordinary, capped, guarded

    ordinary, capped, guarded = await connector._transport.run("doctor: account rights", read)
    if not ordinary:
        out.warn(
            "account rights",
            f"no enabled, unprotected account under {base} to check the delegation on",
        )
    containers: dict[str, _Container] = {}
    for account in ordinary:
        parent = _parent(account.dn)
        containers.setdefault(parent, _Container(parent)).accounts.append(account)
    note = [f"the first {limit} accounts were checked"] if capped else []
    for container in sorted(containers.values(), key=lambda c: c.dn.lower()):
        _report_container(container, needs, note, out)
    reachable = [a for a in guarded if a.any_write]
    if reachable:
        names = sorted(a.name for a in reachable)
        shown = join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        out.warn(
            "protected accounts",
            f"the delegation reaches {len(names)} protected account(s): {shown}; the "
            "connector refuses them itself, but AD would let the service account reset them",
            fix="move privileged accounts out of the delegated OU, or deny the service "
            "account on them",
            accounts=names,
        )
    else:
        out.ok(
            "protected accounts",
            f"the delegation reaches none of the {len(guarded)} protected account(s) found",
        )


def _report_container(container: _Container, needs: Needs, note: list[str], out: Findings) -> None:
    check = f"rights {container.dn}"
    total = len(container.accounts)
    lacking: dict[str, int] = {}
    unknown = 0
    for account in container.accounts:
        for right in account.lacks(needs):
            lacking[right] = lacking.get(right, 0) + 1
        if account.reset is None and needs.serves(Capability.PASSWORD_RESET):
            unknown += 1
    data: dict[str, Any] = {"accounts_checked": total, "lacking": lacking}
    details = list(note)
    if unknown:
        details.append(f"{unknown} account(s) whose permissions could not be read")
    if lacking:
        parts = [f"{right} on {count} of {total}" for right, count in sorted(lacking.items())]
        out.fail(
            check,
            f"missing: {'; '.join(parts)} account(s)",
            fix=DELEGATION_HINT,
            details=details,
            **data,
        )
        return
    wanted = []
    if needs.serves(Capability.PASSWORD_RESET):
        wanted += ["Reset Password", "write pwdLastSet"]
    if needs.serves(Capability.UNLOCK):
        wanted.append("write lockoutTime")
    out.ok(check, f"{join(wanted)} on all {total} account(s)", details=details, **data)
