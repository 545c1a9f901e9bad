"""A directory that keeps a change waiting: the employee hears so once, before the answer.

Against the Okta sandbox: Okta answers the reset 429 once (``E0000047``, reset at the end
of the minute) and the connector waits out the window, on a manual clock. The notice must
come while the connector waits, exactly once, before the reset link; a fast answer gets
none. A write slower than the threshold (the injected clock says it passed) gets it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from actions.audit import Actor
from actions.busy import EMPLOYEE_NOTICE
from actions.providers import Providers
from actions.self_service import SelfService
from config.clock import SYSTEM_CLOCK, Clock, SystemClock
from connectors.base import Capability, ResetDelivery
from sandboxes.okta import ManualClock, OktaState
from store.db import Store
from tests.bot.helpers import RecordingNotifier, make_config
from tests.okta.conftest import ManualTimer, OktaRig, contract_state, okta_rig

ADA = Actor("U1", "ada@example.com", "Ada")
RESET_LINK = "/api/v1/users/*/lifecycle/reset_password"


@dataclass
class Employee:
    """What the employee saw, in order: notices during the turn, then the answer."""

    seen: list[str] = field(default_factory=list)
    told: asyncio.Event = field(default_factory=asyncio.Event)

    async def tell(self, text: str) -> None:
        self.seen.append(text)
        self.told.set()

    def busy(self) -> list[str]:
        return [t for t in self.seen if "busy" in t]


class WaitingTimer(ManualTimer):
    """The connector's clock: a wait (the 429's) ends only once the employee was told."""

    def __init__(self, clock: ManualClock, employee: Employee) -> None:
        super().__init__(clock)
        self.employee = employee

    async def sleep(self, seconds: float) -> None:
        await asyncio.wait_for(self.employee.told.wait(), 1.0)
        await super().sleep(seconds)


class ThresholdPassed(SystemClock):
    """The notice's clock: the slow-write threshold has always passed already."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


@dataclass
class World:
    rig: OktaRig
    state: OktaState
    clock: ManualClock
    employee: Employee
    store: Store
    tmp_path: Path

    def service(self, timer: Clock, waits: Clock = SYSTEM_CLOCK) -> SelfService:
        cfg = make_config(
            f"sqlite:///{self.tmp_path}/b.sqlite3",
            connectors={"okta": {"kind": "memory"}},
            capabilities={"password_reset": "okta"},
        )
        okta = self.rig.connector(timer=timer)
        providers = Providers(
            {"okta": okta}, {Capability.parse(k): v for k, v in cfg.capabilities.items()}
        )
        return SelfService(cfg, providers, self.store, RecordingNotifier(), waits=waits)

    async def reset(self, service: SelfService) -> None:
        outcome = await service.reset_password(ADA, ResetDelivery.LINK)
        self.employee.seen.append(f"link {outcome.grant.secret.reveal()}")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = ManualClock(1_700_000_010.0)
    state = contract_state()
    async with okta_rig(state, clock=clock) as rig:
        store = await Store.open(f"sqlite:///{tmp_path}/b.sqlite3")
        employee = Employee()
        notice = EMPLOYEE_NOTICE.set(employee.tell)
        try:
            yield World(rig, state, clock, employee, store, tmp_path)
        finally:
            EMPLOYEE_NOTICE.reset(notice)
            await store.close()


async def test_rate_limited_reset_says_busy_once_before_the_link(world: World) -> None:
    clock = world.clock
    timer = WaitingTimer(clock, world.employee)
    service = world.service(timer)
    # Okta's rate limit refuses the reset once (429 E0000047, reset at the minute's end).
    world.rig.sandbox.faults.fail_next(1, status=429, path=RESET_LINK)
    await world.reset(service)
    assert [e.response.status for e in world.rig.seen(RESET_LINK)] == [429, 200]
    assert timer.sleeps and timer.sleeps[0] > 5  # the window's end: the wait was long
    busy = world.employee.busy()
    assert len(busy) == 1 and busy[0].startswith("okta is busy")
    assert world.employee.seen[0] == busy[0]
    assert world.employee.seen[-1].startswith("link ")
    assert len(world.employee.seen) == 2


async def test_fast_reset_says_nothing_but_the_link(world: World) -> None:
    clock = world.clock
    service = world.service(ManualTimer(clock))
    await world.reset(service)
    assert [e.response.status for e in world.rig.seen(RESET_LINK)] == [200]
    assert world.employee.busy() == []
    assert len(world.employee.seen) == 1 and world.employee.seen[0].startswith("link ")


async def test_slow_write_says_busy_once_before_the_link(world: World) -> None:
    clock = world.clock
    service = world.service(ManualTimer(clock), waits=ThresholdPassed())
    world.rig.sandbox.faults.hang_next(seconds=0.2, path=RESET_LINK)
    await world.reset(service)
    busy = world.employee.busy()
    assert len(busy) == 1 and world.employee.seen[0] == busy[0]
    assert world.employee.seen[-1].startswith("link ")
    assert len(world.employee.seen) == 2
