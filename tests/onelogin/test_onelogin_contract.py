"""The OneLogin connector passes the shared connector contract against the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandboxes.onelogin import OneLoginSandbox
from tests.contract.connector_contract import ConnectorContract, ContractWorld
from tests.onelogin.conftest import connector_for


@pytest.fixture
async def world(sandbox: OneLoginSandbox) -> AsyncIterator[ContractWorld]:
    connector = connector_for(sandbox)
    try:
        yield ContractWorld(
            connector=connector,
            ordinary_email="ada@example.com",
            admin_email="root@example.com",
            protected_group="it-admins",
            protected_member_email="guard@example.com",
            group_name="figma-editors",
            locked_email="locked@example.com",
            expiring_email="soon@example.com",
            never_expiring_email="svc@example.com",
            mfa_email="phone@example.com",
            temp_password_supported=True,
            # OneLogin's API has no one-time reset link; LINK raises NotSupported.
            link_supported=False,
        )
    finally:
        await connector.aclose()


class TestOneLoginContract(ConnectorContract):
    pass


async def test_containment_logs_out_and_suspends(sandbox: OneLoginSandbox) -> None:
    """Log User Out ends the OneLogin session; status 2 (suspended) stops every sign-in."""
    from connectors.base import ContainStep

    connector = connector_for(sandbox)
    try:
        user = await connector.find_user_by_email("ada@example.com")
        raw = sandbox.state.user_by_email("ada@example.com")
        assert raw.sessions == 1
        steps = [ContainStep.CLEAR_SESSIONS, ContainStep.SUSPEND]
        assert await connector.contain(user, steps) == steps
        assert raw.sessions == 0 and raw.status == 2
    finally:
        await connector.aclose()
