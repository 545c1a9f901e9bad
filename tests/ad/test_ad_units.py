"""AD connector pieces that need no server: encodings, the error table, settings, status."""

from __future__ import annotations

import ssl
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from config.secrets import MissingSecret
from connectors.ad.connector import ActiveDirectoryConnector, build
from connectors.ad.errors import (
    PASSWORD_POLICY_MESSAGE,
    TransientFailure,
    bind_error,
    error_from_exception,
    error_from_result,
)
from connectors.ad.ldap3 import ldap_exc
from connectors.ad.policy import DomainPolicy, is_locked, password_status, user_status
from connectors.ad.settings import Settings
from connectors.ad.values import (
    FILETIME_NEVER,
    INTERVAL_NEVER,
    UAC,
    Entry,
    character_classes,
    datetime_to_filetime,
    escape,
    filetime_to_datetime,
    forbidden_tokens,
    generate_temp_password,
    guid_filter_value,
    guid_to_str,
    interval_to_timedelta,
    sid_to_str,
    split_sid,
)
from connectors.base import (
    Capability,
    DirectoryUser,
    MfaResetter,
    ResetDelivery,
    UserStatus,
    implemented_capabilities,
)
from connectors.errors import (
    GroupNotFound,
    InvalidState,
    NotSupported,
    PermissionDenied,
    PolicyRejected,
    Unavailable,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = DomainPolicy(
    domain_dn="DC=example,DC=com",
    min_pwd_length=10,
    complexity=True,
    max_pwd_age=timedelta(days=30),
    lockout_duration=timedelta(minutes=30),
    lockout_threshold=3,
    shortest_max_age=timedelta(days=30),
)


def entry(**attrs: int | str) -> Entry:
    return Entry("CN=x,DC=example,DC=com", {k.lower(): [str(v).encode()] for k, v in attrs.items()})


def bind_result(code: str) -> dict[str, object]:
    return {
        "result": 49,
        "description": "invalidCredentials",
        "message": f"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, "
        f"data {code}, v1db1",
    }


# -- encodings --------------------------------------------------------------------


def test_filetime_round_trip_and_sentinels() -> None:
    assert filetime_to_datetime(116444736000000000) == datetime(1970, 1, 1, tzinfo=UTC)
    assert datetime_to_filetime(datetime(1970, 1, 1, tzinfo=UTC)) == 116444736000000000
    moment = datetime(2026, 11, 23, 10, 32, 14, 308352, tzinfo=UTC)
    assert filetime_to_datetime(datetime_to_filetime(moment)) == moment
    assert filetime_to_datetime(0) is None
    assert filetime_to_datetime(FILETIME_NEVER) is None
    with pytest.raises(ValueError):
        datetime_to_filetime(datetime(2026, 1, 1))  # naive


def test_intervals_are_negated_ticks() -> None:
    assert interval_to_timedelta(-25920000000000) == timedelta(days=30)
    assert interval_to_timedelta(-18000000000) == timedelta(minutes=30)
    assert interval_to_timedelta(INTERVAL_NEVER) is None


def test_guid_and_sid_forms() -> None:
    raw = b"\xf9\xb9\x90\x94~!tB\xaf\xe5\xa2d\xc7\xc6\xd9^"
    assert guid_to_str(raw) == "9490b9f9-217e-4274-afe5-a264c7c6d95e"
    value = guid_filter_value("9490B9F9-217E-4274-AFE5-A264C7C6D95E")
    assert value == "\\f9\\b9\\90\\94\\7e\\21\\74\\42\\af\\e5\\a2\\64\\c7\\c6\\d9\\5e"
    assert guid_filter_value("00uDoesNotExist000000") is None
    assert guid_filter_value("*") is None
    sid = b"\x01\x05\x00\x00\x00\x00\x00\x05\x15\x00\x00\x00\x1b-\xd8\xbe\xbbL\xc0\xd4\x18\xd4\xc3\xf4\xf4\x01\x00\x00"  # noqa: E501
    assert sid_to_str(sid) == "S-1-5-21-3201838363-3569372347-4106474520-500"
    assert split_sid(sid) == ("S-1-5-21-3201838363-3569372347-4106474520", 500)


def test_filter_escaping() -> None:
    for hostile in ("*)(mail=*", "*", "a\\b", "x)(|(objectClass=*)", "nul\x00"):
        escaped = escape(hostile)
        assert not any(c in escaped for c in "*()\x00"), escaped
    assert escape("*)(mail=*") == "\\2a\\29\\28mail=\\2a"


def test_temp_passwords_meet_complexity() -> None:
    for length in (8, 16, 40):
        for _ in range(50):
            pw = generate_temp_password(length, forbidden=["jdoe", "john"])
            assert len(pw) == length
            assert character_classes(pw) == 4
            assert "jdoe" not in pw.lower() and "john" not in pw.lower()
            assert '"' not in pw and "\\" not in pw
    with pytest.raises(ValueError):
        generate_temp_password(7)


def test_forbidden_tokens_follow_the_complexity_rule() -> None:
    assert forbidden_tokens("jdoe", "John Doe-Smith, Jr") == ["jdoe", "john", "doe", "smith"]
    assert forbidden_tokens("ab", "Al") == []


# -- the error table -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind", "meaning"),
    [
        ("52e", PermissionDenied, "invalid credentials"),
        ("525", PermissionDenied, "account not found"),
        ("532", InvalidState, "password expired"),
        ("533", InvalidState, "account disabled"),
        ("773", InvalidState, "password must be changed at next logon"),
        ("775", InvalidState, "account locked out"),
    ],
)
def test_bind_data_codes(code: str, kind: type[Exception], meaning: str) -> None:
    error = error_from_result("ad", "bind as jdoe", bind_result(code))
    assert type(error) is kind
    assert error.code == code and meaning in error.message


def test_service_bind_failure_is_permission_denied_with_the_reason() -> None:
    error = bind_error("ad", "CN=svc", bind_result("775"))
    assert isinstance(error, PermissionDenied)
    assert error.code == "775" and "account locked out" in error.message
    assert "bind_password" in error.message


def test_password_policy_refusal_is_safe_to_show() -> None:
    secret = "Very-Secret-123!"
    result = {
        "description": "constraintViolation",
        "message": f"0000052D: Constraint violation - password {secret} is too short",
    }
    error = error_from_result(
        "ad", "reset password", result, password_change=True, secrets=[secret]
    )
    assert isinstance(error, PolicyRejected)
    assert error.user_message == PASSWORD_POLICY_MESSAGE
    assert secret not in str(error) and "[REDACTED]" in error.message
    unwilling = {"description": "unwillingToPerform", "message": "0000001F: SvcErr"}
    assert isinstance(
        error_from_result("ad", "reset password", unwilling, password_change=True),
        PolicyRejected,
    )


def test_result_codes() -> None:
    denied = error_from_result("ad", "unlock", {"description": "insufficientAccessRights"})
    assert isinstance(denied, PermissionDenied)
    missing = error_from_result("ad", "g", {"description": "noSuchObject"}, missing=GroupNotFound)
    assert isinstance(missing, GroupNotFound)
    tls = error_from_result("ad", "bind", {"description": "strongerAuthRequired"})
    assert isinstance(tls, PermissionDenied)
    for name in ("busy", "unavailable", "timeLimitExceeded"):
        with pytest.raises(TransientFailure) as info:
            error_from_result("ad", "find user", {"description": name})
        assert isinstance(info.value.error, Unavailable)


def test_transport_exceptions() -> None:
    error, transient = error_from_exception(
        "ad", "connect", ssl.SSLCertVerificationError("certificate verify failed")
    )
    assert error.code == "tls" and not transient
    wrapped = ldap_exc.LDAPSocketOpenError(
        "socket ssl wrapping error: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
    )
    assert error_from_exception("ad", "connect", wrapped)[0].code == "tls"
    refused = ldap_exc.LDAPSocketOpenError("socket connection error while opening: refused")
    error, transient = error_from_exception("ad", "connect", refused)
    assert isinstance(error, Unavailable) and error.code == "socket" and transient
    error, transient = error_from_exception("ad", "x", ldap_exc.LDAPResponseTimeoutError("t"))
    assert error.code == "timeout" and transient


# -- status ----------------------------------------------------------------------------


def test_status_mapping() -> None:
    assert user_status(entry(userAccountControl=0x202, pwdLastSet=1), POLICY, NOW) == (
        UserStatus.SUSPENDED
    )
    locked = entry(
        userAccountControl=0x200, pwdLastSet=1, **{"msDS-User-Account-Control-Computed": 0x10}
    )
    assert user_status(locked, POLICY, NOW) is UserStatus.LOCKED_OUT
    assert user_status(entry(userAccountControl=0x200, pwdLastSet=0), POLICY, NOW) is (
        UserStatus.PASSWORD_EXPIRED
    )
    fine = entry(userAccountControl=0x200, pwdLastSet=datetime_to_filetime(NOW))
    assert user_status(fine, POLICY, NOW) is UserStatus.ACTIVE


def test_lockout_time_without_computed_attribute() -> None:
    recent = entry(lockoutTime=datetime_to_filetime(NOW - timedelta(minutes=5)))
    old = entry(lockoutTime=datetime_to_filetime(NOW - timedelta(minutes=31)))
    assert is_locked(recent, POLICY, NOW)
    assert not is_locked(old, POLICY, NOW)
    assert is_locked(old, replace(POLICY, lockout_duration=None), NOW)
    assert not is_locked(entry(lockoutTime=0), POLICY, NOW)


def test_password_status_cases() -> None:
    set_at = NOW - timedelta(days=27)
    computed = entry(
        userAccountControl=0x200,
        pwdLastSet=datetime_to_filetime(set_at),
        **{"msDS-UserPasswordExpiryTimeComputed": datetime_to_filetime(set_at + timedelta(30))},
    )
    status = password_status(computed, POLICY, NOW)
    assert status.expires_at == set_at + timedelta(days=30) and status.days_left(NOW) == 3
    never = entry(
        userAccountControl=0x200,
        pwdLastSet=1,
        **{"msDS-UserPasswordExpiryTimeComputed": FILETIME_NEVER},
    )
    assert password_status(never, POLICY, NOW).never_expires
    flag = entry(userAccountControl=0x200 | int(UAC.DONT_EXPIRE_PASSWORD), pwdLastSet=1)
    assert password_status(flag, POLICY, NOW).never_expires
    must = entry(
        userAccountControl=0x200, pwdLastSet=0, **{"msDS-UserPasswordExpiryTimeComputed": 0}
    )
    status = password_status(must, POLICY, NOW)
    assert not status.never_expires and status.expires_at == NOW and status.last_changed is None
    fallback = entry(userAccountControl=0x200, pwdLastSet=datetime_to_filetime(set_at))
    assert password_status(fallback, POLICY, NOW).expires_at == set_at + timedelta(days=30)


# -- settings and the connector object ---------------------------------------------------


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "url": "ldaps://dc1.example.com",
        "base_dn": "DC=example,DC=com",
        "bind_dn": "CN=svc,DC=example,DC=com",
        "bind_password": {"env": "AD_PW"},
    }
    values.update(overrides)
    return Settings.model_validate(values)


def test_settings_defaults_and_validation() -> None:
    s = settings()
    assert s.urls == ["ldaps://dc1.example.com"]
    assert s.verify_tls is True and s.page_size == 1000 and s.temp_password_length >= 8
    with pytest.raises(ValidationError, match="clear text"):
        settings(url="ldap://dc1.example.com")
    assert settings(url="ldap://dc1.example.com", start_tls=True).start_tls
    with pytest.raises(ValidationError):
        settings(url="https://dc1.example.com")
    with pytest.raises(ValidationError):
        settings(unexpected=True)
    with pytest.raises(ValidationError):
        settings(ca_file="/nonexistent/ca.pem")


def test_build_resolves_the_secret_and_hides_it() -> None:
    connector = build("corp-ad", settings(), {"AD_PW": "Bind-Password-Value-1"})
    assert isinstance(connector, ActiveDirectoryConnector)
    assert "Bind-Password-Value-1" not in repr(connector)
    assert "Bind-Password-Value-1" not in repr(connector._transport)
    with pytest.raises(MissingSecret):
        build("corp-ad", settings(), {})


def test_capabilities_exclude_mfa() -> None:
    connector = build("corp-ad", settings(), {"AD_PW": "x" * 12})
    assert connector.capabilities == implemented_capabilities(connector)
    assert Capability.MFA_RESET not in connector.capabilities
    assert not isinstance(connector, MfaResetter)


async def test_link_reset_is_not_supported() -> None:
    connector = build("corp-ad", settings(), {"AD_PW": "x" * 12})
    user = DirectoryUser(
        "corp-ad", "9490b9f9-217e-4274-afe5-a264c7c6d95e", "a@x", "a", "A", UserStatus.ACTIVE
    )
    with pytest.raises(NotSupported, match="temp_password"):
        await connector.start_password_reset(user, ResetDelivery.LINK)
    await connector.aclose()


def test_expiring_filter_shape() -> None:
    connector = build("corp-ad", settings(), {"AD_PW": "x" * 12})
    before = NOW + timedelta(days=14)
    flt = connector.expiring_filter(before, POLICY)
    assert flt is not None
    cutoff = datetime_to_filetime(before - timedelta(days=30))
    assert f"(pwdLastSet<={cutoff})" in flt and "(pwdLastSet>=1)" in flt
    assert "(!(userAccountControl:1.2.840.113556.1.4.803:=65536))" in flt
    assert "(!(userAccountControl:1.2.840.113556.1.4.803:=2))" in flt
    assert connector.expiring_filter(before, replace(POLICY, shortest_max_age=None)) is None
