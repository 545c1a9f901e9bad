"""The OneLogin doctor: the credential's scope, inferred from harmless probes, against the needs.

The sandbox grants every credential everything, so narrower credentials are
played by a transport in front of it that refuses, with 403, what a scope does not
cover, as OneLogin's credential page describes each scope.
"""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors.base import Capability, ContainStep, ResetDelivery
from connectors.doctor import Finding, Needs, Status
from connectors.onelogin.connector import OneLoginConnector, build
from connectors.onelogin.doctor import (
    ProbeResults,
    Right,
    Scope,
    diagnose,
    infer_scope,
    least_scope,
    rights_needed,
)
from connectors.onelogin.settings import Settings
from sandboxes.onelogin import DEMO_SEED, OneLoginSandbox, load_seed, run_onelogin_sandbox
from tests.onelogin.conftest import ConnectorClock

SECRET_ENV = "ONELOGIN_DOCTOR_SECRET"
ALL = (
    Capability.GROUPS
    | Capability.PASSWORD_RESET
    | Capability.UNLOCK
    | Capability.MFA_RESET
    | Capability.PASSWORD_EXPIRY
)
NEEDS = Needs(
    capabilities=ALL,
    groups=("figma-editors",),
    protected_groups=("it-admins",),
    reset_delivery=ResetDelivery.TEMP_PASSWORD,
)
USERS_ROLES_GROUPS = ("/api/2/users", "/api/2/roles", "/api/2/groups")


class ScopedTransport(httpx.AsyncBaseTransport):
    """Forwards to the sandbox what ``scope`` allows; answers 403 for the rest."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.inner = httpx.AsyncHTTPTransport()
        self.refused: list[str] = []

    def _allowed(self, request: httpx.Request) -> bool:
        path, method = request.url.path, request.method
        if path.startswith("/auth/") or self.scope is Scope.MANAGE_ALL:
            return True
        core = path.startswith(USERS_ROLES_GROUPS)
        if self.scope is Scope.READ_USERS:
            return core and method == "GET"
        if self.scope is Scope.READ_ALL:
            return method == "GET"
        if self.scope is Scope.MANAGE_USERS:
            # Users, roles and groups, except passwords and role assignment.
            assigning = "/users" in path and path.startswith("/api/2/roles/") and method != "GET"
            return core and not assigning and b"password" not in request.content
        return False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._allowed(request):
            self.refused.append(f"{request.method} {request.url.path}")
            return httpx.Response(
                403, json={"statusCode": 403, "name": "Forbidden", "message": "Forbidden"}
            )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def sandbox() -> AsyncIterator[OneLoginSandbox]:
    async with run_onelogin_sandbox(load_seed(DEMO_SEED, now=time.time())) as sb:
        yield sb


def _settings(sb: OneLoginSandbox, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "base_url": sb.base_url,
        "client_id": sb.client_id,
        "client_secret": {"env": SECRET_ENV},
        "default_policy_id": 1,
    }
    values.update(overrides)
    return Settings.model_validate(values)


def _connector(
    sb: OneLoginSandbox, settings: Settings, scope: Scope = Scope.MANAGE_ALL, secret: str = ""
) -> OneLoginConnector:
    async def no_sleep(_: float) -> None:
        return None

    environ = {SECRET_ENV: secret or sb.client_secret}
    clock = ConnectorClock(sleep=no_sleep)
    return build("onelogin", settings, environ, transport=ScopedTransport(scope), clock=clock)


def _by_check(rows: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in rows}


async def _run(
    sb: OneLoginSandbox, needs: Needs, scope: Scope = Scope.MANAGE_ALL, **overrides: Any
) -> dict[str, Finding]:
    settings = _settings(sb, **overrides)
    connector = _connector(sb, settings, scope)
    try:
        return _by_check(await diagnose(connector, settings, needs))
    finally:
        await connector.aclose()


async def test_manage_all_is_the_least_for_every_capability(sandbox: OneLoginSandbox) -> None:
    state = sandbox.state
    before = copy.deepcopy((state.users, state.roles, state.devices))
    found = await _run(sandbox, NEEDS)
    assert found["connect"].status is Status.OK
    assert found["credential scope"].status is Status.OK
    assert found["credential scope"].data["scope"] == "Manage All"
    assert found["least privilege"].status is Status.OK
    assert found["admin privileges"].status is Status.OK
    assert found["group figma-editors"].status is Status.OK
    assert found["protected roles"].status is Status.OK
    # No probe changed anything: every write named an object that does not exist.
    assert (state.users, state.roles, state.devices) == before


async def test_manage_all_for_unlock_only_is_over_privileged(sandbox: OneLoginSandbox) -> None:
    needs = Needs(capabilities=Capability.UNLOCK)
    found = await _run(sandbox, needs, check_admin_privileges=False)
    over = found["least privilege"]
    assert over.status is Status.FAIL
    assert "super user" in over.summary
    assert over.data["least_scope"] == "Manage Users"


async def test_read_users_credential_cannot_serve_the_bot(sandbox: OneLoginSandbox) -> None:
    found = await _run(sandbox, NEEDS, Scope.READ_USERS)
    scope = found["credential scope"]
    assert scope.status is Status.FAIL
    assert scope.data["scope"] == "Read Users"
    assert scope.fix is not None and "Manage All" in scope.fix
    assert found["admin privileges"].status is Status.FAIL


async def test_manage_users_suffices_for_unlock_without_privilege_checks(
    sandbox: OneLoginSandbox,
) -> None:
    needs = Needs(capabilities=Capability.UNLOCK)
    found = await _run(sandbox, needs, Scope.MANAGE_USERS, check_admin_privileges=False)
    assert found["credential scope"].data["scope"] == "Manage Users"
    assert found["credential scope"].status is Status.OK
    assert found["least privilege"].status is Status.OK
    # Checking admin privileges reads /api/1/privileges, outside what Manage Users reads.
    found = await _run(sandbox, needs, Scope.MANAGE_USERS)
    assert found["credential scope"].status is Status.FAIL
    assert found["admin privileges"].status is Status.FAIL


async def test_read_all_for_expiry_only_is_more_than_read_users(sandbox: OneLoginSandbox) -> None:
    needs = Needs(capabilities=Capability.PASSWORD_EXPIRY)
    found = await _run(sandbox, needs, Scope.READ_ALL, default_policy_id=None)
    assert found["credential scope"].data["scope"] == "Read All"
    assert found["least privilege"].status is Status.WARN
    assert found["least privilege"].data["least_scope"] == "Read Users"


async def test_wrong_secret_and_links(sandbox: OneLoginSandbox) -> None:
    settings = _settings(sandbox)
    wrong = _connector(sandbox, settings, secret="not-the-secret")
    try:
        rows = await diagnose(wrong, settings, NEEDS)
    finally:
        await wrong.aclose()
    assert [f.check for f in rows] == ["connect"]
    assert rows[0].status is Status.FAIL
    assert "not-the-secret" not in str([f.to_dict() for f in rows])
    links = Needs(capabilities=Capability.PASSWORD_RESET, reset_delivery=ResetDelivery.LINK)
    found = await _run(sandbox, links)
    assert found["reset delivery"].status is Status.FAIL


def test_scope_model() -> None:
    assert least_scope({Right.READ_USERS}) is Scope.READ_USERS
    assert least_scope({Right.READ_USERS, Right.WRITE_USERS}) is Scope.MANAGE_USERS
    assert least_scope({Right.WRITE_USERS, Right.READ_ALL}) is Scope.MANAGE_ALL
    assert least_scope(set()) is Scope.AUTHENTICATION_ONLY
    assert infer_scope(ProbeResults(True, True, True, True)) is Scope.MANAGE_ALL
    assert infer_scope(ProbeResults(True, True, False, False)) is Scope.MANAGE_USERS
    assert infer_scope(ProbeResults(True, False, True, False)) is Scope.READ_ALL
    assert infer_scope(ProbeResults(True, False, False, False)) is Scope.READ_USERS
    assert infer_scope(ProbeResults(False, False, False, False)) is Scope.AUTHENTICATION_ONLY
    assert infer_scope(ProbeResults(None, None, None, None)) is None


def test_rights_follow_settings() -> None:
    settings = Settings.model_validate(
        {"region": "us", "client_id": "x", "client_secret": {"env": "X"}}
    )
    expiry = Needs(capabilities=Capability.PASSWORD_EXPIRY)
    # Without a policy to read, the fallback age needs no more than reading users.
    assert rights_needed(expiry, settings) == {Right.READ_USERS}
    with_policy = settings.model_copy(update={"default_policy_id": 1})
    assert Right.READ_ALL in rights_needed(expiry, with_policy)


async def test_manage_users_cannot_send_pushes_nor_suspend(sandbox: OneLoginSandbox) -> None:
    unlock = Needs(capabilities=Capability.UNLOCK)
    verifying = Needs(capabilities=Capability.UNLOCK, pushes=True)
    suspending = Needs(capabilities=Capability.UNLOCK,
                       containment=frozenset({ContainStep.CLEAR_SESSIONS, ContainStep.SUSPEND}))
    logging_out = Needs(capabilities=Capability.UNLOCK,
                        containment=frozenset({ContainStep.CLEAR_SESSIONS}))
    for needs, enough in ((unlock, True), (logging_out, True), (verifying, False),
                          (suspending, False)):
        found = await _run(sandbox, needs, Scope.MANAGE_USERS, check_admin_privileges=False)
        scope = found["credential scope"]
        assert (scope.status is Status.OK) is enough, (needs, scope)
        if not enough:
            assert scope.fix is not None and "Manage All" in scope.fix


def test_the_doctor_derives_pushes_and_containment_from_the_configuration() -> None:
    from bot.doctor.connectors import _needs_for
    from tests.bot.helpers import make_config, make_directory

    d = make_directory()
    pushing = make_config("sqlite://", verification={"unlock": ["push"]},
                          notices={"public_url": "https://helpdesk.example.com",
                                   "on_report": ["suspend"]})
    needs = _needs_for("mem", d, pushing, 10)
    assert needs.pushes and needs.containment == {ContainStep.SUSPEND}
    quiet = make_config("sqlite://", verification={"unlock": ["approval"],
                                                   "password_reset": ["approval"],
                                                   "mfa_reset": ["approval"]})
    needs = _needs_for("mem", d, quiet, 10)
    # No public_url: no link, so no report can ask anything of the connector.
    assert not needs.pushes and needs.containment == frozenset()
