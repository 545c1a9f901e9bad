"""The push method end to end: the self-service workflows, the real Okta connector, the sandbox.

Every exchange with the sandbox is checked against Okta's OpenAPI document (``okta_rig``).
The "phone" answers through the sandbox's push book, as Okta Verify would: the number shown
in the chat, a wrong number, a denial, or nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from actions.audit import Actor
from actions.errors import Refusal
from actions.providers import Providers
from actions.self_service import SelfService
from connectors.base import Capability, PushChallenge, UnlockResult
from connectors.memory import MemoryDirectory
from sandboxes.okta import OktaState
from store.db import Store
from tests.bot.helpers import RecordingNotifier, make_config
from tests.okta.conftest import OktaRig, contract_state, okta_rig

PHONE = Actor("U1", "phone@example.com", "Phone Owner")
ADA = Actor("U2", "ada@example.com", "Ada")  # no push factor


@dataclass
class Phone:
    """The ``PushPrompter`` the chat would be, and the phone that answers the push."""

    state: OktaState
    answer: str = "right"  # right | wrong | deny | ignore | expire
    shown: list[int | None] = field(default_factory=list)

    async def push_sent(self, actor: Actor, challenge: PushChallenge, label: str) -> None:
        self.shown.append(challenge.number)
        pushes = self.state.pushes
        tx_id = challenge.transaction.rsplit("/", 1)[-1]
        waiting = pushes.get(challenge.user_id, challenge.factor.id, tx_id)
        assert waiting is not None and waiting.correct_answer == challenge.number
        user = challenge.user_id
        if self.answer == "right":
            pushes.answer(user, challenge.number, transaction_id=tx_id)
        elif self.answer == "wrong":
            wrong = next(n for n in waiting.choices if n != challenge.number)
            pushes.answer(user, wrong, transaction_id=tx_id)
        elif self.answer == "deny":
            pushes.answer(user, approve=False, transaction_id=tx_id)
        elif self.answer == "expire":
            pushes.time_out(challenge.user_id)


@dataclass
class World:
    rig: OktaRig
    service: SelfService
    phone: Phone
    notifier: RecordingNotifier
    store: Store


VERIFY_PUSH: dict[str, Any] = {
    "password_reset": ["push"],
    "unlock": ["push"],
    "mfa_reset": ["push"],
    "push": {"per_hour": 3, "wait": "1s", "poll_interval": "1s"},
}


async def _world(tmp_path: Path, verification: dict[str, Any]) -> AsyncIterator[World]:
    state = contract_state()
    async with okta_rig(state) as rig:
        cfg = make_config(
            f"sqlite:///{tmp_path}/v.sqlite3",
            connectors={"okta": {"kind": "memory"}},
            capabilities={c: "okta" for c in ("password_reset", "unlock", "mfa_reset")},
            verification=verification,
        )
        okta = rig.connector()
        providers = Providers({"okta": okta}, {Capability.parse(k): v
                                               for k, v in cfg.capabilities.items()})
        store = await Store.open(cfg.database_url)
        phone, notifier = Phone(state), RecordingNotifier()
        service = SelfService(cfg, providers, store, notifier, prompter=phone)
        try:
            yield World(rig, service, phone, notifier, store)
        finally:
            await store.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for w in _world(tmp_path, VERIFY_PUSH):
        yield w


async def _audit(store: Store, action: str) -> list[str]:
    return [r.result for r in await store.list_audit(action=action)]


async def test_approved_push_then_the_reset(world: World) -> None:
    outcome = await world.service.reset_password(PHONE)
    assert outcome.grant.secret.reveal().startswith(world.rig.sandbox.url)
    assert world.phone.shown and world.phone.shown[0] is not None
    assert sorted(await _audit(world.store, "verify_push")) == ["approved", "sent"]
    [reset] = await world.store.list_audit(action="password_reset")
    assert reset.result == "success" and reset.detail["verified_by"] == "push"
    # One record of the verification: how, the answer, the number the employee was shown.
    [step] = await world.store.list_audit(action="verification")
    assert (step.result, step.detail["method"], step.detail["capability"]) == (
        "approved", "push", "password_reset")
    assert step.detail["number"] == str(world.phone.shown[0]) and step.detail["factor"]
    # The push went before the reset: the verify call precedes the lifecycle call.
    paths = [e.request.path for e in world.rig.exchanges]
    verify = next(i for i, p in enumerate(paths) if p.endswith("/verify"))
    reset_call = next(i for i, p in enumerate(paths) if "/lifecycle/reset_password" in p)
    assert verify < reset_call
    assert world.notifier.notices == []


@pytest.mark.parametrize("answer", ["deny", "wrong"])
async def test_rejected_push_changes_nothing_and_tells_security(
    world: World, answer: str
) -> None:
    world.phone.answer = answer
    with pytest.raises(Refusal) as refused:
        await world.service.reset_password(PHONE)
    assert refused.value.code == "push_rejected"
    assert not [e for e in world.rig.exchanges if "/lifecycle/" in e.request.path]
    [notice] = world.notifier.notices
    assert "Possible account takeover attempt" in notice and "phone@example.com" in notice
    assert "rejected" in await _audit(world.store, "verify_push")
    assert await world.store.list_audit(action="password_reset") == []
    [step] = await world.store.list_audit(action="verification")
    assert (step.result, step.detail["method"]) == ("rejected", "push")
    assert step.detail["number"] == str(world.phone.shown[0])


@pytest.mark.parametrize("answer", ["ignore", "expire"])
async def test_unanswered_push_times_out_and_changes_nothing(world: World, answer: str) -> None:
    world.phone.answer = answer
    with pytest.raises(Refusal) as refused:
        await world.service.unlock(PHONE)
    assert refused.value.code == "push_timeout"
    assert not [e for e in world.rig.exchanges if "/lifecycle/" in e.request.path]
    assert world.notifier.notices == []  # no answer is not an attack
    assert "timed_out" in await _audit(world.store, "verify_push")


async def test_push_limit_per_hour_then_no_method_left(world: World) -> None:
    world.phone.answer = "deny"
    for _ in range(3):
        with pytest.raises(Refusal):
            await world.service.reset_password(PHONE)
    sent = len([e for e in world.rig.exchanges if e.request.path.endswith("/verify")])
    with pytest.raises(Refusal) as refused:
        await world.service.reset_password(PHONE)
    assert refused.value.code == "unverified"
    assert len([e for e in world.rig.exchanges if e.request.path.endswith("/verify")]) == sent == 3
    results = await _audit(world.store, "verify_push")
    assert results.count("sent") == 3 and "refused" in results
    steps = await world.store.list_audit(action="verification")
    assert sorted(r.result for r in steps) == ["refused", "rejected", "rejected", "rejected"]
    [refused_step] = [r for r in steps if r.result == "refused"]
    assert "push limit" in refused_step.detail["skipped"]


async def test_no_push_factor_and_no_other_method_refuses(world: World) -> None:
    with pytest.raises(Refusal) as refused:
        await world.service.reset_password(ADA)
    assert refused.value.code == "unverified"
    assert not [e for e in world.rig.exchanges if e.request.path.endswith("/verify")]


async def test_none_is_an_explicit_opt_out(tmp_path: Path) -> None:
    none = {"password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]}
    async for world in _world(tmp_path, none):
        _, result = await world.service.unlock(Actor("U3", "locked@example.com"))
        assert result is UnlockResult.UNLOCKED
        assert world.phone.shown == []
        assert await world.store.list_audit(action="verification") == []
        [unlock] = await world.store.list_audit(action="unlock")
        assert unlock.result == "success" and unlock.detail["verified_by"] == "none"


async def test_two_pushes_at_once_each_wait_for_their_own_answer(world: World) -> None:
    results = await asyncio.gather(
        world.service.reset_password(PHONE), world.service.unlock(PHONE),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(world.phone.shown) == 2


class NoPushDirectory(MemoryDirectory):
    """A directory that can't send pushes (as Active Directory can't)."""

    capabilities = MemoryDirectory.capabilities & ~Capability.PUSH_VERIFY


async def test_directory_without_pushes_verifies_through_the_verifier(tmp_path: Path) -> None:
    state = contract_state()
    async with okta_rig(state) as rig:
        cfg = make_config(
            f"sqlite:///{tmp_path}/ad.sqlite3",
            connectors={"ad": {"kind": "memory"}, "okta": {"kind": "memory"}},
            capabilities={"password_reset": "ad", "unlock": "ad"},
            verification={**VERIFY_PUSH, "verifier": "okta"},
        )
        ad = NoPushDirectory("ad")
        ad.add_user("phone@example.com", display_name="Phone Owner")
        okta = rig.connector()
        providers = Providers({"ad": ad, "okta": okta}, {
            Capability.PASSWORD_RESET: "ad", Capability.UNLOCK: "ad"})
        store = await Store.open(cfg.database_url)
        try:
            phone, notifier = Phone(state), RecordingNotifier()
            service = SelfService(cfg, providers, store, notifier, prompter=phone)
            outcome = await service.reset_password(PHONE)
            assert outcome.target.connector is ad and "start_password_reset" in ad.calls
            assert len(phone.shown) == 1
            okta_user = state.find_user("phone@example.com")
            assert okta_user is not None
            assert [e.request.path for e in rig.exchanges if e.request.method == "POST"] == [
                f"/api/v1/users/{okta_user.id}/factors/"
                f"{state.factors_of(okta_user.id)[0].id}/verify"
            ]
            [sent] = [r for r in await store.list_audit(action="verify_push") if r.result == "sent"]
            assert sent.detail["verifier"] == "okta"
            # No push factor in the verifier: push doesn't apply (no other method: refused).
            ad.add_user("ada@example.com")
            with pytest.raises(Refusal) as refused:
                await service.reset_password(ADA)
            assert refused.value.code == "unverified"
        finally:
            await store.close()
