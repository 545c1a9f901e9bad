"""The AD doctor: DACL evaluation; delegated, over- and under-privileged accounts on Samba."""

from __future__ import annotations

import secrets
import struct
import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest

from connectors.ad.acl import (
    ACCESS_ALLOWED,
    ACCESS_ALLOWED_OBJECT,
    ACCESS_DENIED,
    ACCESS_DENIED_OBJECT,
    INHERIT_ONLY_ACE,
    RESET_PASSWORD_RIGHT,
    has_control_access,
    parse_dacl,
)
from connectors.ad.connector import ActiveDirectoryConnector
from connectors.ad.doctor import diagnose
from connectors.ad.values import sid_to_str
from connectors.base import Capability, ContainStep, ResetDelivery
from connectors.doctor import Finding, Needs, Status
from tests.ad.samba import ADMIN_PASSWORD, USERS_CN, SambaDC

pytestmark = pytest.mark.samba

NEEDS = Needs(
    capabilities=Capability.GROUPS
    | Capability.PASSWORD_RESET
    | Capability.UNLOCK
    | Capability.PASSWORD_EXPIRY,
    groups=("figma-editors",),
    protected_groups=("it-admins",),
    reset_delivery=ResetDelivery.TEMP_PASSWORD,
)
ACCOUNT_PASSWORD = "Doc-" + secrets.token_hex(8) + "#Q"


def _by_check(rows: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in rows}


async def _diagnose(connector: ActiveDirectoryConnector, needs: Needs) -> list[Finding]:
    """The kind's ``diagnose``, with the settings the connector was built from."""
    return await diagnose(connector, connector.settings, needs)


# -- the DACL evaluation, on hand-made descriptors ---------------------------------------


def _sid(text: str) -> bytes:
    parts = [int(p) for p in text.split("-")[1:]]
    revision, authority, subs = parts[0], parts[1], parts[2:]
    return (
        bytes([revision, len(subs)])
        + authority.to_bytes(6, "big")
        + b"".join(struct.pack("<I", s) for s in subs)
    )


def _ace(
    kind: int, mask: int, sid: str, *, flags: int = 0, object_type: uuid.UUID | None = None
) -> bytes:
    body = struct.pack("<I", mask)
    if kind in (ACCESS_ALLOWED_OBJECT, ACCESS_DENIED_OBJECT):
        body += struct.pack("<I", 1 if object_type else 0)
        if object_type:
            body += object_type.bytes_le
    body += _sid(sid)
    return struct.pack("<BBH", kind, flags, 4 + len(body)) + body


def _descriptor(*aces: bytes) -> bytes:
    acl_body = b"".join(aces)
    acl = struct.pack("<BBHHH", 4, 0, 8 + len(acl_body), len(aces), 0) + acl_body
    header = struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 20)
    return header + acl


ME = "S-1-5-21-1-2-3-1104"
OTHER = "S-1-5-21-1-2-3-1105"
CR = 0x100


def test_object_ace_for_the_reset_right_grants_it() -> None:
    sd = _descriptor(_ace(ACCESS_ALLOWED_OBJECT, CR, ME, object_type=RESET_PASSWORD_RIGHT))
    aces = parse_dacl(sd)
    assert aces[0].sid == ME and aces[0].object_type == RESET_PASSWORD_RIGHT
    assert has_control_access(aces, {ME}, RESET_PASSWORD_RIGHT)
    assert not has_control_access(aces, {OTHER}, RESET_PASSWORD_RIGHT)


def test_other_rights_and_inherit_only_aces_do_not_count() -> None:
    change_password = uuid.UUID("ab721a53-1e2f-11d0-9819-00aa0040529b")
    sd = _descriptor(
        _ace(ACCESS_ALLOWED_OBJECT, CR, ME, object_type=change_password),
        _ace(ACCESS_ALLOWED, CR, ME, flags=INHERIT_ONLY_ACE),
        _ace(ACCESS_ALLOWED, 0x20, ME),  # write property only
    )
    assert not has_control_access(parse_dacl(sd), {ME}, RESET_PASSWORD_RIGHT)


def test_first_deciding_ace_wins() -> None:
    deny_first = _descriptor(
        _ace(ACCESS_DENIED_OBJECT, CR, ME, object_type=RESET_PASSWORD_RIGHT),
        _ace(ACCESS_ALLOWED, 0xF01FF, ME),
    )
    assert not has_control_access(parse_dacl(deny_first), {ME}, RESET_PASSWORD_RIGHT)
    allow_first = _descriptor(
        _ace(ACCESS_ALLOWED, 0xF01FF, OTHER),  # full control, through a group
        _ace(ACCESS_DENIED, CR, ME),
    )
    assert has_control_access(parse_dacl(allow_first), {ME, OTHER}, RESET_PASSWORD_RIGHT)


def test_malformed_descriptors_are_refused() -> None:
    with pytest.raises(ValueError, match="short"):
        parse_dacl(b"\x01\x00")
    broken = bytearray(_descriptor(_ace(ACCESS_ALLOWED, CR, ME)))
    broken[20 + 8 + 2] = 0xFF  # an ACE longer than its ACL
    with pytest.raises(ValueError, match="ACE"):
        parse_dacl(bytes(broken))
    assert parse_dacl(struct.pack("<BBHIIII", 1, 0, 0x8000, 0, 0, 0, 0)) == []
    assert sid_to_str(_sid(ME)) == ME


# -- against the Samba DC ----------------------------------------------------------------


async def test_delegated_service_account(ad: ActiveDirectoryConnector) -> None:
    rows = await _diagnose(ad, NEEDS)
    found = _by_check(rows)
    assert found["connect"].status is Status.OK
    assert found["connect"].summary.startswith("bound as CN=svc-helpdesk")
    assert found["least privilege"].status is Status.OK
    assert found["group figma-editors"].status is Status.OK
    rights = {f.check: f for f in rows if f.check.startswith("rights ")}
    assert rights, [f.check for f in rows]
    assert all(f.status is Status.OK for f in rights.values()), rights
    assert any("OU=Helpdesk" in check for check in rights)
    # guard (via tier0-ops in it-admins) and shadow-admin (adminCount=1) sit in the
    # delegated OU: AD would let the account reset them, the connector does not.
    protected = found["protected accounts"]
    assert protected.status is Status.WARN
    assert {"guard", "shadow-admin"} <= set(protected.data["accounts"])
    assert found["domain policy"].status is Status.OK
    assert not [f for f in rows if f.status is Status.FAIL]


async def test_domain_admin_is_over_privileged(
    make_connector: Callable[..., ActiveDirectoryConnector],
) -> None:
    admin = make_connector(bind_dn=f"CN=Administrator,{USERS_CN}", password=ADMIN_PASSWORD)
    found = _by_check(await _diagnose(admin, NEEDS))
    over = found["least privilege"]
    assert over.status is Status.FAIL
    assert "Domain Admins" in over.data["privileged_groups"]
    assert over.fix is not None and "Reset Password" in over.fix


async def test_account_without_delegation(
    samba_dc: SambaDC, make_connector: Callable[..., ActiveDirectoryConnector]
) -> None:
    bare = samba_dc.make_user("svc-bare", ou=USERS_CN, password=ACCOUNT_PASSWORD)
    conn = make_connector(bind_dn=bare.dn, password=ACCOUNT_PASSWORD)
    rows = await _diagnose(conn, NEEDS)
    found = _by_check(rows)
    assert found["connect"].status is Status.OK
    assert found["least privilege"].status is Status.OK  # not privileged, just powerless
    assert found["group figma-editors"].status is Status.FAIL
    assert "cannot write member" in found["group figma-editors"].summary
    failing = [f for f in rows if f.check.startswith("rights ") and f.status is Status.FAIL]
    assert failing
    lacking = failing[0].data["lacking"]
    assert set(lacking) == {"Reset Password", "write pwdLastSet", "write lockoutTime"}
    assert found["protected accounts"].status is Status.OK


async def test_disabling_on_a_report_needs_write_user_account_control(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector,
    make_connector: Callable[..., ActiveDirectoryConnector],
) -> None:
    suspending = replace(NEEDS, containment=frozenset({ContainStep.SUSPEND}))
    # Not asked (no suspend on a report): not checked.
    assert not [f for f in await _diagnose(ad, NEEDS) if f.check.startswith("containment ")]
    found = {f.check: f for f in await _diagnose(ad, suspending)
             if f.check.startswith("containment ")}
    helpdesk = [f for check, f in found.items() if "OU=Helpdesk" in check]
    assert helpdesk and all(f.status is Status.OK for f in helpdesk), found
    bare = samba_dc.make_user("svc-nouac", ou=USERS_CN, password=ACCOUNT_PASSWORD)
    conn = make_connector(bind_dn=bare.dn, password=ACCOUNT_PASSWORD)
    rows = [f for f in await _diagnose(conn, suspending) if f.check.startswith("containment ")]
    assert rows and all(f.status is Status.WARN for f in rows)
    assert rows[0].fix is not None and "userAccountControl" in rows[0].fix


async def test_write_on_a_protected_group_is_flagged(
    samba_dc: SambaDC, make_connector: Callable[..., ActiveDirectoryConnector]
) -> None:
    wide = samba_dc.make_user("svc-wide", ou=USERS_CN, password=ACCOUNT_PASSWORD)
    raw = samba_dc.search_one(wide.dn, "objectSid")["objectSid"][0]
    g = samba_dc.guids
    ace = f"(OA;;WP;{g['member']};;{sid_to_str(raw)})"
    samba_dc._tool("dsacl", "set", f"--objectdn=CN=it-admins,{USERS_CN}", f"--sddl={ace}")
    conn = make_connector(bind_dn=wide.dn, password=ACCOUNT_PASSWORD)
    rows = await _diagnose(conn, NEEDS)
    writable = [f for f in rows if f.check == "protected groups" and f.status is Status.WARN]
    assert writable and writable[0].data["writable"] == ["it-admins"]


async def test_links_are_refused_and_a_bad_password_fails_to_connect(
    make_connector: Callable[..., ActiveDirectoryConnector],
) -> None:
    links = Needs(capabilities=Capability.PASSWORD_RESET, reset_delivery=ResetDelivery.LINK)
    found = _by_check(await _diagnose(make_connector(), links))
    assert found["reset delivery"].status is Status.FAIL
    password = "not-the-password-" + secrets.token_hex(4)
    rows = await _diagnose(make_connector(password=password), NEEDS)
    assert [f.check for f in rows] == ["connect"]
    assert rows[0].status is Status.FAIL
    assert "invalid credentials" in rows[0].summary
    assert password not in str([f.to_dict() for f in rows])
