"""The in-memory reference directory passes the shared contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import MfaFactor, UserStatus
from connectors.memory import MemoryDirectory
from tests.contract.connector_contract import ConnectorContract, ContractWorld


@pytest.fixture
async def world() -> AsyncIterator[ContractWorld]:
    d = MemoryDirectory("memory", max_age=timedelta(days=90))
    now = datetime.now(UTC)
    d.add_user("ada@example.com")
    d.add_user("root@example.com", admin_roles=["SUPER_ADMIN"])
    guarded = d.add_user("guard@example.com")
    d.add_user("locked@example.com", status=UserStatus.LOCKED_OUT)
    d.add_user("soon@example.com", password_changed=now - timedelta(days=85))
    d.add_user("svc@example.com", never_expires=True, password_changed=now - timedelta(days=400))
    d.add_user(
        "phone@example.com",
        factors=[MfaFactor("f1", "push", "Okta Verify"), MfaFactor("f2", "totp", "Google")],
    )
    admins = d.add_group("it-admins")
    d.members[admins.id].add(guarded.id)
    d.add_group("figma-editors")
    yield ContractWorld(
        connector=d,
        ordinary_email="ada@example.com",
        admin_email="root@example.com",
        protected_group="it-admins",
        protected_member_email="guard@example.com",
        group_name="figma-editors",
        locked_email="locked@example.com",
        expiring_email="soon@example.com",
        never_expiring_email="svc@example.com",
        mfa_email="phone@example.com",
    )


class TestMemoryDirectory(ConnectorContract):
    pass
