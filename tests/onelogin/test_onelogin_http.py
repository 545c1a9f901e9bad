"""Tokens, rate limits, retries and outages: the HTTP rules of the OneLogin connector."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.base import ResetDelivery
from connectors.errors import PermissionDenied, Unavailable
from connectors.onelogin.connector import OneLoginConnector
from sandboxes.onelogin import DEMO_SEED, ManualClock, OneLoginSandbox, load_seed
from sandboxes.onelogin import run_onelogin_sandbox as serve
from tests.onelogin.conftest import SleepRecorder, connector_for

TOKEN = "/auth/oauth2/v2/token"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=time.time())


@pytest.fixture
async def timed(clock: ManualClock) -> AsyncIterator[OneLoginSandbox]:
    """The demo account on a manual clock: 100 calls a minute, tokens valid for an hour."""
    state = load_seed(DEMO_SEED, now=clock())
    async with serve(
        state, clock=clock, rate_limit_per_window=100, rate_window=60, token_ttl=3600
    ) as sb:
        yield sb


def timed_connector(
    sb: OneLoginSandbox, clock: ManualClock, **overrides: Any
) -> tuple[OneLoginConnector, SleepRecorder]:
    """A connector sharing the sandbox's clock: its sleeps make the sandbox's time pass."""
    sleeper = SleepRecorder(advance=clock.advance)
    return connector_for(sb, sleep=sleeper, monotonic=clock, **overrides), sleeper


def user_id(sb: OneLoginSandbox, email: str) -> str:
    return str(sb.state.user_by_email(email).id)


# -- tokens ---------------------------------------------------------------------------
async def test_token_is_fetched_once_and_reused(sandbox: OneLoginSandbox) -> None:
    connector = connector_for(sandbox)
    try:
        for email in ("ada@example.com", "root@example.com", "guard@example.com"):
            await connector.find_user_by_email(email)
        assert len(sandbox.calls("POST", TOKEN)) == 1
        assert connector.http.token_fetches == 1
    finally:
        await connector.aclose()


async def test_token_expired_on_the_server_is_refreshed_once(
    timed: OneLoginSandbox, clock: ManualClock
) -> None:
    # The connector's own clock stands still, so only OneLogin knows the token expired.
    connector = connector_for(timed, monotonic=lambda: 0.0)
    uid = user_id(timed, "ada@example.com")
    try:
        await connector.get_user(uid)
        clock.advance(3601)
        user = await connector.get_user(uid)
        assert user.email == "ada@example.com"
        statuses = [r.status for r in timed.calls("GET", f"/api/2/users/{uid}")]
        assert statuses == [200, 401, 200]
        assert len(timed.calls("POST", TOKEN)) == 2
    finally:
        await connector.aclose()


async def test_token_refused_again_after_refresh_does_not_loop(sandbox: OneLoginSandbox) -> None:
    connector = connector_for(sandbox)
    uid = user_id(sandbox, "ada@example.com")
    try:
        await connector.get_user(uid)
        sandbox.tokens.reject_all = True
        with pytest.raises(PermissionDenied, match="even a fresh one"):
            await connector.get_user(uid)
        assert len(sandbox.calls("POST", TOKEN)) == 2
        assert [r.status for r in sandbox.calls("GET", f"/api/2/users/{uid}")] == [200, 401, 401]
    finally:
        await connector.aclose()


async def test_token_is_replaced_before_it_expires(
    timed: OneLoginSandbox, clock: ManualClock
) -> None:
    connector, _ = timed_connector(timed, clock)
    uid = user_id(timed, "ada@example.com")
    try:
        await connector.get_user(uid)
        # Tokens are replaced 5 minutes (at most a tenth of their life) before expiry.
        clock.advance(3600 - 400)
        await connector.get_user(uid)
        assert len(timed.calls("POST", TOKEN)) == 1
        clock.advance(200)
        await connector.get_user(uid)
        assert len(timed.calls("POST", TOKEN)) == 2
        assert 401 not in [r.status for r in timed.requests]
    finally:
        await connector.aclose()


async def test_wrong_client_secret_is_permission_denied_without_retries(
    sandbox: OneLoginSandbox,
) -> None:
    connector = connector_for(sandbox, secret="not-the-right-secret-value")
    try:
        with pytest.raises(PermissionDenied, match="client id or secret") as info:
            await connector.find_user_by_email("ada@example.com")
        assert "not-the-right-secret-value" not in str(info.value)
        assert len(sandbox.calls("POST", TOKEN)) == 1
    finally:
        await connector.aclose()


# -- rate limits -----------------------------------------------------------------------
async def test_429_waits_for_the_reset_and_succeeds(
    timed: OneLoginSandbox, clock: ManualClock
) -> None:
    connector, sleeper = timed_connector(timed, clock)
    uid = user_id(timed, "ada@example.com")
    try:
        await connector.get_user(uid)
        clock.advance(15)
        timed.limiter.exhaust()  # another client of the account spent the budget
        user = await connector.get_user(uid)
        assert user.email == "ada@example.com"
        assert [r.status for r in timed.calls("GET", f"/api/2/users/{uid}")] == [200, 429, 200]
        # X-RateLimit-Reset said 45 s were left in the window; the jitter adds under 1 s.
        assert len(sleeper.waits) == 1 and 45 <= sleeper.waits[0] < 46
    finally:
        await connector.aclose()


async def test_spent_budget_pauses_before_sending_instead_of_collecting_429(
    clock: ManualClock,
) -> None:
    state = load_seed(DEMO_SEED, now=clock())
    async with serve(state, clock=clock, rate_limit_per_window=3, rate_window=60) as sb:
        connector, sleeper = timed_connector(sb, clock)
        uid = user_id(sb, "ada@example.com")
        try:
            for _ in range(4):
                await connector.get_user(uid)
            assert 429 not in [r.status for r in sb.requests]
            assert sleeper.waits == [60.0]
            assert connector.http.rate_limit.limit == 3
        finally:
            await connector.aclose()


async def test_rate_limit_reset_beyond_the_budget_fails_fast(clock: ManualClock) -> None:
    state = load_seed(DEMO_SEED, now=clock())
    async with serve(state, clock=clock, rate_window=3600) as sb:
        connector, sleeper = timed_connector(sb, clock, max_retry_wait=30)
        uid = user_id(sb, "ada@example.com")
        try:
            await connector.get_user(uid)
            sb.limiter.exhaust()
            with pytest.raises(Unavailable, match="rate limit") as info:
                await connector.get_user(uid)
            assert info.value.retry_after is not None and info.value.retry_after > 3000
            assert sleeper.waits == []
            assert [r.status for r in sb.calls("GET", f"/api/2/users/{uid}")] == [200, 429]
        finally:
            await connector.aclose()


# -- outages ---------------------------------------------------------------------------
async def test_outage_is_unavailable_after_bounded_retries(sandbox: OneLoginSandbox) -> None:
    sleeper = SleepRecorder()
    connector = connector_for(sandbox, sleep=sleeper, max_attempts=4)
    uid = user_id(sandbox, "ada@example.com")
    try:
        sandbox.faults.fail_next(50, status=503, path="/api/2/users/*")
        with pytest.raises(Unavailable, match="unavailable"):
            await connector.get_user(uid)
        assert len(sandbox.calls("GET", f"/api/2/users/{uid}")) == 4
        # Jittered exponential backoff: 0.5, 1, 2 s steps, never less than half a step.
        assert len(sleeper.waits) == 3
        for wait, step in zip(sleeper.waits, (0.5, 1.0, 2.0), strict=True):
            assert step / 2 <= wait <= step
    finally:
        await connector.aclose()


async def test_transient_failure_is_retried_transparently(sandbox: OneLoginSandbox) -> None:
    connector = connector_for(sandbox)
    try:
        sandbox.faults.fail_next(2, status=502, path="/api/2/users")
        user = await connector.find_user_by_email("ada@example.com")
        assert user.email == "ada@example.com"
        assert [r.status for r in sandbox.calls("GET", "/api/2/users")] == [502, 502, 200]
    finally:
        await connector.aclose()


async def test_hanging_server_times_out_as_unavailable(sandbox: OneLoginSandbox) -> None:
    connector = connector_for(sandbox, read_timeout=0.2, max_attempts=2)
    uid = user_id(sandbox, "ada@example.com")
    try:
        await connector.get_user(uid)  # token first, so only the user call hangs
        sandbox.faults.hang_next(2, seconds=0.6, path=f"/api/2/users/{uid}")
        with pytest.raises(Unavailable, match="did not answer in time"):
            await connector.get_user(uid)
    finally:
        await connector.aclose()


async def test_failed_post_is_not_replayed(sandbox: OneLoginSandbox) -> None:
    connector = connector_for(sandbox)
    try:
        ada = await connector.find_user_by_email("ada@example.com")
        group = await connector.find_group("figma-editors")
        sandbox.faults.fail_next(5, status=503, method="POST")
        with pytest.raises(Unavailable):
            await connector.add_to_group(ada, group)
        assert len(sandbox.calls("POST", f"/api/2/roles/{group.id}/users")) == 1
        assert not await connector.is_member(ada, group)
    finally:
        await connector.aclose()


async def test_post_whose_answer_was_lost_is_settled_by_reading_back(
    sandbox: OneLoginSandbox,
) -> None:
    connector = connector_for(sandbox)
    try:
        ada = await connector.find_user_by_email("ada@example.com")
        group = await connector.find_group("figma-editors")
        sandbox.faults.fail_next(status=504, method="POST", after_processing=True)
        assert (await connector.add_to_group(ada, group)).value == "added"
        assert len(sandbox.calls("POST", f"/api/2/roles/{group.id}/users")) == 1

        locked = await connector.find_user_by_email("locked@example.com")
        sandbox.faults.fail_next(status=503, method="POST", after_processing=True)
        assert (await connector.unlock(locked)).value == "unlocked"
        assert len(sandbox.calls("POST", f"/api/2/users/{locked.id}/unlock")) == 1
    finally:
        await connector.aclose()


async def test_temporary_password_put_is_not_replayed(sandbox: OneLoginSandbox) -> None:
    # A repeated PUT of the same password could trip the policy's password history.
    connector = connector_for(sandbox)
    try:
        ada = await connector.find_user_by_email("ada@example.com")
        sandbox.faults.fail_next(5, status=500, method="PUT", path=f"/api/2/users/{ada.id}")
        with pytest.raises(Unavailable):
            await connector.start_password_reset(ada, ResetDelivery.TEMP_PASSWORD)
        assert len(sandbox.calls("PUT", f"/api/2/users/{ada.id}")) == 1
    finally:
        await connector.aclose()
