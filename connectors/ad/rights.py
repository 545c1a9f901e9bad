"""What the delegated service account may do to user accounts, container by container.

Attribute writes are read from the constructed attribute ``allowedAttributesEffective``:
the directory lists the attributes the requester may write on that very object
(https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/c16a23d1-6847-4b25-9f6b-f09fc29e8627);
the "Reset Password" right from each account's DACL (:mod:`connectors.ad.acl`).
A sample of ordinary accounts must grant what the deployment needs; protected
accounts should grant nothing, although the connector refuses them itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.ad.acl import RESET_PASSWORD_RIGHT, has_control_access, parse_dacl, sd_control
from connectors.ad.directory import AdDirectory
from connectors.ad.errors import error_from_result
from connectors.ad.ldap import Conn, entries_of
from connectors.ad.ldap3 import ldap3
from connectors.ad.values import MATCH_BIT_AND, MATCH_IN_CHAIN, PERSON_FILTER, UAC, Entry, escape
from connectors.base import Capability, ContainStep
from connectors.doctor import Findings, Needs, join

DELEGATION_HINT = (
    "delegate on the users' OU: the 'Reset Password' right, write pwdLastSet and write "
    "lockoutTime on user objects (AD Users and Computers > Delegate Control, or "
    "dsacl/dsacls)"
)


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
class GroupRights:
    """A group a configured reference resolved to, and whether the bind may change its members."""

    ref: str
    dn: str
    name: str
    member_writable: bool
    admin_count: bool


@dataclass(slots=True)
class AccountRights:
    """What the bind may do to one user account."""

    dn: str
    name: str
    reset: bool | None  # None: the DACL could not be read
    pwd_last_set: bool
    lockout_time: bool
    user_account_control: bool = False

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


def _account_filter(
    identity: Identity, protected: dict[str, list[GroupRights]], *, privileged: bool
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
    provider: str,
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
        controls=sd_control(),
    )
    name = result.get("description")
    if name not in ("success", "sizeLimitExceeded"):
        raise error_from_result(provider, "doctor: read accounts", result)
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
        user_account_control="useraccountcontrol" in writable,
    )


async def check_accounts(
    connector: AdDirectory,
    needs: Needs,
    identity: Identity,
    protected: dict[str, list[GroupRights]],
    out: Findings,
) -> None:
    """Report what the bind may do to a sample of accounts, per container, and to protected ones.

    Ordinary accounts (enabled, found by email, not protected) should all grant
    what ``needs`` asks; protected accounts should grant nothing.
    """
    settings = connector.settings
    base = settings.users_dn or settings.base_dn
    limit = max(1, needs.sample_size)

    def read(conn: Conn) -> tuple[list[AccountRights], bool, list[AccountRights]]:
        ordinary, capped = _rights_of(
            conn,
            connector.name,
            base,
            _account_filter(identity, protected, privileged=False),
            limit,
            identity.token,
        )
        guarded, _ = _rights_of(
            conn,
            connector.name,
            base,
            _account_filter(identity, protected, privileged=True),
            limit,
            identity.token,
        )
        return ordinary, capped, guarded

    ordinary, capped, guarded = await connector.transport.run("doctor: account rights", read)
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
    if ContainStep.SUSPEND in needs.containment:
        _report_disable(container, out)
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


def _report_disable(container: _Container, out: Findings) -> None:
    """Whether a "This wasn't me" report can disable these accounts (a warning if not: the
    report then pages security with the steps, nothing breaks)."""
    check = f"containment {container.dn}"
    total = len(container.accounts)
    lacking = sum(not a.user_account_control for a in container.accounts)
    if lacking:
        out.warn(
            check,
            f"write userAccountControl missing on {lacking} of {total} account(s): a report "
            "cannot disable them, security is paged with the steps instead",
            fix="delegate write userAccountControl on user objects in this OU, or drop "
            "suspend from notices.on_report",
            accounts_checked=total, lacking=lacking,
        )
        return
    out.ok(check, f"a report can disable all {total} account(s) (write userAccountControl)")
