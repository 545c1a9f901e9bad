"""The AD connector passes the shared connector contract against a real Samba DC.

Each test gets a fresh ordinary user (the contract adds it to groups, resets its
password and locks it), and locking is done for real by failed binds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from connectors.ad.connector import ActiveDirectoryConnector
from tests.ad.samba import SambaDC
from tests.contract.connector_contract import ConnectorContract, ContractWorld

pytestmark = pytest.mark.samba


@pytest.fixture
async def world(
    samba_dc: SambaDC, make_connector: Callable[..., ActiveDirectoryConnector]
) -> AsyncIterator[ContractWorld]:
    ordinary = await asyncio.to_thread(samba_dc.make_user, "ada")

    async def lock(email: str) -> None:
        await asyncio.to_thread(samba_dc.lock_out, email)

    yield ContractWorld(
        connector=make_connector(),
        ordinary_email=ordinary.email,
        admin_email=samba_dc.seeded["root"].email,
        protected_group="it-admins",
        protected_member_email=samba_dc.seeded["guard"].email,
        group_name="figma-editors",
        lock=lock,
        expiring_email=samba_dc.seeded["soon"].email,
        never_expiring_email=samba_dc.seeded["forever"].email,
        temp_password_supported=True,
        link_supported=False,
    )


class TestActiveDirectoryContract(ConnectorContract):
    pass
