"""The Okta connector passes the shared connector contract against the Okta sandbox.

Every exchange of each test is validated against Okta's OpenAPI document (requests
the connector sent and answers the sandbox gave); a violation fails the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.contract.connector_contract import ConnectorContract, ContractWorld
from tests.okta.conftest import OktaRig


@pytest.fixture
async def world(rig: OktaRig) -> AsyncIterator[ContractWorld]:
    yield ContractWorld(
        connector=rig.connector(),
        ordinary_email="ada@example.com",
        admin_email="root@example.com",
        protected_group="payroll-admins",
        protected_member_email="guard@example.com",
        group_name="figma-editors",
        locked_email="locked@example.com",
        expiring_email="soon@example.com",
        never_expiring_email="svc@example.com",
        mfa_email="phone@example.com",
        # Help Desk Administrator (BOT_ROLES) may clear sessions, not suspend.
        suspend_allowed=False,
    )


class TestOktaConnector(ConnectorContract):
    pass


async def test_a_role_that_may_suspend_suspends(rig: OktaRig) -> None:
    """With a Group Administrator's token the suspend step is taken (and spec-valid)."""
    from connectors.base import ContainStep, UserStatus

    state = rig.sandbox.state
    bot = state.find_user("bot@example.com")
    assert bot is not None
    state.assign_role("USER_ADMIN", user_id=bot.id)
    connector = rig.connector()
    user = await connector.find_user_by_email("ada@example.com")
    steps = [ContainStep.CLEAR_SESSIONS, ContainStep.SUSPEND]
    assert await connector.contain(user, steps) == steps
    assert (await connector.get_user(user.id)).status is UserStatus.SUSPENDED
    assert rig.seen("/api/v1/users/*/lifecycle/suspend", "POST")
    assert rig.seen("/api/v1/users/*/sessions", "DELETE")
