"""A running Okta sandbox per test, with every exchange checked against Okta's OpenAPI spec.

``okta_rig(state)`` serves ``state`` over HTTPS, records each request/response pair the
sandbox sees, builds connectors pointed at it, and after the test validates every
recorded exchange (the connector's requests and the sandbox's answers) with
``tests.contract.okta_openapi``; any violation fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from config.clock import Clock, SystemClock
from connectors.okta.connector import OktaConnector, build
from connectors.okta.settings import Settings
from sandboxes.okta import (
    Exchange,
    ManualClock,
    OktaSandbox,
    OktaState,
    RecordedRequest,
    RecordedResponse,
    load_seed,
    run_okta_sandbox,
)
from tests.contract.okta_openapi import ContractViolation, okta_contract

TOKEN = "contract-token-not-secret"
TOKEN_ENV = "OKTA_TEST_TOKEN"

# The bot's service account holds the roles a helpdesk deployment would give it
# (see sandboxes/okta/seed/demo.yaml): help desk, group membership and report admin.
BOT_ROLES = ["HELP_DESK_ADMIN", "GROUP_MEMBERSHIP_ADMIN", "REPORT_ADMIN"]


def contract_seed(**extra: Any) -> dict[str, Any]:
    """The org behind the contract suite; ``extra`` adds users/groups/policies."""
    seed: dict[str, Any] = {
        "seed": "contract",
        "groups": [
            {"name": "payroll-admins", "description": "Protected by the helpdesk config"},
            {"name": "figma-editors", "description": "Edit access to Figma"},
            {"name": "service-accounts", "description": "Passwords never expire"},
        ],
        "users": [
            {
                "login": "bot@example.com",
                "firstName": "Helpdesk",
                "lastName": "Bot",
                "groups": ["service-accounts"],
                "roles": BOT_ROLES,
                "password_changed_days_ago": 5,
            },
            {
                "login": "ada@example.com",
                "firstName": "Ada",
                "lastName": "Lovelace",
                "password_changed_days_ago": 10,
            },
            {
                "login": "root@example.com",
                "firstName": "Root",
                "lastName": "Admin",
                "roles": ["SUPER_ADMIN"],
                "password_changed_days_ago": 10,
            },
            {
                "login": "guard@example.com",
                "firstName": "Payroll",
                "lastName": "Guard",
                "groups": ["payroll-admins"],
                "password_changed_days_ago": 10,
            },
            {
                "login": "locked@example.com",
                "firstName": "Locked",
                "lastName": "Out",
                "status": "LOCKED_OUT",
                "password_changed_days_ago": 30,
            },
            {
                "login": "soon@example.com",
                "firstName": "Soon",
                "lastName": "Expiring",
                "password_changed_days_ago": 85,
            },
            {
                "login": "svc@example.com",
                "firstName": "Backup",
                "lastName": "Service",
                "groups": ["service-accounts"],
                "password_changed_days_ago": 400,
            },
            {
                "login": "phone@example.com",
                "firstName": "Phone",
                "lastName": "Owner",
                "password_changed_days_ago": 10,
                "factors": [
                    {"type": "push", "profile": {"name": "Pixel 8", "platform": "ANDROID"}},
                    {"type": "token:software:totp", "provider": "GOOGLE"},
                ],
            },
        ],
        "policies": [
            {
                "name": "Service accounts",
                "priority": 1,
                "max_age_days": 0,
                "groups": ["service-accounts"],
            },
            {"name": "Default Policy", "priority": 2, "max_age_days": 90, "system": True},
        ],
        "api_tokens": [{"name": "helpdesk-bot", "value": TOKEN, "owner": "bot@example.com"}],
    }
    for key, values in extra.items():
        seed[key] = [*seed.get(key, []), *values]
    return seed


def contract_state(**extra: Any) -> OktaState:
    """A fresh org from :func:`contract_seed`."""
    return load_seed(contract_seed(**extra))


class ManualTimer(SystemClock):
    """The connector's clock on the sandbox's ManualClock: sleeping advances both."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.clock()

    def wall(self) -> float:
        return self.clock()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class OktaRig:
    """A running sandbox, what it has seen, and connectors pointed at it."""

    sandbox: OktaSandbox
    exchanges: list[Exchange]
    connectors: list[OktaConnector] = field(default_factory=list)

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "org_url": self.sandbox.url,
            "api_token": {"env": TOKEN_ENV},
            "ca_file": self.sandbox.ca_path,
        }
        values.update(overrides)
        return Settings(**values)

    def connector(
        self,
        *,
        token: str = TOKEN,
        timer: Clock | None = None,
        environ: dict[str, str] | None = None,
        **overrides: Any,
    ) -> OktaConnector:
        """Build a connector for this sandbox (closed after the test)."""
        settings = self.settings(**overrides)
        connector = build("okta", settings, {TOKEN_ENV: token, **(environ or {})}, timer=timer)
        self.connectors.append(connector)
        return connector

    def seen(self, path: str = "*", method: str | None = None) -> list[Exchange]:
        """Recorded exchanges whose path matches the glob (and method, if given)."""
        return [
            e
            for e in self.exchanges
            if fnmatch.fnmatchcase(e.request.path, path)
            and (method is None or e.request.method == method)
        ]

    def clear(self) -> None:
        self.exchanges.clear()


# The org authorization server's token endpoint is not in the management spec; its
# answers are checked against RFC 6749 section 5 instead.
TOKEN_PATH = "/oauth2/v1/token"


def _token_problems(exchange: Exchange) -> list[str]:
    response = exchange.response
    try:
        body = json.loads(response.body)
    except ValueError:
        return [f"{TOKEN_PATH} -> {response.status}: body is not JSON"]
    wanted = ("access_token", "token_type", "expires_in") if response.status == 200 else ("error",)
    missing = [name for name in wanted if name not in body]
    return [f"{TOKEN_PATH} -> {response.status}: lacks {missing}"] if missing else []


def check_exchanges(exchanges: list[Exchange]) -> list[str]:
    """Validate every exchange against the Okta spec; return the violations."""
    contract = okta_contract()
    problems = []
    for exchange in exchanges:
        if exchange.request.path == TOKEN_PATH:
            problems += _token_problems(exchange)
            continue
        try:
            contract.validate(exchange)
        except ContractViolation as exc:
            problems.append(str(exc))
    return problems


@contextlib.asynccontextmanager
async def okta_rig(state: OktaState, **app_options: Any) -> AsyncIterator[OktaRig]:
    """Serve ``state``; on exit close the connectors and fail on any spec violation."""
    exchanges: list[Exchange] = []

    def record(request: RecordedRequest, response: RecordedResponse) -> None:
        exchanges.append(Exchange(request, response))

    async with run_okta_sandbox(state, on_exchange=record, **app_options) as sandbox:
        rig = OktaRig(sandbox, exchanges)
        try:
            yield rig
        finally:
            for connector in rig.connectors:
                await connector.aclose()
    problems = check_exchanges(exchanges)
    if problems:
        pytest.fail(
            f"{len(problems)} exchange(s) break Okta's OpenAPI spec:\n" + "\n".join(problems),
            pytrace=False,
        )


RigFactory = Callable[..., contextlib.AbstractAsyncContextManager[OktaRig]]


@pytest.fixture
async def rig() -> AsyncIterator[OktaRig]:
    """The contract org served by the sandbox, spec-checked at the end of the test."""
    async with okta_rig(contract_state()) as running:
        yield running
