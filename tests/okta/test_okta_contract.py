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
    )


class TestOktaConnector(ConnectorContract):
    pass
