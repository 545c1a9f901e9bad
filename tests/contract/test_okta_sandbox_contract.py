"""The Okta sandbox answers in the shapes of Okta's OpenAPI document.

Every endpoint is driven with the real okta SDK (and plain httpx for what the SDK
can't send), each exchange is recorded through ``on_exchange`` and validated with
:mod:`tests.contract.okta_openapi`: success, pagination, and the 400/401/403/404/405/
429/5xx errors. The last tests prove the validator rejects broken answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from okta.client import Client
from okta.pagination import PaginationHelper

from sandboxes.okta import (
    DEMO_SEED,
    DEMO_TOKEN,
    Exchange,
    OktaSandbox,
    OktaState,
    RateLimitConfig,
    RecordedRequest,
    RecordedResponse,
    generate_users,
    load_seed,
    run_okta_sandbox,
)
from tests.contract.okta_openapi import ContractViolation, okta_contract

# okta SDK 3.4.6 hands its sslContext to aiohttp as the deprecated ``ssl_context=``
# argument (okta/http_client.py); the warning is aiohttp's, raised on the SDK's behalf.
pytestmark = pytest.mark.filterwarnings("ignore:ssl_context is deprecated:DeprecationWarning")

ADMIN_TOKEN = "contract-super-admin-token"


@dataclass
class Recorded:
    """A running sandbox and every exchange it answered."""

    sandbox: OktaSandbox
    state: OktaState
    exchanges: list[Exchange] = field(default_factory=list)

    def client(self, token: str = DEMO_TOKEN) -> Client:
        # The SDK's own retries would hide the 429/503 answers under test.
        return Client(self.sandbox.okta_config(token, rateLimit={"maxRetries": 0}))

    def http(self, token: str | None = DEMO_TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"SSWS {token}"} if token else {}
        return httpx.AsyncClient(
            base_url=self.sandbox.url, verify=self.sandbox.ssl_context(), headers=headers
        )

    def validate_all(self, *, skip_request_check: frozenset[str] = frozenset()) -> int:
        """Validate every exchange; requests to paths in ``skip_request_check`` only half."""
        contract = okta_contract()
        for exchange in self.exchanges:
            contract.validate(
                exchange, check_request=exchange.request.path not in skip_request_check
            )
        return len(self.exchanges)

    def user_id(self, login: str) -> str:
        user = self.state.find_user(login)
        assert user is not None
        return user.id


async def succeeded(call: Awaitable[Any]) -> Any:
    """Await an SDK call and fail the test if it returned an error."""
    result: Any = await call
    assert result[-1] is None, result[-1]
    return result


def _org() -> OktaState:
    state = load_seed(DEMO_SEED)
    generate_users(230, state=state)  # more than one 200-user page
    alan = state.find_user("alan.turing@example.com")
    assert alan is not None
    state.add_api_token(ADMIN_TOKEN, alan.id, "contract-admin")
    return state


async def _start(**options: Any) -> AsyncIterator[Recorded]:
    state = _org()
    exchanges: list[Exchange] = []

    def record(request: RecordedRequest, response: RecordedResponse) -> None:
        exchanges.append(Exchange(request, response))

    async with run_okta_sandbox(state, on_exchange=record, **options) as sandbox:
        yield Recorded(sandbox, state, exchanges)


@pytest.fixture
async def recorded() -> AsyncIterator[Recorded]:
    async for value in _start():
        yield value


async def test_sdk_reads_match_the_spec(recorded: Recorded) -> None:
    client = recorded.client(ADMIN_TOKEN)
    users, resp, err = await client.list_users(limit=200)
    assert err is None and len(users) == 200
    cursor = PaginationHelper.extract_next_cursor(resp.headers)
    assert cursor is not None
    more, resp, err = await client.list_users(limit=200, after=cursor)
    assert err is None and len(more) == len(recorded.state.users) - 200
    assert PaginationHelper.extract_next_cursor(resp.headers) is None
    for call in (
        client.list_users(search='profile.department eq "Engineering" and status eq "ACTIVE"'),
        client.list_users(filter='status eq "LOCKED_OUT"'),
        client.list_users(q="grace"),
        client.get_user("ada.lovelace@example.com"),
        client.get_user(recorded.user_id("grace.hopper@example.com")),
        client.get_user("me"),
        client.list_user_groups(recorded.user_id("ada.lovelace@example.com")),
        client.list_assigned_roles_for_user(recorded.user_id("alan.turing@example.com")),
        client.list_assigned_roles_for_user(recorded.user_id("barbara.liskov@example.com")),
        client.list_factors(recorded.user_id("ada.lovelace@example.com")),
        client.list_groups(),
        client.list_groups(q="figma"),
        client.list_groups(search='profile.name sw "vpn"'),
        client.list_policies(type="PASSWORD"),
    ):
        await succeeded(call)
    group = recorded.state.group_by_name("vpn-users")
    assert group is not None
    for call in (
        client.get_group(group.id),
        client.list_group_users(group.id, limit=1),
    ):
        await succeeded(call)
    policy = recorded.state.policies_of_type("PASSWORD")[0]
    for call in (client.get_policy(policy.id), client.list_policy_rules(policy.id)):
        await succeeded(call)
    assert recorded.validate_all() >= 20


async def test_sdk_writes_match_the_spec(recorded: Recorded) -> None:
    client = recorded.client()
    ada = recorded.user_id("ada.lovelace@example.com")
    grace = recorded.user_id("grace.hopper@example.com")
    frances = recorded.user_id("frances.allen@example.com")
    factor = recorded.state.factors_of(ada)[0]
    group = recorded.state.group_by_name("figma-editors")
    assert group is not None
    for call in (
        client.unlock_user(grace),
        client.reset_password(grace, send_email=False),
        client.expire_password_with_temp_password(frances),
        client.unenroll_factor(ada, factor.id),
        client.reset_factors(ada),
        client.assign_user_to_group(group.id, ada),
        client.assign_user_to_group(group.id, ada),
        client.unassign_user_from_group(group.id, ada),
        client.unassign_user_from_group(group.id, ada),
    ):
        await succeeded(call)
    assert [e.response.status for e in recorded.exchanges] == [200, 200, 200, 204, 200] + [204] * 4
    recorded.validate_all()


async def test_error_answers_match_the_spec(recorded: Recorded) -> None:
    client = recorded.client()
    alan = recorded.user_id("alan.turing@example.com")
    barbara = recorded.user_id("barbara.liskov@example.com")
    admins = recorded.state.group_by_name("it-admins")
    assert admins is not None
    expected = [
        (client.get_user("nobody@example.com"), 404),
        (client.get_group("00gdoesnotexist000000"), 404),
        (client.get_policy("00pdoesnotexist000000"), 404),
        (client.unlock_user(recorded.user_id("ada.lovelace@example.com")), 403),
        (client.reset_password(alan, send_email=False), 403),
        (client.reset_factors(barbara), 403),
        (
            client.assign_user_to_group(admins.id, recorded.user_id("frances.allen@example.com")),
            403,
        ),
        (client.list_users(search='profile.email ne "x"'), 400),
        (client.list_users(search="status eq "), 400),
        (recorded.client("not-a-token").list_users(), 401),
    ]
    for call, status in expected:
        await call
        assert recorded.exchanges[-1].response.status == status, recorded.exchanges[-1]
    recorded.sandbox.faults.fail_next(1, status=503)
    await client.list_users()
    recorded.sandbox.faults.fail_next(1, status=500)
    await client.list_groups()
    assert [e.response.status for e in recorded.exchanges[-2:]] == [503, 500]
    recorded.validate_all()


async def test_httpx_only_errors_match_the_spec(recorded: Recorded) -> None:
    async with recorded.http() as http:
        assert (await http.patch("/api/v1/users")).status_code == 405
        assert (await http.get("/api/v1/nothing-here")).status_code == 404
        assert (await http.get("/api/v1/policies")).status_code == 400  # type is required
    async with recorded.http(token=None) as anonymous:
        assert (await anonymous.get("/api/v1/groups")).status_code == 401
    # These requests break the spec on purpose (wrong method, unknown path, missing
    # required parameter or credentials); only the answers are checked.
    contract = okta_contract()
    for exchange in recorded.exchanges:
        contract.validate(exchange, check_request=False)


async def test_rate_limited_answer_matches_the_spec() -> None:
    async for recorded in _start(rate_limits=RateLimitConfig.uniform(2)):
        client = recorded.client()
        for _ in range(3):
            await client.list_users(limit=5)
        assert [e.response.status for e in recorded.exchanges] == [200, 200, 429]
        assert recorded.exchanges[-1].response.json()["errorCode"] == "E0000047"
        recorded.validate_all()


async def test_sdk_oauth_service_app_calls_match_the_spec(recorded: Recorded) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public_jwk["kid"] = "contract-key"
    scopes = ["okta.users.read", "okta.groups.read"]
    recorded.state.add_oauth_client(
        "0oa-contract", jwks=[public_jwk], scopes=scopes, roles={"READ_ONLY_ADMIN"}
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    config = recorded.sandbox.okta_config(
        authorizationMode="PrivateKey",
        clientId="0oa-contract",
        scopes=scopes,
        privateKey=private_pem,
        kid="contract-key",
        rateLimit={"maxRetries": 0},
    )
    client = Client(config)
    for call in (client.list_users(limit=5), client.get_user("ada.lovelace@example.com")):
        await succeeded(call)
    paths = [e.request.path for e in recorded.exchanges]
    assert paths == ["/oauth2/v1/token", "/api/v1/users", "/api/v1/users/ada.lovelace@example.com"]
    assert recorded.exchanges[1].request.header("authorization") or "".startswith("Bearer ")
    # The token endpoint belongs to the OAuth 2.0 API, not to the management spec.
    for exchange in recorded.exchanges[1:]:
        okta_contract().validate(exchange)


async def test_validator_rejects_a_user_with_an_unknown_status(recorded: Recorded) -> None:
    async with recorded.http() as http:
        await http.get("/api/v1/users/me")
    exchange = recorded.exchanges[-1]
    broken = exchange.response.body.replace(b'"ACTIVE"', b'"HAPPY"')
    with pytest.raises(ContractViolation, match="HAPPY"):
        okta_contract().validate(_with_body(exchange, broken))


async def test_validator_rejects_an_error_without_okta_fields(recorded: Recorded) -> None:
    async with recorded.http() as http:
        await http.get("/api/v1/users/nobody@example.com")
    exchange = recorded.exchanges[-1]
    with pytest.raises(ContractViolation, match="errorCode"):
        okta_contract().validate(_with_body(exchange, b'{"message": "not found"}'))


async def test_validator_rejects_a_body_where_the_spec_declares_none(recorded: Recorded) -> None:
    grace = recorded.user_id("grace.hopper@example.com")
    async with recorded.http() as http:
        await http.post(f"/api/v1/users/{grace}/lifecycle/unlock")
    exchange = recorded.exchanges[-1]
    okta_contract().validate(exchange)
    with pytest.raises(ContractViolation, match="no content"):
        okta_contract().validate(_with_body(exchange, b'{"status": "ACTIVE"}'))


async def test_validator_rejects_a_request_with_a_bad_parameter(recorded: Recorded) -> None:
    async with recorded.http() as http:
        await http.get("/api/v1/users", params={"limit": "lots"})
    with pytest.raises(ContractViolation, match="limit"):
        okta_contract().validate(recorded.exchanges[-1])


def _with_body(exchange: Exchange, body: bytes) -> Exchange:
    response = RecordedResponse(exchange.response.status, exchange.response.headers, body)
    return Exchange(exchange.request, response)
