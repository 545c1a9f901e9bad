"""A directory write whose answer is lost is an unknown outcome, never "nothing was changed".

Against the Okta sandbox: the write is applied and its answer held past the connector's
timeout (``lose_answer_next``), or held and then refused (not applied). The flow re-reads
the account and tells the employee only what the re-read shows.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

from actions.audit import Actor
from actions.errors import Refusal
from actions.providers import Providers
from actions.self_service import SelfService
from config.logging import configure_logging
from connectors.base import Capability, ResetDelivery, UnlockResult
from sandboxes.okta import OktaState
from store.db import Store
from tests.bot.helpers import RecordingNotifier, make_config
from tests.okta.conftest import ManualTimer, OktaRig, contract_state, okta_rig

ADA = Actor("U1", "ada@example.com", "Ada")
LOCKED = Actor("U2", "locked@example.com", "Locked")
PHONE = Actor("U3", "phone@example.com", "Phone")

RESET_LINK = "/api/v1/users/*/lifecycle/reset_password"
TEMP_PASSWORD = "/api/v1/users/*/lifecycle/expire_password_with_temp_password"
UNLOCK = "/api/v1/users/*/lifecycle/unlock"
RESET_FACTORS = "/api/v1/users/*/lifecycle/reset_factors"
TIMEOUT = 0.3
HELD = 1.0


@dataclass
class World:
    rig: OktaRig
    state: OktaState
    service: SelfService
    notifier: RecordingNotifier
    store: Store


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    from sandboxes.okta import ManualClock

    state = contract_state()
    async with okta_rig(state) as rig:
        cfg = make_config(
            f"sqlite:///{tmp_path}/u.sqlite3",
            connectors={"okta": {"kind": "memory"}},
            capabilities={c: "okta" for c in ("password_reset", "unlock", "mfa_reset")},
        )
        okta = rig.connector(timer=ManualTimer(ManualClock()), request_timeout=TIMEOUT)
        providers = Providers(
            {"okta": okta}, {Capability.parse(k): v for k, v in cfg.capabilities.items()}
        )
        store = await Store.open(cfg.database_url)
        notifier = RecordingNotifier()
        try:
            yield World(rig, state, SelfService(cfg, providers, store, notifier), notifier, store)
        finally:
            await asyncio.sleep(HELD + 0.2)  # the held answers finish, so they are recorded
            await store.close()


def _status(state: OktaState, login: str) -> str:
    user = state.find_user(login)
    assert user is not None
    return user.status.value


async def _results(world: World, actor: Actor) -> list[str]:
    return [r.result for r in await world.store.list_audit(actor=actor.slack_user_id)]


async def _when(condition: object) -> None:
    """Wait (briefly) until ``condition()`` holds: the sandbox applied the write."""
    assert callable(condition)
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the sandbox never applied the write")


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


@pytest.mark.parametrize(
    ("delivery", "path", "status"),
    [(ResetDelivery.LINK, RESET_LINK, "RECOVERY"),
     (ResetDelivery.TEMP_PASSWORD, TEMP_PASSWORD, "PASSWORD_EXPIRED")],
)
async def test_reset_applied_but_answer_lost_issues_a_fresh_one(
    world: World, logs: io.StringIO, delivery: ResetDelivery, path: str, status: str
) -> None:
    world.rig.sandbox.faults.lose_answer_next(seconds=HELD, path=path)
    outcome = await world.service.reset_password(ADA, delivery)
    assert _status(world.state, "ada@example.com") == status
    await asyncio.sleep(HELD)
    calls = world.rig.seen(path)
    assert len(calls) == 2  # the lost one, then the fresh one the employee is given
    # Recorded as answered: the held (lost) answer comes last.
    fresh_body, lost_body = calls[0].response.json(), calls[1].response.json()
    fresh = fresh_body.get("resetPasswordUrl") or fresh_body.get("tempPassword")
    lost_secret = lost_body.get("resetPasswordUrl") or lost_body.get("tempPassword")
    assert outcome.grant.secret.reveal() == fresh != lost_secret
    rows = await world.store.list_audit(actor=ADA.slack_user_id)
    assert [r.result for r in rows] == ["success"]
    assert rows[0].detail.get("reissued_after") == "answer_lost"
    logged = logs.getvalue()
    assert "reset_applied_answer_lost" in logged  # the log really was captured
    for secret in (fresh, lost_secret):
        assert secret not in logged


async def test_reset_not_applied_says_nothing_was_changed(world: World) -> None:
    world.rig.sandbox.faults.hang_next(seconds=HELD, path=TEMP_PASSWORD, then_status=503)
    with pytest.raises(Refusal) as refused:
        await world.service.reset_password(ADA, ResetDelivery.TEMP_PASSWORD)
    assert refused.value.code == "unavailable"
    assert "nothing was changed" in refused.value.user_message
    assert _status(world.state, "ada@example.com") == "ACTIVE"
    assert await _results(world, ADA) == ["failed"]
    ada = world.state.find_user("ada@example.com")
    assert ada is not None
    reads = world.rig.seen(f"/api/v1/users/{ada.id}", method="GET")
    assert len(reads) == 1  # the re-read after the lost answer (preflight searched by email)


async def test_unlock_applied_but_answer_lost_is_done(world: World) -> None:
    world.rig.sandbox.faults.lose_answer_next(seconds=HELD, path=UNLOCK)
    _, result = await world.service.unlock(LOCKED)
    assert result is UnlockResult.UNLOCKED
    assert _status(world.state, "locked@example.com") == "ACTIVE"
    assert await _results(world, LOCKED) == ["success"]


async def test_mfa_reset_applied_but_answer_lost_is_reported_and_announced(world: World) -> None:
    world.rig.sandbox.faults.lose_answer_next(seconds=HELD, path=RESET_FACTORS)
    _, removed = await world.service.reset_mfa(PHONE)
    assert removed == 2
    assert await _results(world, PHONE) == ["success"]
    assert any("MFA reset" in n and "removed 2 factors" in n for n in world.notifier.notices)


async def test_reread_fails_too_says_unknown_and_tells_it(world: World) -> None:
    faults = world.rig.sandbox.faults
    faults.lose_answer_next(seconds=HELD, path=UNLOCK)
    task = asyncio.create_task(world.service.unlock(LOCKED))
    await _when(lambda: _status(world.state, "locked@example.com") == "ACTIVE")
    faults.fail_next(50, status=503, path="/api/v1/users/*", method="GET")
    with pytest.raises(Refusal) as refused:
        await task
    faults.clear()
    assert refused.value.code == "outcome_unknown"
    message = refused.value.user_message
    assert "IT has been told" in message and "nothing was changed" not in message
    assert await _results(world, LOCKED) == ["unknown"]
    alerts = [n for n in world.notifier.notices if "unknown" in n]
    assert len(alerts) == 1 and "locked@example.com" in alerts[0]
