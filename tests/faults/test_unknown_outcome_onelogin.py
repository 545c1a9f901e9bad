"""OneLogin: a write whose answer is lost is an unknown outcome, settled by re-reading.

Against the OneLogin sandbox: the write is carried out and its answer held past the
connector's read timeout (``lose_answer_next``), or held and never carried out
(``hang_next``). The flow re-reads ``password_changed_at``, the lock and the devices, and
tells the employee only what they show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from actions.audit import Actor
from actions.errors import Refusal
from actions.providers import Providers
from actions.self_service import SelfService
from connectors.base import Capability, MembershipChange, UnlockResult
from connectors.errors import OutcomeUnknown
from connectors.onelogin.connector import OneLoginConnector
from sandboxes.onelogin import DEMO_SEED, OneLoginSandbox, load_seed, run_onelogin_sandbox
from store.db import Store
from tests.bot.helpers import RecordingNotifier, make_config
from tests.onelogin.conftest import connector_for

ADA = Actor("U1", "ada@example.com", "Ada")
LOCKED = Actor("U2", "locked@example.com", "Locked")
PHONE = Actor("U3", "phone@example.com", "Phone")
TIMEOUT = 0.3
HELD = 1.0
ATTEMPTS = 2


@dataclass
class World:
    sandbox: OneLoginSandbox
    connector: OneLoginConnector
    service: SelfService
    notifier: RecordingNotifier
    store: Store

    def uid(self, email: str) -> int:
        return self.sandbox.state.user_by_email(email).id

    def password_puts(self, email: str) -> int:
        calls = self.sandbox.calls("PUT", f"/api/2/users/{self.uid(email)}")
        return sum("password" in c.body_keys for c in calls)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with run_onelogin_sandbox(load_seed(DEMO_SEED, now=time.time())) as sandbox:
        cfg = make_config(
            f"sqlite:///{tmp_path}/u.sqlite3",
            connectors={"onelogin": {"kind": "memory"}},
            capabilities={c: "onelogin" for c in ("password_reset", "unlock", "mfa_reset")},
            password_reset={"delivery": "temp_password"},
        )
        connector = connector_for(sandbox, read_timeout=TIMEOUT, max_attempts=ATTEMPTS)
        providers = Providers(
            {"onelogin": connector},
            {Capability.parse(k): v for k, v in cfg.capabilities.items()},
        )
        store = await Store.open(cfg.database_url)
        notifier = RecordingNotifier()
        try:
            yield World(
                sandbox, connector, SelfService(cfg, providers, store, notifier), notifier, store
            )
        finally:
            await asyncio.sleep(HELD + 0.2)  # the held answers finish
            await connector.aclose()
            await store.close()


async def _results(world: World, actor: Actor) -> list[str]:
    return [r.result for r in await world.store.list_audit(actor=actor.slack_user_id)]


async def test_password_set_but_answer_lost_issues_a_fresh_one(world: World) -> None:
    ada = world.uid("ada@example.com")
    before = world.sandbox.state.users[ada].password_changed_at
    world.sandbox.faults.lose_answer_next(
        seconds=HELD, method="PUT", path=f"/api/2/users/{ada}"
    )
    outcome = await world.service.reset_password(ADA)
    user = world.sandbox.state.users[ada]
    assert user.password_changed_at != before
    assert user.status == 5  # must change it at next login: the fresh one was finished
    await asyncio.sleep(HELD)  # the held answer is recorded once it is sent
    assert world.password_puts("ada@example.com") == 2  # the lost one, then the fresh one
    assert outcome.grant.secret.reveal()
    rows = await world.store.list_audit(actor=ADA.slack_user_id)
    assert [r.result for r in rows] == ["success"]
    assert rows[0].detail.get("reissued_after") == "answer_lost"


async def test_password_not_set_says_nothing_was_changed(world: World) -> None:
    ada = world.uid("ada@example.com")
    before = world.sandbox.state.users[ada].password_changed_at
    world.sandbox.faults.hang_next(
        seconds=HELD, method="PUT", path=f"/api/2/users/{ada}", then_status=503
    )
    with pytest.raises(Refusal) as refused:
        await world.service.reset_password(ADA)
    assert refused.value.code == "unavailable"
    assert "nothing was changed" in refused.value.user_message
    assert world.sandbox.state.users[ada].password_changed_at == before
    assert await _results(world, ADA) == ["failed"]


async def test_unlock_applied_but_answer_lost_is_done(world: World) -> None:
    uid = world.uid("locked@example.com")
    world.sandbox.faults.lose_answer_next(seconds=HELD, path=f"/api/2/users/{uid}/unlock")
    _, result = await world.service.unlock(LOCKED)
    assert result is UnlockResult.UNLOCKED
    assert world.sandbox.state.users[uid].status == 1
    assert await _results(world, LOCKED) == ["success"]
    await asyncio.sleep(HELD)
    assert len(world.sandbox.calls("POST", f"/api/2/users/{uid}/unlock")) == 1


async def test_mfa_devices_removed_but_answer_lost_is_reported(world: World) -> None:
    uid = world.uid("phone@example.com")
    devices = f"/api/2/mfa/users/{uid}/devices/*"
    # Every attempt at the first device's DELETE loses its answer (DELETE is retried).
    world.sandbox.faults.lose_answer_next(ATTEMPTS, seconds=HELD, method="DELETE", path=devices)
    _, removed = await world.service.reset_mfa(PHONE)
    assert removed == 2
    assert not world.sandbox.state.devices_of(uid)
    assert await _results(world, PHONE) == ["success"]
    assert any("removed 2 factors" in n for n in world.notifier.notices)


async def test_mfa_half_done_is_unknown_and_it_is_told(world: World) -> None:
    uid = world.uid("phone@example.com")
    second = world.sandbox.state.devices_of(uid)[1].device_id
    world.sandbox.faults.hang_next(
        ATTEMPTS, seconds=HELD, method="DELETE",
        path=f"/api/2/mfa/users/{uid}/devices/{second}", then_status=503,
    )
    with pytest.raises(Refusal) as refused:
        await world.service.reset_mfa(PHONE)
    assert refused.value.code == "outcome_unknown"
    assert "nothing was changed" not in refused.value.user_message
    assert len(world.sandbox.state.devices_of(uid)) == 1
    assert await _results(world, PHONE) == ["unknown"]
    alerts = [n for n in world.notifier.notices if "unknown" in n]
    assert len(alerts) == 1 and "phone@example.com" in alerts[0]


async def test_role_added_but_answer_lost_is_read_back(world: World) -> None:
    ada = await world.connector.find_user_by_email("ada@example.com")
    group = await world.connector.find_group("figma-editors")
    path = f"/api/2/roles/{group.id}/users"
    world.sandbox.faults.lose_answer_next(seconds=HELD, method="POST", path=path)
    assert await world.connector.add_to_group(ada, group) is MembershipChange.ADDED
    await asyncio.sleep(HELD)
    assert len(world.sandbox.calls("POST", path)) == 1


async def test_lost_answer_and_failed_read_back_stay_unknown(world: World) -> None:
    ada = await world.connector.find_user_by_email("ada@example.com")
    group = await world.connector.find_group("figma-editors")
    path = f"/api/2/roles/{group.id}/users"
    world.sandbox.faults.lose_answer_next(seconds=HELD, method="POST", path=path)
    task = asyncio.create_task(world.connector.add_to_group(ada, group))
    for _ in range(200):  # the sandbox applied the POST; its answer is still held
        if int(group.id) in world.sandbox.state.role_ids_of(int(ada.id)):
            break
        await asyncio.sleep(0.005)
    world.sandbox.faults.fail_next(ATTEMPTS, status=503, method="GET")
    with pytest.raises(OutcomeUnknown):
        await task
