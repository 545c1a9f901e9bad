"""AD behaviour against a real Samba DC: lockout, temporary passwords, expiry, TLS, protection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
import trustme

from config.secrets import live_secret_values
from connectors.ad.connector import ActiveDirectoryConnector
from connectors.ad.errors import PASSWORD_POLICY_MESSAGE, error_from_result
from connectors.ad.ldap import modify
from connectors.ad.ldap3 import ldap3
from connectors.ad.values import character_classes, filetime_to_datetime, guid_to_str
from connectors.base import (
    MembershipChange,
    ResetDelivery,
    UnlockResult,
    UserStatus,
)
from connectors.errors import (
    GroupNotFound,
    InvalidState,
    NotSupported,
    PermissionDenied,
    PolicyRejected,
    Unavailable,
    UserNotFound,
)
from tests.ad.samba import (
    MAX_PWD_AGE,
    MIN_PWD_LENGTH,
    OU_DN,
    PAGED_OU_DN,
    PAGED_USERS,
    SERVER_NAME,
    SERVICE_PASSWORD,
    USER_PASSWORD,
    USERS_CN,
    SambaDC,
)

pytestmark = pytest.mark.samba

Factory = Callable[..., ActiveDirectoryConnector]


# -- lockout and unlock ------------------------------------------------------------


async def test_lockout_by_failed_binds_then_unlock(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    u = samba_dc.make_user("lock")
    samba_dc.lock_out(u.email)
    result = samba_dc.try_bind(u.email, u.password)  # even the right password is refused now
    error = error_from_result("ad", "bind", result)
    assert isinstance(error, InvalidState) and error.code == "775"

    user = await ad.find_user_by_email(u.email)
    assert user.status is UserStatus.LOCKED_OUT
    assert await ad.unlock(user) is UnlockResult.UNLOCKED
    assert samba_dc.try_bind(u.email, u.password)["description"] == "success"
    again = await ad.get_user(user.id)
    assert again.status is UserStatus.ACTIVE
    assert await ad.unlock(again) is UnlockResult.NOT_LOCKED


# -- temporary passwords -------------------------------------------------------------


async def test_temporary_password_is_real_and_must_be_changed(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    u = samba_dc.make_user("reset")
    user = await ad.find_user_by_email(u.email)
    grant = await ad.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
    temp = grant.secret.reveal()
    assert grant.must_change_at_next_login and grant.delivery is ResetDelivery.TEMP_PASSWORD
    assert len(temp) >= max(16, MIN_PWD_LENGTH) and character_classes(temp) == 4
    assert temp not in repr(grant)

    # The right password with pwdLastSet=0 is refused with data 773 (must change),
    # a wrong one with 52e: so the temporary password is the account's password now.
    must_change = samba_dc.try_bind(u.email, temp)
    error = error_from_result("ad", "bind", must_change)
    assert isinstance(error, InvalidState) and error.code == "773"
    assert "must be changed at next logon" in error.message
    old = error_from_result("ad", "bind", samba_dc.try_bind(u.email, u.password))
    assert isinstance(old, PermissionDenied) and old.code == "52e"

    after = await ad.get_user(user.id)
    assert after.status is UserStatus.PASSWORD_EXPIRED
    status = await ad.password_status(after)
    assert status.last_changed is None and not status.never_expires
    raw = samba_dc.search_one(u.dn, "pwdLastSet")
    assert raw["pwdLastSet"] == [b"0"]


async def test_temporary_password_length_follows_domain_minimum(
    samba_dc: SambaDC, make_connector: Factory
) -> None:
    ad = make_connector(temp_password_length=8)
    u = samba_dc.make_user("short")
    user = await ad.find_user_by_email(u.email)
    grant = await ad.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
    assert len(grant.secret.reveal()) == MIN_PWD_LENGTH  # minPwdLength read from the domain


async def test_policy_refusal_is_policy_rejected_without_the_password(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    u = samba_dc.make_user("strict")
    samba_dc.add_member(f"CN=strict-passwords,{OU_DN}", u.dn)  # PSO: 64 characters minimum
    user = await ad.find_user_by_email(u.email)
    with pytest.raises(PolicyRejected) as info:
        await ad.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
    error = info.value
    assert error.user_message == PASSWORD_POLICY_MESSAGE
    assert error.code == "constraintViolation" and "0000052D" in error.message
    recent = live_secret_values()
    for text in (str(error), error.message, error.user_message, repr(error)):
        assert not any(secret in text for secret in recent if len(secret) >= 16)
    assert samba_dc.try_bind(u.email, u.password)["description"] == "success"  # unchanged


async def test_disabled_account_is_invalid_state(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    u = samba_dc.make_user("off", uac=0x202)
    user = await ad.find_user_by_email(u.email)
    assert user.status is UserStatus.SUSPENDED
    with pytest.raises(InvalidState):
        await ad.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
    with pytest.raises(NotSupported):
        await ad.start_password_reset(user, ResetDelivery.LINK)


# -- expiry ------------------------------------------------------------------------------


async def test_expiry_matches_what_samba_computes(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    soon = samba_dc.seeded["soon"]
    user = await ad.find_user_by_email(soon.email)
    status = await ad.password_status(user)
    raw = samba_dc.search_one(soon.dn, "pwdLastSet", "msDS-UserPasswordExpiryTimeComputed")
    last_set = filetime_to_datetime(int(raw["pwdLastSet"][0]))
    computed = filetime_to_datetime(int(raw["msDS-UserPasswordExpiryTimeComputed"][0]))
    assert last_set is not None and computed is not None
    assert status.last_changed == last_set
    assert status.expires_at == computed == last_set + MAX_PWD_AGE
    now = datetime.now(UTC)
    assert status.days_left(now) == 2  # set 27 days ago, 30-day maximum: under 3 days left
    assert timedelta(days=2, hours=23) < computed - now <= timedelta(days=3)


async def test_sweep_skips_never_expiring_disabled_and_must_change(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    must = samba_dc.make_user("mustchange")
    samba_dc.modify(must.dn, {"pwdLastSet": [(ldap3.MODIFY_REPLACE, ["0"])]})
    forever = await ad.find_user_by_email(samba_dc.seeded["forever"].email)
    status = await ad.password_status(forever)
    assert status.never_expires and status.expires_at is None
    assert status.last_changed is not None  # 40 days old, but never expires

    before = datetime.now(UTC) + timedelta(days=14)
    found: set[str] = set()
    async for page in ad.iter_expiring(before):
        for row in page:
            assert row.status.expires_at is not None and row.status.expires_at < before
            found.add(row.user.email)
    assert samba_dc.seeded["soon"].email in found
    for name in ("forever", "disabled-old"):
        assert samba_dc.seeded[name].email not in found
    assert must.email not in found
    assert "svc-helpdesk@test.local" not in found  # DONT_EXPIRE_PASSWORD service account


async def test_sweep_is_paged_across_more_entries_than_a_page(
    samba_dc: SambaDC, make_connector: Factory
) -> None:
    ad = make_connector(users_dn=PAGED_OU_DN, page_size=3)
    pages = [page async for page in ad.iter_expiring(datetime.now(UTC) + timedelta(days=7))]
    assert len(pages) >= 3 and all(1 <= len(p) <= 3 for p in pages)
    names = sorted(row.user.attributes["sAMAccountName"] for page in pages for row in page)
    assert names == [f"paged-{i:02d}" for i in range(PAGED_USERS)]

    # Abandoning a sweep mid-way releases its connection; the connector keeps working.
    sweep = ad.iter_expiring(datetime.now(UTC) + timedelta(days=7))
    first = await anext(sweep)
    assert len(first) <= 3
    await sweep.aclose()
    assert (await ad.find_user("paged-00")).attributes["sAMAccountName"] == "paged-00"


async def test_a_shorter_fine_grained_policy_the_account_cannot_read(
    samba_dc: SambaDC, make_connector: Factory
) -> None:
    """A PSO expiring passwords after 10 days, on a group: the sweep's server-side cutoff
    uses the shortest maximum age it can read; when the service account cannot read the
    PSO, ``shortest_max_password_age`` widens it, and each expiry is the DC's own."""
    samba_dc.add_group("short-age")
    samba_dc._tool(
        "domain", "passwordsettings", "pso", "create", "short-age-pso", "2",
        "--max-pwd-age=10", "--min-pwd-length=8",
    )
    samba_dc._tool("domain", "passwordsettings", "pso", "apply", "short-age-pso", "short-age")
    u = samba_dc.make_user("shortage")
    samba_dc.add_member(f"CN=short-age,{OU_DN}", u.dn)
    samba_dc.set_password_age({u.dn: timedelta(days=15)})

    ad = make_connector()
    user = await ad.find_user_by_email(u.email)
    status = await ad.password_status(user)  # the DC's computed expiry honours the PSO
    assert status.last_changed is not None and status.expires_at is not None
    assert status.expires_at - status.last_changed == timedelta(days=10)

    before = datetime.now(UTC) + timedelta(days=7)

    async def swept(connector: ActiveDirectoryConnector) -> set[str]:
        return {row.user.email async for page in connector.iter_expiring(before) for row in page}

    # The delegated account cannot read PSOs (only administrators can): with the domain's
    # 30 days alone, a password set 15 days ago looks far from expiry and is not fetched.
    assert u.email not in await swept(ad)
    declared = make_connector(shortest_max_password_age="10d")
    found = await swept(declared)
    assert u.email in found and samba_dc.seeded["soon"].email in found


# -- lookups -------------------------------------------------------------------------------


async def test_filter_injection_does_not_widen_the_search(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    odd = samba_dc.make_user("odd", mail="pat(ops)*x@test.local")
    for hostile in (
        "*)(mail=*",
        "*",
        "*@test.local",
        "pat(ops)*@test.local",
        "soon*",
        "x)(|(objectClass=*)",
        "\\2a",
        "paged-0*",
    ):
        with pytest.raises(UserNotFound) as info:
            await ad.find_user_by_email(hostile)
        # Not found, rather than several found and refused: the filter did not widen.
        assert info.value.code != "ambiguous", hostile
    found = await ad.find_user_by_email("PAT(OPS)*X@test.local")
    assert found.attributes["sAMAccountName"] == odd.name
    assert (await ad.find_user("guard")).email == samba_dc.seeded["guard"].email  # sAMAccountName
    assert (await ad.find_user("guard@test.local")).email == "guard@test.local"  # UPN
    for hostile in ("*", "figma*", "*)(cn=*"):
        with pytest.raises(GroupNotFound):
            await ad.find_group(hostile)


async def test_ids_are_object_guids(samba_dc: SambaDC, ad: ActiveDirectoryConnector) -> None:
    soon = samba_dc.seeded["soon"]
    user = await ad.find_user_by_email(soon.email)
    raw = samba_dc.search_one(soon.dn, "objectGUID")
    assert user.id == guid_to_str(raw["objectGUID"][0])
    assert user.attributes["dn"] == soon.dn and user.login == soon.email
    with pytest.raises(UserNotFound):
        await ad.get_user("00000000-0000-0000-0000-000000000000")


# -- groups ---------------------------------------------------------------------------------


async def test_duplicate_answers_from_ad_map_to_idempotent_results(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    u = samba_dc.make_user("dup")
    user = await ad.find_user_by_email(u.email)
    group = await ad.find_group("figma-editors")
    assert await ad.add_to_group(user, group) is MembershipChange.ADDED
    # Pretend the pre-check lost a race: the server's own answers must still be mapped.
    monkeypatch.setattr(ActiveDirectoryConnector, "_is_direct_member", lambda *a: False)
    assert await ad.add_to_group(user, group) is MembershipChange.ALREADY_MEMBER  # 68
    monkeypatch.setattr(ActiveDirectoryConnector, "_is_direct_member", lambda *a: True)
    assert await ad.remove_from_group(user, group) is MembershipChange.REMOVED
    calls = iter([True, False])  # pre-check says member, re-check after 53 says not
    monkeypatch.setattr(ActiveDirectoryConnector, "_is_direct_member", lambda *a: next(calls))
    assert await ad.remove_from_group(user, group) is MembershipChange.NOT_MEMBER  # 53


# -- protection -------------------------------------------------------------------------------


async def test_protected_accounts_are_refused_by_the_connector(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    # Both live in the OU the service account may reset: only the connector stops it.
    for key, why in (("guard", "member of protected group it-admins"), ("shadow", "adminCount=1")):
        seeded = samba_dc.seeded[key]
        user = await ad.find_user_by_email(seeded.email)
        reasons = await ad.protections(user, [])
        assert any(why in str(r) for r in reasons), reasons
        with pytest.raises(PermissionDenied) as info:
            await ad.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
        assert info.value.code == "protected" and why in info.value.message
        with pytest.raises(PermissionDenied):
            await ad.unlock(user)
        assert samba_dc.try_bind(seeded.email, USER_PASSWORD)["description"] == "success"


async def test_membership_of_protected_groups_is_refused(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    u = samba_dc.make_user("climber")
    user = await ad.find_user_by_email(u.email)
    tier0 = await ad.find_group("tier0-ops")  # nested inside it-admins
    with pytest.raises(PermissionDenied) as info:
        await ad.add_to_group(user, tier0)
    assert info.value.code == "protected_group"
    assert not await ad.is_member(user, tier0)


async def test_primary_group_counts_as_membership(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    u = samba_dc.make_user("primary")
    domain_admins = f"CN=Domain Admins,{USERS_CN}"
    samba_dc.add_member(domain_admins, u.dn)
    samba_dc.modify(u.dn, {"primaryGroupID": [(ldap3.MODIFY_REPLACE, ["512"])]})
    user = await ad.find_user_by_email(u.email)
    reasons = await ad.protections(user, [])
    assert any("Domain Admins" in str(r) for r in reasons), reasons


async def test_service_account_is_delegated_not_admin(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    svc = await ad.find_user_by_email("svc-helpdesk@test.local")
    assert await ad.protections(svc, ["it-admins"]) == []
    # Outside the delegated OU, AD itself says no, and that maps to PermissionDenied.
    outsider = samba_dc.make_user("outsider", ou=USERS_CN)
    user = await ad.find_user_by_email(outsider.email)
    with pytest.raises(PermissionDenied) as info:
        await ad.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
    assert info.value.code == "insufficientAccessRights"


# -- TLS and connections --------------------------------------------------------------------------


async def test_wrong_ca_fails_with_a_clear_error(make_connector: Factory, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    ad = make_connector(ca_file=str(other))
    with pytest.raises(Unavailable) as info:
        await ad.find_user("guard")
    assert info.value.code == "tls"
    assert "certificate verify failed" in info.value.message.lower()
    assert "ca_file" in info.value.message


async def test_certificate_name_is_checked(make_connector: Factory) -> None:
    wrong = make_connector(tls_server_name="other.test.local")
    with pytest.raises(Unavailable) as info:
        await wrong.find_user("guard")
    assert info.value.code == "tls" and "mismatch" in info.value.message.lower()
    by_ip = make_connector(tls_server_name=None)  # the certificate has no IP address
    with pytest.raises(Unavailable, match=r"(?i)certificate"):
        await by_ip.find_user("guard")


async def test_start_tls_works_and_plain_binds_are_refused(
    samba_dc: SambaDC, make_connector: Factory
) -> None:
    ad = make_connector(urls=[samba_dc.ldap_url], start_tls=True)
    assert (await ad.find_user("guard")).email == "guard@test.local"
    server = ldap3.Server(samba_dc.address, port=389, get_info=ldap3.NONE)
    conn = ldap3.Connection(
        server, samba_dc.seeded["svc"].dn, SERVICE_PASSWORD, client_strategy=ldap3.SAFE_SYNC
    )
    _, result, _, _ = conn.bind()
    conn.unbind()
    error = error_from_result("ad", "bind", result)
    assert result["description"] == "strongerAuthRequired" and isinstance(error, PermissionDenied)


async def test_bad_service_password_is_tried_once(
    samba_dc: SambaDC, make_connector: Factory
) -> None:
    good = make_connector()
    await good.find_user("guard")  # a good bind resets the service account's badPwdCount
    # Two controllers and three attempts allowed: a refused bind must still be tried once,
    # or the helpdesk would lock its own service account out.
    ad = make_connector(
        password="Wrong-Service-Pass-1", urls=[samba_dc.ldaps_url] * 2, retry_attempts=3
    )
    with pytest.raises(PermissionDenied) as info:
        await ad.find_user("guard")
    assert info.value.code == "52e" and "Wrong-Service-Pass-1" not in str(info.value)
    raw = samba_dc.search_one(samba_dc.seeded["svc"].dn, "badPwdCount")
    assert raw["badPwdCount"] == [b"1"]


async def test_unreachable_server_is_unavailable_and_failover_works(
    samba_dc: SambaDC, make_connector: Factory
) -> None:
    dead = "ldaps://127.0.0.1:1"
    down = make_connector(urls=[dead], retry_attempts=2, connect_timeout=1)
    started = asyncio.get_running_loop().time()
    with pytest.raises(Unavailable) as info:
        await down.find_user("guard")
    assert info.value.code == "socket"
    assert asyncio.get_running_loop().time() - started < 5
    failover = make_connector(urls=[dead, samba_dc.ldaps_url])
    assert (await failover.find_user("guard")).email == "guard@test.local"


async def test_reconnects_after_dropped_connections(
    samba_dc: SambaDC, make_connector: Factory
) -> None:
    ad = make_connector(pool_size=2)
    u = samba_dc.make_user("drop")
    user = await ad.find_user_by_email(u.email)

    def drop_idle() -> int:
        idle = list(ad._transport._idle)
        for pooled in idle:
            pooled.conn.socket.close()  # as if the DC had closed idle sessions
        return len(idle)

    with structlog.testing.capture_logs() as logs:
        assert drop_idle() >= 1
        assert (await ad.get_user(user.id)).id == user.id
    assert [e["event"] for e in logs] == ["ad.retry"]  # a read is retried on a new connection

    # A write is never replayed blindly: a reused connection is probed first and
    # replaced if dead, so the modify itself goes out once, on a live connection.
    dn = user.attributes["dn"]

    def write(conn: object) -> bool:
        ok, _ = modify(conn, dn, {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]})
        return ok

    with structlog.testing.capture_logs() as logs:
        assert drop_idle() >= 1
        assert await ad._transport.run("write", write, idempotent=False) is True
    assert logs == []
    grant = await ad.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
    assert "data 773" in samba_dc.try_bind(u.email, grant.secret.reveal())["message"]


async def test_concurrent_calls_share_a_bounded_pool(make_connector: Factory) -> None:
    ad = make_connector(pool_size=2)
    users = await asyncio.gather(*(ad.find_user(f"paged-{i:02d}") for i in range(PAGED_USERS)))
    assert len({u.id for u in users}) == PAGED_USERS
    assert len(ad._transport._idle) <= 2


async def test_no_secret_in_logs_or_errors(samba_dc: SambaDC, make_connector: Factory) -> None:
    with structlog.testing.capture_logs() as logs:
        ad = make_connector()
        u = samba_dc.make_user("quiet")
        user = await ad.find_user_by_email(u.email)
        grant = await ad.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
        bad = make_connector(password="Another-Wrong-Pass-9")
        with pytest.raises(PermissionDenied) as info:
            await bad.find_user("guard")
    text = repr(logs) + repr(info.value) + repr(ad) + repr(ad._transport)
    for secret in (grant.secret.reveal(), SERVICE_PASSWORD, "Another-Wrong-Pass-9"):
        assert secret not in text
    assert any(event.get("event") == "ad.password_reset" for event in logs)


async def test_tls_server_name_is_what_the_certificate_says(samba_dc: SambaDC) -> None:
    # Guard for the fixture itself: the DC's certificate carries its DNS name only.
    assert samba_dc.settings().tls_server_name == SERVER_NAME
    assert samba_dc.settings().verify_tls is True
