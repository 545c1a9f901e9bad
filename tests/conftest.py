"""Fixtures shared by every test: servers the tests need, and how to skip without them."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_DSN = os.environ.get("HELPDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def missing_server(reason: str) -> NoReturn:
    """Skip locally; fail under CI=true, where every server must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """Create a PostgreSQL database for one test and drop it afterwards; yields its URL."""
    import asyncpg

    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        missing_server(f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {exc}")
        raise
    name = f"helpdesk_t_{secrets.token_hex(5)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test."""
    async with fresh_pg_database() as url:
        yield url
