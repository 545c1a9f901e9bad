"""AD: an LDAP modify whose answer is lost is an unknown outcome, settled by re-reading.

Against the real Samba DC, through :class:`~tests.ad.lossy_proxy.LossyProxy`: the modify
reaches the DC and its answer is dropped (the change is made), or the modify itself is
dropped (nothing is made). The flow re-reads pwdLastSet, lockoutTime or ``member`` and
tells the employee only what they show.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from actions.audit import Actor
from actions.errors import Refusal
from actions.providers import Providers
from actions.self_service import SelfService
from connectors.ad import accounts, groups
from connectors.ad.connector import ActiveDirectoryConnector
from connectors.ad.errors import error_from_result
from connectors.ad.ldap import Conn
from connectors.base import Capability, MembershipChange, UnlockResult
from connectors.errors import InvalidState, Unavailable
from store.db import Store
from tests.ad.lossy_proxy import Loss, LossyProxy
from tests.ad.samba import SambaDC, SeedUser
from tests.bot.helpers import RecordingNotifier, make_config

ATTEMPTS = 2  # the connector's retry_attempts: an idempotent write is retried once


class Losses:
    """Loses the next ``count`` modifies (their answer, or the request) at the proxy."""

    def __init__(self, proxy: LossyProxy, monkeypatch: pytest.MonkeyPatch) -> None:
        self._proxy = proxy
        self._left = 0
        self._loss: Loss = "answer"
        self._lock = threading.Lock()
        for module in (accounts, groups):
            real = module.modify

            def lossy(conn: Conn, dn: str, changes: Any, real: Any = real) -> Any:
                with self._lock:
                    armed = self._left > 0
                    self._left -= armed
                if armed:
                    self._proxy.arm(int(conn.socket.getsockname()[1]), self._loss)
                return real(conn, dn, changes)

            monkeypatch.setattr(module, "modify", lossy)

    def next(self, count: int, loss: Loss) -> None:
        with self._lock:
            self._left, self._loss = count, loss


@dataclass
class World:
    dc: SambaDC
    ad: ActiveDirectoryConnector
    service: SelfService
    notifier: RecordingNotifier
    store: Store
    losses: Losses
    proxy: LossyProxy

    def actor(self, u: SeedUser) -> Actor:
        return Actor("U" + u.name, u.email, u.name)

    async def results(self, u: SeedUser) -> list[str]:
        return [r.result for r in await self.store.list_audit(actor="U" + u.name)]


@pytest.fixture
async def world(
    samba_dc: SambaDC,
    make_connector: Callable[..., ActiveDirectoryConnector],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    proxy = LossyProxy(samba_dc.address, 636)
    async with proxy.serving():
        ad = make_connector(
            urls=[f"ldaps://127.0.0.1:{proxy.port}"], retry_attempts=ATTEMPTS, pool_size=1
        )
        cfg = make_config(
            f"sqlite:///{tmp_path}/u.sqlite3",
            connectors={"ad": {"kind": "memory"}},
            capabilities={c: "ad" for c in ("password_reset", "unlock")},
            password_reset={"delivery": "temp_password"},
        )
        providers = Providers(
            {"ad": ad}, {Capability.parse(k): v for k, v in cfg.capabilities.items()}
        )
        store = await Store.open(cfg.database_url)
        notifier = RecordingNotifier()
        try:
            yield World(
                samba_dc, ad, SelfService(cfg, providers, store, notifier), notifier, store,
                Losses(proxy, monkeypatch), proxy,
            )
        finally:
            await ad.aclose()  # before the proxy stops: its connections close cleanly
            await store.close()


def _pwd_last_set(dc: SambaDC, u: SeedUser) -> bytes:
    return dc.search_one(u.dn, "pwdLastSet")["pwdLastSet"][0]


async def test_reset_applied_but_answer_lost_issues_a_fresh_one(world: World) -> None:
    u = world.dc.make_user("lost")
    world.losses.next(1, "answer")
    outcome = await world.service.reset_password(world.actor(u))
    assert world.proxy.lost == ["answer"]
    temp = outcome.grant.secret.reveal()
    # The fresh password is the account's (refused only because it must be changed).
    must_change = error_from_result("ad", "bind", world.dc.try_bind(u.email, temp))
    assert isinstance(must_change, InvalidState) and must_change.code == "773"
    rows = await world.store.list_audit(actor="U" + u.name)
    assert [r.result for r in rows] == ["success"]
    assert rows[0].detail.get("reissued_after") == "answer_lost"


async def test_reset_never_sent_says_nothing_was_changed(world: World) -> None:
    u = world.dc.make_user("kept")
    before = _pwd_last_set(world.dc, u)
    world.losses.next(1, "request")
    with pytest.raises(Refusal) as refused:
        await world.service.reset_password(world.actor(u))
    assert world.proxy.lost == ["request"]
    assert refused.value.code == "unavailable"
    assert "nothing was changed" in refused.value.user_message
    assert _pwd_last_set(world.dc, u) == before
    assert world.dc.try_bind(u.email, u.password)["description"] == "success"
    assert await world.results(u) == ["failed"]


async def test_unlock_applied_but_every_answer_lost_is_done(world: World) -> None:
    u = world.dc.make_user("unlk")
    world.dc.lock_out(u.email)
    world.losses.next(ATTEMPTS, "answer")
    _, result = await world.service.unlock(world.actor(u))
    assert world.proxy.lost == ["answer"] * ATTEMPTS
    assert result is UnlockResult.UNLOCKED
    assert world.dc.try_bind(u.email, u.password)["description"] == "success"
    assert await world.results(u) == ["success"]


async def test_unlock_never_sent_says_nothing_was_changed(world: World) -> None:
    u = world.dc.make_user("stuck")
    world.dc.lock_out(u.email)
    world.losses.next(ATTEMPTS, "request")
    with pytest.raises(Refusal) as refused:
        await world.service.unlock(world.actor(u))
    assert refused.value.code == "unavailable"
    assert "nothing was changed" in refused.value.user_message
    assert world.dc.try_bind(u.email, u.password)["description"] == "invalidCredentials"
    assert await world.results(u) == ["failed"]


async def test_group_add_whose_answer_was_lost_is_read_back(world: World) -> None:
    u = world.dc.make_user("member")
    user = await world.ad.find_user_by_email(u.email)
    group = await world.ad.find_group("figma-editors")
    world.losses.next(ATTEMPTS, "answer")
    # The retry finds the member the lost modify added: our add, not an earlier one.
    assert await world.ad.add_to_group(user, group) is MembershipChange.ADDED
    assert world.proxy.lost == ["answer"]
    assert await world.ad.is_member(user, group)
    world.losses.next(ATTEMPTS, "answer")
    assert await world.ad.remove_from_group(user, group) is MembershipChange.REMOVED
    assert world.proxy.lost == ["answer", "answer"]
    assert not await world.ad.is_member(user, group)


async def test_group_add_never_sent_is_a_plain_failure(world: World) -> None:
    u = world.dc.make_user("outsider")
    user = await world.ad.find_user_by_email(u.email)
    group = await world.ad.find_group("figma-editors")
    world.losses.next(ATTEMPTS, "request")
    with pytest.raises(Unavailable) as failed:
        await world.ad.add_to_group(user, group)
    assert world.proxy.lost == ["request"] * ATTEMPTS
    assert type(failed.value) is Unavailable  # read back: nothing was changed
    assert not await world.ad.is_member(user, group)
