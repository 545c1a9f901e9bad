"""The Okta connector's pure parts: settings, quoting, error table, retry rules, policies."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any

import pytest
from pydantic import ValidationError

from config.secrets import MissingSecret, Secret, SecretRef
from connectors.base import implemented_capabilities
from connectors.errors import (
    ConnectorError,
    GroupNotFound,
    InvalidState,
    PermissionDenied,
    PolicyRejected,
    Unavailable,
    UserNotFound,
)
from connectors.okta.connector import OktaConnector, build
from connectors.okta.errors import DEFAULT_POLICY_MESSAGE, Subject, to_connector_error
from connectors.okta.http import OktaHttpError, OktaTransportError, _should_retry
from connectors.okta.pacing import bucket_of, seconds_until_reset
from connectors.okta.policy import PasswordPolicy, PolicySet, password_status
from connectors.okta.settings import Settings
from connectors.okta.values import quote_search_value
from sandboxes.okta.expressions import Compare, parse

ORG = "https://acme.okta.com"


def _settings(**values: Any) -> Settings:
    return Settings(**{"org_url": ORG, "api_token": {"env": "T"}, **values})


# -- settings --------------------------------------------------------------------------


def test_settings_take_the_org_origin_over_https() -> None:
    assert _settings(org_url="https://acme.okta.com/").org_url == ORG
    for bad in ("http://acme.okta.com", "acme.okta.com", "https://acme.okta.com/admin", ""):
        with pytest.raises(ValidationError):
            _settings(org_url=bad)


def test_settings_need_exactly_one_way_to_authenticate() -> None:
    key = SecretRef(env="K")
    assert _settings().api_token is not None
    assert Settings(org_url=ORG, client_id="0oa1", private_key=key).scopes[-1] == "okta.roles.read"
    with pytest.raises(ValidationError):
        Settings(org_url=ORG)
    with pytest.raises(ValidationError):
        _settings(client_id="0oa1", private_key=key)
    with pytest.raises(ValidationError):
        Settings(org_url=ORG, client_id="0oa1")
    with pytest.raises(ValidationError):
        Settings(org_url=ORG, client_id="0oa1", private_key=key, scopes=())
    with pytest.raises(ValidationError):
        _settings(tenant="acme")  # extra="forbid"
    with pytest.raises(ValidationError):
        _settings(page_size=500)


def test_build_resolves_secrets_without_network() -> None:
    connector = build("okta", _settings(), {"T": "ssws-token-value"})
    assert isinstance(connector, OktaConnector)
    assert connector.capabilities == implemented_capabilities(connector)
    with pytest.raises(MissingSecret, match="T"):
        build("okta", _settings(), {})


def test_unusable_private_key_fails_at_build() -> None:
    settings = Settings(org_url=ORG, client_id="0oa1", private_key=SecretRef(env="K"))
    with pytest.raises(ValueError, match="wrong type") as info:
        build("okta", settings, {"K": "-----BEGIN PRIVATE KEY-----\nnot-a-key\n"})
    assert "not-a-key" not in str(info.value)


# -- quoting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["plain@example.com", 'a"b', "a\\b", '\\"', '"', "\\", 'x" or id pr or "', "é€\t", ""],
)
def test_quoted_value_parses_back_to_itself(value: str) -> None:
    expression = f"profile.email eq {quote_search_value(value)}"
    assert parse(expression) == Compare("profile.email", "eq", value)


def test_quoting_survives_random_strings() -> None:
    rng = random.Random(7)
    alphabet = "ab\"\\ ()'=*"
    for _ in range(500):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert parse(f"profile.email eq {quote_search_value(value)}") == Compare(
            "profile.email", "eq", value
        )


# -- error table -----------------------------------------------------------------------


def _http(status: int, code: str | None, *causes: str, retry_after: float | None = None) -> Any:
    return OktaHttpError(
        method="GET",
        path="/api/v1/x",
        status=status,
        code=code,
        summary="summary",
        causes=causes,
        retry_after=retry_after,
    )


@pytest.mark.parametrize(
    ("failure", "subject", "expected"),
    [
        (_http(404, "E0000007"), Subject.USER, UserNotFound),
        (_http(404, "E0000007"), Subject.GROUP, GroupNotFound),
        (_http(404, "E0000007"), Subject.OTHER, ConnectorError),
        (_http(403, "E0000006"), Subject.USER, PermissionDenied),
        (_http(401, "E0000011"), Subject.USER, PermissionDenied),
        (_http(403, "E0000038"), Subject.USER, InvalidState),
        (_http(403, "E0000032"), Subject.USER, InvalidState),
        (_http(400, "E0000001", "password: too short"), Subject.USER, PolicyRejected),
        (_http(400, "E0000080"), Subject.USER, PolicyRejected),
        (_http(429, "E0000047", retry_after=12.0), Subject.USER, Unavailable),
        (_http(500, "E0000009"), Subject.USER, Unavailable),
        (_http(502, None), Subject.USER, Unavailable),
        (_http(403, None), Subject.USER, PermissionDenied),
        (_http(400, "invalid_scope"), Subject.OTHER, PermissionDenied),
        (_http(401, "invalid_client"), Subject.OTHER, PermissionDenied),
        (_http(418, None), Subject.USER, ConnectorError),
    ],
)
def test_error_table(failure: OktaHttpError, subject: Subject, expected: type) -> None:
    error = to_connector_error("okta", failure, subject)
    assert type(error) is expected
    assert error.provider == "okta" and error.code == failure.code


def test_invalid_token_says_so_and_rate_limit_keeps_retry_after() -> None:
    assert "token" in to_connector_error("okta", _http(401, "E0000011"), Subject.USER).message
    limited = to_connector_error("okta", _http(429, "E0000047", retry_after=12.0), Subject.USER)
    assert isinstance(limited, Unavailable) and limited.retry_after == 12.0
    timeout = OktaTransportError(method="GET", path="/x", kind="timed out", maybe_sent=True)
    assert isinstance(to_connector_error("okta", timeout, Subject.USER), Unavailable)


def test_policy_message_shows_causes_but_never_a_secret() -> None:
    plain = to_connector_error(
        "okta",
        _http(400, "E0000080", "Password requirements: at least 12 characters."),
        Subject.USER,
    )
    assert isinstance(plain, PolicyRejected)
    assert plain.user_message == "Password requirements: at least 12 characters."
    leaked = Secret("Tr0ub4dor&3-secret")
    risky = to_connector_error(
        "okta",
        _http(400, "E0000001", f"password: {leaked.reveal()} was used before", "Too short."),
        Subject.USER,
    )
    assert isinstance(risky, PolicyRejected)
    assert risky.user_message == "Too short."
    link = to_connector_error(
        "okta", _http(400, "E0000001", "see https://acme.okta.com/reset_password/abc"), Subject.USER
    )
    assert isinstance(link, PolicyRejected) and link.user_message == DEFAULT_POLICY_MESSAGE


# -- retry rules -----------------------------------------------------------------------


def _transport(kind: str, maybe_sent: bool) -> OktaTransportError:
    return OktaTransportError(method="POST", path="/x", kind=kind, maybe_sent=maybe_sent)


@pytest.mark.parametrize(
    ("failure", "replayable", "retry"),
    [
        (_http(429, "E0000047"), False, True),  # Okta did not process it
        (_http(503, None), True, True),
        (_http(503, None), False, False),  # a lifecycle POST may have happened
        (_http(500, "E0000009"), False, False),
        (_http(501, None), True, False),
        (_http(404, "E0000007"), True, False),
        (_transport("timed out", True), True, True),
        (_transport("timed out", True), False, False),
        (_transport("connection refused", False), False, True),  # never sent
        (_transport("TLS verification failed", False), True, False),
    ],
)
def test_what_is_retried(failure: Exception, replayable: bool, retry: bool) -> None:
    assert _should_retry(failure, replayable) is retry


def test_buckets_fold_ids() -> None:
    assert bucket_of("GET", "/api/v1/users") == "GET /api/v1/users"
    assert bucket_of("GET", "/api/v1/users/00u1/groups") == "GET /api/v1/users/{id}/groups"
    assert bucket_of("POST", "/api/v1/users/00u1/lifecycle/unlock") == (
        "WRITE /api/v1/users/{id}/lifecycle/unlock"
    )
    assert bucket_of("DELETE", "/api/v1/users/00u1/factors/opf1") == (
        "WRITE /api/v1/users/{id}/factors/{id}"
    )


def test_reset_is_read_on_the_servers_clock_when_clocks_disagree() -> None:
    now = 1_700_000_000.0
    same = {"X-Rate-Limit-Reset": str(int(now) + 40), "Date": formatdate(now, usegmt=True)}
    assert seconds_until_reset(same, now + 0.5) == pytest.approx(39.5)
    skewed = {"X-Rate-Limit-Reset": str(int(now) + 40), "Date": formatdate(now, usegmt=True)}
    assert seconds_until_reset(skewed, now + 300) == pytest.approx(40)
    assert seconds_until_reset({"X-Rate-Limit-Reset": str(int(now) - 5)}, now) == 0
    assert seconds_until_reset({}, now) is None
    assert seconds_until_reset({"X-Rate-Limit-Reset": "soon"}, now) is None


# -- password policies -----------------------------------------------------------------


def _policy(pid: str, priority: int, max_age: int, *groups: str, **extra: Any) -> PasswordPolicy:
    return PasswordPolicy(
        id=pid,
        name=pid,
        priority=priority,
        active=extra.get("active", True),
        include_groups=frozenset(groups),
        auth_provider=extra.get("provider", "OKTA"),
        max_age_days=max_age,
    )


def test_first_active_matching_policy_wins() -> None:
    policies = PolicySet.of(
        [
            _policy("default", 9, 90, "00gEveryone"),
            _policy("service", 1, 0, "00gService"),
            _policy("old", 0, 1, "00gContract", active=False),
            _policy("contract", 2, 30, "00gContract"),
            _policy("ad", 3, 10, "00gEveryone", provider="ACTIVE_DIRECTORY"),
        ],
        ["00gEveryone"],
    )
    assert policies.policy_for({"00gContract"}, "OKTA").id == "contract"  # type: ignore[union-attr]
    assert policies.policy_for({"00gService", "00gContract"}, "OKTA").id == "service"  # type: ignore[union-attr]
    assert policies.policy_for(set(), "OKTA").id == "default"  # type: ignore[union-attr]
    assert policies.policy_for(set(), "IMPORT").id == "default"  # type: ignore[union-attr]
    assert policies.policy_for(set(), "ACTIVE_DIRECTORY").id == "ad"  # type: ignore[union-attr]
    assert policies.groups_to_expand() == {"00gService", "00gContract"}
    assert policies.shortest_max_age() == 30


def test_policy_without_groups_applies_to_everyone() -> None:
    policies = PolicySet.of([_policy("p", 1, 60)], [])
    assert policies.policy_for(set(), "OKTA") is not None
    assert policies.groups_to_expand() == frozenset()


def test_password_status_rules() -> None:
    changed = datetime(2025, 1, 1, tzinfo=UTC)
    policy = _policy("p", 1, 90)
    expiring = password_status(changed, "OKTA", policy)
    assert expiring.expires_at == changed + timedelta(days=90) and not expiring.never_expires
    for provider, chosen, when in (
        ("OKTA", _policy("never", 1, 0), changed),
        ("OKTA", None, changed),
        ("OKTA", policy, None),
        ("FEDERATION", policy, changed),  # Okta does not hold this password
    ):
        status = password_status(when, provider, chosen)
        assert status.never_expires and status.expires_at is None


# -- paging safety ---------------------------------------------------------------------


async def test_next_link_off_the_org_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    connector = build("okta", _settings(), {"T": "ssws-token-value"})
    calls: list[str] = []

    async def fake_raw(method: str, url: str, subject: Subject) -> tuple[Any, str | None]:
        calls.append(url)
        return [{"id": "00u1"}], "https://evil.example.com/api/v1/users?after=00u1"

    monkeypatch.setattr(connector.api, "request", fake_raw)
    with pytest.raises(ConnectorError, match="off the org"):
        async for _ in connector.iter_user_pages():
            pass
    assert len(calls) == 1
    await connector.aclose()
