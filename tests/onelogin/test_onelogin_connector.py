"""OneLogin connector behaviour beyond the shared contract, against the sandbox."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from config.secrets import Secret, SecretRef
from connectors.base import MembershipChange, Protection, ProtectionKind, ResetDelivery, UserStatus
from connectors.errors import (
    ConnectorError,
    GroupNotFound,
    InvalidState,
    NotSupported,
    PermissionDenied,
    PolicyRejected,
    UserNotFound,
)
from connectors.onelogin.connector import OneLoginConnector
from connectors.onelogin.http import OneLoginHttp
from connectors.onelogin.settings import Settings
from connectors.onelogin.values import generate_temp_password
from connectors.registry import load_kind
from sandboxes.onelogin import DEMO_SEED, OneLoginSandbox, load_seed, run_onelogin_sandbox
from tests.onelogin.conftest import SECRET_ENV, connector_for

USERS = "/api/2/users"


def ADMIN(detail: str) -> Protection:
    return Protection(ProtectionKind.ADMIN_ROLE, detail)


def GROUP(detail: str) -> Protection:
    return Protection(ProtectionKind.PROTECTED_GROUP, detail)


@pytest.fixture
async def connector(sandbox: OneLoginSandbox) -> Any:
    made = connector_for(sandbox)
    yield made
    await made.aclose()


# -- finding users -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "hostile",
    [
        "*@example.com",
        "ada*@example.com",
        "!ada@example.com",
        "ada@example.com,root@example.com",
        "ada@example.com&email=*",
        "ada@example.com email=root@example.com",
        "ada @example.com",
        "",
    ],
)
async def test_wildcards_and_separators_are_refused_before_any_request(
    sandbox: OneLoginSandbox, connector: OneLoginConnector, hostile: str
) -> None:
    with pytest.raises(UserNotFound):
        await connector.find_user_by_email(hostile)
    assert sandbox.calls("GET", USERS) == []


async def test_email_value_cannot_inject_query_parameters(
    sandbox: OneLoginSandbox, connector: OneLoginConnector
) -> None:
    # "&" and "=" are legal in the local part; encoded, they stay inside the value.
    with pytest.raises(UserNotFound):
        await connector.find_user_by_email("ada&email=root@example.com")
    (call,) = sandbox.calls("GET", USERS)
    assert [k for k, _ in call.query].count("email") == 1
    assert dict(call.query)["email"] == "ada&email=root@example.com"


async def test_only_exact_matches_count_even_if_the_server_filter_is_loose(
    sandbox: OneLoginSandbox, connector: OneLoginConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Make the server's email filter a prefix match: extra rows must be ignored.
    monkeypatch.setattr(
        "sandboxes.onelogin.app.matches_filter",
        lambda actual, pattern: (actual or "").lower().startswith(pattern.lower()),
    )
    sandbox.state.add_user("ada@example.com.evil", now=time.time())
    user = await connector.find_user_by_email("ADA@example.com")
    assert user.email == "ada@example.com"


async def test_duplicate_emails_are_not_guessed(
    sandbox: OneLoginSandbox, connector: OneLoginConnector
) -> None:
    sandbox.state.add_user("Ada@Example.com", now=time.time(), username="ada2")
    with pytest.raises(UserNotFound, match="share that email"):
        await connector.find_user_by_email("ada@example.com")


async def test_user_fields_are_mapped(connector: OneLoginConnector) -> None:
    user = await connector.find_user_by_email("ada@example.com")
    assert user.display_name == "Ada Lovelace"
    assert user.login == "ada"
    assert user.status is UserStatus.ACTIVE
    assert user.attributes["group_id"] == "10"
    suspended = await connector.find_user_by_email("away@example.com")
    assert suspended.status is UserStatus.SUSPENDED


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"status": 1, "state": 1}, UserStatus.ACTIVE),
        ({"status": 3, "state": 1}, UserStatus.LOCKED_OUT),
        (
            {"status": 1, "state": 1, "locked_until": "2999-01-01T00:00:00.000Z"},
            UserStatus.LOCKED_OUT,
        ),
        ({"status": 1, "state": 1, "locked_until": "2001-01-01T00:00:00.000Z"}, UserStatus.ACTIVE),
        ({"status": 2, "state": 1}, UserStatus.SUSPENDED),
        ({"status": 4, "state": 1}, UserStatus.PASSWORD_EXPIRED),
        ({"status": 5, "state": 1}, UserStatus.PASSWORD_EXPIRED),
        ({"status": 0, "state": 1}, UserStatus.STAGED),
        ({"status": 7, "state": 1}, UserStatus.STAGED),
        ({"status": 1, "state": 0}, UserStatus.STAGED),
        ({"status": 1, "state": 2}, UserStatus.DEPROVISIONED),
        ({"status": 1, "state": 3}, UserStatus.SUSPENDED),
        ({"status": 42, "state": 1}, UserStatus.OTHER),
    ],
)
async def test_status_mapping(raw: dict[str, Any], expected: UserStatus) -> None:
    offline = OneLoginConnector(
        "ol", OneLoginHttp("ol", "https://acme.onelogin.com", "cid", Secret("not-used-here"))
    )
    try:
        assert offline._user_from({"id": 1, **raw}).status is expected
    finally:
        await offline.aclose()


# -- roles ---------------------------------------------------------------------------------
async def test_roles_are_matched_exactly_then_case_insensitively(
    connector: OneLoginConnector,
) -> None:
    assert (await connector.find_group("figma-editors")).id == "202"
    assert (await connector.find_group("FIGMA-editors")).id == "202"
    with pytest.raises(GroupNotFound):
        await connector.find_group("figma")
    with pytest.raises(GroupNotFound):
        await connector.find_group("figma-*")


async def test_membership_without_role_ids_in_the_user_answer(
    sandbox: OneLoginSandbox, connector: OneLoginConnector
) -> None:
    sandbox.runtime.omit_user_fields.add("role_ids")
    ada = await connector.find_user_by_email("ada@example.com")
    vpn = await connector.find_group("vpn-users")
    figma = await connector.find_group("figma-editors")
    assert await connector.is_member(ada, vpn)
    assert await connector.add_to_group(ada, figma) is MembershipChange.ADDED
    assert await connector.add_to_group(ada, figma) is MembershipChange.ALREADY_MEMBER
    assert sandbox.calls("GET", f"/api/2/roles/{figma.id}/users")


async def test_removing_a_role_sends_a_bare_array(
    sandbox: OneLoginSandbox, connector: OneLoginConnector
) -> None:
    ada = await connector.find_user_by_email("ada@example.com")
    vpn = await connector.find_group("vpn-users")
    assert await connector.remove_from_group(ada, vpn) is MembershipChange.REMOVED
    assert ada.id not in {str(u) for u in sandbox.state.roles[int(vpn.id)].user_ids}


async def test_role_deleted_meanwhile_is_group_not_found(
    sandbox: OneLoginSandbox, connector: OneLoginConnector
) -> None:
    ada = await connector.find_user_by_email("ada@example.com")
    figma = await connector.find_group("figma-editors")
    del sandbox.state.roles[int(figma.id)]
    with pytest.raises(GroupNotFound):
        await connector.add_to_group(ada, figma)


# -- privileged accounts ---------------------------------------------------------------------
async def test_protections_cover_roles_and_privileges(connector: OneLoginConnector) -> None:
    root = await connector.find_user_by_email("root@example.com")
    ops = await connector.find_user_by_email("ops@example.com")
    guard = await connector.find_user_by_email("guard@example.com")
    assert await connector.protections(root, []) == [ADMIN("OneLogin privilege Super User")]
    assert await connector.protections(ops, []) == [
        ADMIN("OneLogin privilege User Administrator through a role")
    ]
    assert await connector.protections(guard, ["IT-Admins", "no-such-role"]) == [
        GROUP("role it-admins")
    ]


async def test_protected_roles_from_settings_and_privileges_switch(
    sandbox: OneLoginSandbox,
) -> None:
    made = connector_for(sandbox, protected_roles=["vpn-users"], check_admin_privileges=False)
    try:
        ada = await made.find_user_by_email("ada@example.com")
        root = await made.find_user_by_email("root@example.com")
        assert await made.protections(ada, []) == [GROUP("role vpn-users")]
        assert await made.protections(root, []) == []
        assert sandbox.calls("GET", "/api/1/privileges") == []
    finally:
        await made.aclose()


# -- password reset ----------------------------------------------------------------------------
async def test_temporary_password_is_set_and_must_be_changed(
    sandbox: OneLoginSandbox, connector: OneLoginConnector
) -> None:
    ada = await connector.find_user_by_email("ada@example.com")
    grant = await connector.start_password_reset(ada, ResetDelivery.TEMP_PASSWORD)
    assert grant.delivery is ResetDelivery.TEMP_PASSWORD and grant.must_change_at_next_login
    assert sandbox.state.check_password(int(ada.id), grant.secret.reveal())
    assert sandbox.state.users[int(ada.id)].status == 5  # awaiting password reset
    assert (await connector.get_user(ada.id)).status is UserStatus.PASSWORD_EXPIRED
    put_keys = [c.body_keys for c in sandbox.calls("PUT", f"/api/2/users/{ada.id}")]
    assert put_keys == [("password", "password_confirmation"), ("status",)]
    password_put = sandbox.calls("PUT", f"/api/2/users/{ada.id}")[0]
    assert dict(password_put.query) == {"validate_policy": "true"}


async def test_policy_rejection_has_a_safe_message(
    sandbox: OneLoginSandbox, connector: OneLoginConnector
) -> None:
    sandbox.state.policies[1].minimum_password_length = 40
    ada = await connector.find_user_by_email("ada@example.com")
    with pytest.raises(PolicyRejected) as info:
        await connector.start_password_reset(ada, ResetDelivery.TEMP_PASSWORD)
    error = info.value
    assert "password policy" in error.user_message
    assert "too short" in error.message  # OneLogin's own reason, for IT
    assert sandbox.state.users[int(ada.id)].password_hashes == []
    assert sandbox.state.users[int(ada.id)].status == 1
    assert len(sandbox.calls("PUT", f"/api/2/users/{ada.id}")) == 1


async def test_reset_link_is_not_supported(connector: OneLoginConnector) -> None:
    ada = await connector.find_user_by_email("ada@example.com")
    with pytest.raises(NotSupported, match="temp_password"):
        await connector.start_password_reset(ada, ResetDelivery.LINK)


async def test_closed_accounts_get_no_password(connector: OneLoginConnector) -> None:
    away = await connector.find_user_by_email("away@example.com")
    with pytest.raises(InvalidState):
        await connector.start_password_reset(away, ResetDelivery.TEMP_PASSWORD)


@pytest.mark.parametrize("length", [10, 16, 40])
def test_generated_passwords_mix_every_class(length: int) -> None:
    for _ in range(50):
        password = generate_temp_password(length)
        assert len(password) == length
        assert any(c.islower() for c in password) and any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)
        assert not set(password) & set("*_&:`~<>")


# -- unlock and MFA ----------------------------------------------------------------------------
async def test_not_locked_needs_no_call(
    sandbox: OneLoginSandbox, connector: OneLoginConnector
) -> None:
    ada = await connector.find_user_by_email("ada@example.com")
    assert (await connector.unlock(ada)).value == "not_locked"
    assert sandbox.calls("POST", f"/api/2/users/{ada.id}/unlock") == []


async def test_timed_lock_through_the_v1_api_is_seen_and_undone(
    sandbox: OneLoginSandbox, connector: OneLoginConnector
) -> None:
    ada = await connector.find_user_by_email("ada@example.com")
    sandbox.state.lock(sandbox.state.users[int(ada.id)], now=time.time(), minutes=30)
    assert (await connector.get_user(ada.id)).status is UserStatus.LOCKED_OUT
    assert (await connector.unlock(ada)).value == "unlocked"
    assert (await connector.get_user(ada.id)).status is UserStatus.ACTIVE


async def test_mfa_device_fields_and_unknown_device(connector: OneLoginConnector) -> None:
    phil = await connector.find_user_by_email("phone@example.com")
    factors = list(await connector.list_factors(phil))
    assert [(f.kind, f.name) for f in factors] == [
        ("OneLogin Protect", "Phil's phone"),
        ("Google Authenticator", "Google Authenticator"),
    ]
    assert await connector.reset_factors(phil, "no-such-device") == 0
    assert len(await connector.list_factors(phil)) == 2


# -- password expiry and paging ------------------------------------------------------------------
async def test_expiry_follows_the_group_policy_and_the_fallback(
    sandbox: OneLoginSandbox,
) -> None:
    made = connector_for(
        sandbox, policy_by_group={}, default_policy_id=None, max_password_age_days=30
    )
    try:
        soon = await made.find_user_by_email("soon@example.com")
        status = await made.password_status(soon)
        assert status.last_changed is not None and status.expires_at is not None
        assert status.expires_at - status.last_changed == timedelta(days=30)
    finally:
        await made.aclose()
    made = connector_for(sandbox, default_policy_id=999)  # unreadable: fall back to 90 days
    try:
        ada = await made.find_user_by_email("ada@example.com")
        status = await made.password_status(ada)
        assert status.expires_at is not None and status.last_changed is not None
        assert status.expires_at - status.last_changed == timedelta(days=90)
        svc = await made.find_user_by_email("svc@example.com")
        assert (await made.password_status(svc)).never_expires
    finally:
        await made.aclose()


async def test_expiring_sweep_follows_cursors_across_pages() -> None:
    now = time.time()
    state = load_seed(DEMO_SEED, now=now)
    for i in range(230):
        state.add_user(
            f"bulk{i:03d}@example.com",
            now=now,
            group_id=10,
            password_changed_at=now - (80.5 + i % 20) * 86400,
        )
    async with run_onelogin_sandbox(state) as sb:
        made = connector_for(sb, page_size=100)
        try:
            before = datetime.now(UTC) + timedelta(days=5)
            pages = [page async for page in made.iter_expiring(before)]
            emails = [row.user.email for page in pages for row in page]
            # 80.5..99.5 days old against 90: those older than 85 days expire within 5 days.
            expected = {f"bulk{i:03d}@example.com" for i in range(230) if 80 + i % 20 >= 85}
            assert set(emails) - {"soon@example.com"} == expected
            assert len(emails) == len(set(emails))
            calls = sb.calls("GET", USERS)
            assert len(calls) == 3  # 239 users, 100 a page
            assert "cursor" not in dict(calls[0].query)
            assert all("cursor" in dict(c.query) for c in calls[1:])
            assert all(dict(c.query)["limit"] == "100" for c in calls)
            # One policy read per policy, not per user.
            assert len(sb.calls("GET", "/api/2/policies/1")) == 1
        finally:
            await made.aclose()


# -- configuration ---------------------------------------------------------------------------------
def _settings(**values: Any) -> Settings:
    return Settings.model_validate({"client_id": "cid", "client_secret": {"env": "X"}, **values})


def test_settings_locations() -> None:
    assert _settings(subdomain="acme").resolved_base_url() == "https://acme.onelogin.com"
    assert _settings(region="eu").resolved_base_url() == "https://api.eu.onelogin.com"
    assert _settings(base_url="http://127.0.0.1:8080/").resolved_base_url() == (
        "http://127.0.0.1:8080"
    )
    for bad in (
        {},
        {"subdomain": "acme", "region": "us"},
        {"base_url": "http://acme.onelogin.com"},
        {"base_url": "ftp://127.0.0.1"},
        {"subdomain": "acme.evil.com/"},
        {"region": "ap"},
        {"subdomain": "acme", "surprise": 1},
    ):
        with pytest.raises(ValidationError):
            _settings(**bad)


def test_registry_knows_the_kind() -> None:
    module = load_kind("onelogin")
    assert module.Settings is Settings
    settings = _settings(region="us", client_secret=SecretRef(env=SECRET_ENV))
    made = module.build("ol", settings, {SECRET_ENV: "s3cret-value-xyz"})
    assert isinstance(made, OneLoginConnector)
    assert "s3cret-value-xyz" not in repr(made) and "s3cret-value-xyz" not in repr(made.http)


# -- secrets never leak ---------------------------------------------------------------------
async def test_no_secret_in_logs_or_errors(
    sandbox: OneLoginSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    made = connector_for(sandbox)
    try:
        ada = await made.find_user_by_email("ada@example.com")
        grant = await made.start_password_reset(ada, ResetDelivery.TEMP_PASSWORD)
        tokens = sandbox.tokens.issued_values()
        sandbox.tokens.revoke_all()  # forces a 401 and a refresh
        await made.get_user(ada.id)
        sandbox.state.policies[1].minimum_password_length = 60
        try:
            await made.start_password_reset(ada, ResetDelivery.TEMP_PASSWORD)
        except ConnectorError as exc:
            errors.append(exc)
        sandbox.tokens.reject_all = True
        try:
            await made.get_user(ada.id)
        except ConnectorError as exc:
            errors.append(exc)
    finally:
        await made.aclose()
    wrong = connector_for(sandbox, secret="wrong-secret-value-123")
    try:
        await wrong.get_user("1")
    except PermissionDenied as exc:
        errors.append(exc)
    finally:
        await wrong.aclose()

    assert len(errors) == 3
    secrets_seen = [
        sandbox.client_secret,
        "wrong-secret-value-123",
        grant.secret.reveal(),
        *tokens,
        *sandbox.tokens.issued_values(),
    ]
    texts = [caplog.text, repr(made), repr(grant), *(f"{e!s} {e!r}" for e in errors)]
    texts += [str(getattr(e, "user_message", "")) for e in errors]
    assert caplog.records, "the connector should have logged something"
    for secret in secrets_seen:
        for text in texts:
            assert secret not in text
