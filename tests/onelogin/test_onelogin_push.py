"""OneLogin Protect pushes through the connector against the sandbox (the verifications API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from connectors.base import PushState
from connectors.errors import ConnectorError
from connectors.onelogin.connector import OneLoginConnector
from sandboxes.onelogin import OneLoginSandbox
from tests.onelogin.conftest import connector_for


@pytest.fixture
async def connector(sandbox: OneLoginSandbox) -> AsyncIterator[OneLoginConnector]:
    made = connector_for(sandbox)
    yield made
    await made.aclose()


async def test_only_onelogin_protect_devices_take_pushes(connector: OneLoginConnector) -> None:
    phone = await connector.find_user_by_email("phone@example.com")
    [device] = await connector.push_factors(phone)
    assert device.kind == "OneLogin Protect" and device.name == "Phil's phone"
    ada = await connector.find_user_by_email("ada@example.com")
    assert await connector.push_factors(ada) == []  # no device at all


async def test_push_accepted_then_rejected(
    connector: OneLoginConnector, sandbox: OneLoginSandbox
) -> None:
    phone = await connector.find_user_by_email("phone@example.com")
    [device] = await connector.push_factors(phone)
    challenge = await connector.start_push(phone, device)
    assert challenge.number is None and challenge.expires_at is not None
    assert await connector.push_state(challenge) is PushState.WAITING
    posted = [r for r in sandbox.runtime.requests if r.method == "POST"
              and r.path.endswith("/verifications")]
    assert [(r.status, r.body_keys) for r in posted] == [(201, ("device_id", "expires_in"))]
    assert sandbox.state.pushes.answer(int(phone.id), accept=True) == "accepted"
    assert await connector.push_state(challenge) is PushState.APPROVED
    second = await connector.start_push(phone, device)
    sandbox.state.pushes.answer(int(phone.id), accept=False)
    assert await connector.push_state(second) is PushState.REJECTED


async def test_pending_past_expires_at_is_timed_out(sandbox: OneLoginSandbox) -> None:
    connector = connector_for(sandbox)
    try:
        phone = await connector.find_user_by_email("phone@example.com")
        [device] = await connector.push_factors(phone)
        challenge = await connector.start_push(phone, device)
        assert challenge.expires_at is not None
        later = challenge.expires_at + timedelta(seconds=1)
        connector._push.now = lambda: later  # the connector's clock, past the expiry
        assert await connector.push_state(challenge) is PushState.TIMED_OUT
    finally:
        await connector.aclose()


async def test_unknown_device_and_verification_are_refused(
    connector: OneLoginConnector, sandbox: OneLoginSandbox
) -> None:
    phone = await connector.find_user_by_email("phone@example.com")
    [device] = await connector.push_factors(phone)
    with pytest.raises(ConnectorError):
        await connector.start_push(phone, replace(device, id="999"))
    challenge = await connector.start_push(phone, device)
    with pytest.raises(ConnectorError):
        await connector.push_state(replace(challenge, transaction="nope"))
    async with httpx.AsyncClient(base_url=sandbox.base_url) as plain:
        answer = await plain.get(f"/api/2/mfa/users/{phone.id}/verifications/x")
    assert answer.status_code == 401  # no token: the pipeline refuses before the route
