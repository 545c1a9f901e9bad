"""Fixtures for the AD tests: one real Samba DC per session, a fresh connector per test.

Without Samba (``samba-tool`` missing, or not root) the tests that need the DC
are skipped with the reason; under CI=true they fail instead. Pure unit tests
in this directory never ask for the DC and always run.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from connectors.ad.connector import ActiveDirectoryConnector
from tests.ad.samba import SambaDC, SambaUnavailable
from tests.conftest import missing_server


@pytest.fixture(scope="session")
def samba_dc() -> Iterator[SambaDC]:
    """Provision, start and seed a Samba AD DC; stop it and delete it at the end."""
    t0 = time.monotonic()
    try:
        dc = SambaDC.start()
    except SambaUnavailable as exc:
        missing_server(f"Samba AD DC unavailable: {exc}")
        raise
    except Exception as exc:
        pytest.fail(f"could not start the Samba AD DC: {exc}", pytrace=False)
    dc.timings["total_start"] = time.monotonic() - t0
    try:
        yield dc
    finally:
        dc.stop()


@pytest.fixture
async def make_connector(
    samba_dc: SambaDC,
) -> AsyncIterator[Callable[..., ActiveDirectoryConnector]]:
    """Build connectors against the test DC; all are closed after the test."""
    made: list[ActiveDirectoryConnector] = []

    def make(*args: Any, **overrides: Any) -> ActiveDirectoryConnector:
        connector = samba_dc.connector(*args, **overrides)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        await connector.aclose()


@pytest.fixture
async def ad(make_connector: Callable[..., ActiveDirectoryConnector]) -> ActiveDirectoryConnector:
    """The connector as deployed: LDAPS, delegated service account, verified certificate."""
    return make_connector()
