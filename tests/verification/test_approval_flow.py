"""The approval method: a second person vouches through the approvals engine, then the change.

Memory directory, a real store (SQLite), the access service with its recording notifier:
the employee's first ask sends an identity check to the approvers and changes nothing;
N distinct approvals (never the requester's own) let the change go ahead once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from actions.access import AccessService, DecisionOutcome, Event, NullAccessNotifier, RequestState
from actions.access.model import is_identity_check
from actions.audit import Actor
from actions.errors import Refusal
from actions.self_service import SelfService
from actions.verification.approval import ApprovalVerifier
from bot.views.access import approval_card, my_request, requester_news
from connectors.memory import MemoryDirectory
from store.db import Store
from tests.access.helpers import (
    APPROVER_A,
    APPROVER_B,
    MANAGER,
    REQUESTER,
    STRANGER,
    Clock,
    access_directory,
    people,
)
from tests.bot.helpers import RecordingNotifier, make_config, providers_for


@dataclass
class World:
    service: SelfService
    access: AccessService
    sent: NullAccessNotifier
    security: RecordingNotifier
    directory: MemoryDirectory
    store: Store
    clock: Clock


async def _world(tmp_path: Path, approval: dict[str, Any]) -> AsyncIterator[World]:
    clock = Clock()
    cfg = make_config(
        f"sqlite:///{tmp_path}/a.sqlite3",
        verification={"password_reset": ["approval"], "unlock": ["approval"],
                      "mfa_reset": ["approval"], "approval": approval},
        limits={"mfa_reset": {"count": 5, "per": "24h"}},
    )
    store = await Store.open(cfg.database_url)
    directory = access_directory()
    providers = providers_for(directory, cfg)
    sent, security = NullAccessNotifier(), RecordingNotifier()
    access = AccessService(cfg, providers, store, sent, people(), clock=clock, owner="w1")
    service = SelfService(cfg, providers, store, security, clock=clock,
                          approval=ApprovalVerifier(cfg, access, clock=clock))
    try:
        yield World(service, access, sent, security, directory, store, clock)
    finally:
        await store.close()


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[World]:
    """Two distinct approvals from the approvers' group (which includes the requester)."""
    async for w in _world(tmp_path, {"approvers": ["S0APPROVER"], "approvals_required": 2,
                                     "ttl": "4h", "remind_after": "1h", "valid_for": "30m"}):
        yield w


async def _check_id(world: World) -> str:
    [req] = [r for r in await world.store.access.requests_of(REQUESTER.slack_user_id)
             if is_identity_check(r.group_key)][:1]
    return req.id


async def test_first_ask_sends_the_check_and_changes_nothing(two: World) -> None:
    with pytest.raises(Refusal) as asked:
        await two.service.reset_mfa(REQUESTER)
    assert asked.value.code == "approval_requested"
    posted = [dest for kind, _, dest in two.sent.sent if kind == "post"]
    assert sorted(posted) == sorted([APPROVER_A.slack_user_id, APPROVER_B.slack_user_id])
    assert REQUESTER.slack_user_id not in posted
    snap = await two.access.snapshot(await _check_id(two))
    assert snap is not None and snap.request.state == RequestState.PENDING
    card = approval_card(snap)
    assert "*Identity check*" in card.text and "MFA reset" in card.text
    assert "Confirm you verified it is them" in card.text
    mine = my_request(snap.request).text
    assert mine.startswith("*Identity check for your MFA reset*: waiting for someone")
    with pytest.raises(Refusal) as again:
        await two.service.reset_mfa(REQUESTER)
    assert again.value.code == "approval_pending"
    assert [k for k, *_ in two.sent.sent].count("post") == 2  # not asked twice
    assert "reset_factors" not in two.directory.calls


async def test_requester_cannot_approve_and_n_distinct_approvals_are_needed(two: World) -> None:
    ada = two.directory.accounts["mem00001"]
    from connectors.base import MfaFactor

    ada.factors = [MfaFactor("f1", "push", "Okta Verify")]
    with pytest.raises(Refusal):
        await two.service.reset_mfa(REQUESTER)
    check = await _check_id(two)
    with pytest.raises(Refusal) as own:
        await two.access.decide(REQUESTER, check, approve=True)
    assert own.value.code == "own_request"
    with pytest.raises(Refusal) as stranger:
        await two.access.decide(STRANGER, check, approve=True)
    assert stranger.value.code == "not_approver"
    first = await two.access.decide(APPROVER_A, check, approve=True)
    assert first.outcome is DecisionOutcome.RECORDED
    assert (await two.access.decide(APPROVER_A, check, approve=True)).outcome is (
        DecisionOutcome.ALREADY_VOTED
    )
    with pytest.raises(Refusal) as pending:
        await two.service.reset_mfa(REQUESTER)
    assert pending.value.code == "approval_pending"
    assert ada.factors  # still nothing changed
    second = await two.access.decide(APPROVER_B, check, approve=True)
    assert second.outcome is DecisionOutcome.APPROVED
    snap = await two.access.snapshot(check)
    assert snap is not None and snap.request.state == RequestState.FULFILLED
    assert ("tell", check, Event.FULFILLED.value) in two.sent.sent
    news = requester_news(snap, Event.FULFILLED)
    assert "confirmed it's you" in news.text and news.buttons[0].value == "mfa_reset:en"
    _, removed = await two.service.reset_mfa(REQUESTER)
    assert removed == 1 and ada.factors == []
    [done] = await two.store.list_audit(action="mfa_reset")
    assert done.result == "success" and done.detail["verified_by"] == "approval"
    used = await two.store.list_audit(action="verification_used")
    assert [r.result for r in used] == ["success"]
    [step] = await two.store.list_audit(action="verification")
    assert (step.result, step.detail["method"], step.detail["capability"]) == (
        "approved", "approval", "mfa_reset")
    assert step.detail["approved_by"] == used[0].detail["approved_by"] != ""
    # Used once: the next change needs a new check.
    with pytest.raises(Refusal) as next_time:
        await two.service.reset_mfa(REQUESTER)
    assert next_time.value.code == "approval_requested"


async def test_denied_check_changes_nothing(two: World) -> None:
    with pytest.raises(Refusal):
        await two.service.unlock(REQUESTER)
    check = await _check_id(two)
    denied = await two.access.decide(APPROVER_A, check, approve=False, reason="not her voice")
    assert denied.outcome is DecisionOutcome.DENIED
    with pytest.raises(Refusal) as asked_again:
        await two.service.unlock(REQUESTER)
    assert asked_again.value.code == "approval_requested"
    assert "unlock" not in two.directory.calls


async def test_expired_check_and_stale_approval(two: World) -> None:
    with pytest.raises(Refusal):
        await two.service.reset_password(REQUESTER)
    check = await _check_id(two)
    two.clock.advance(timedelta(hours=5))
    late = await two.access.decide(APPROVER_A, check, approve=True)
    assert late.outcome is DecisionOutcome.ALREADY_DECIDED
    snap = await two.access.snapshot(check)
    assert snap is not None and snap.request.state == RequestState.EXPIRED


async def test_an_approval_not_used_within_valid_for_lapses(two: World) -> None:
    with pytest.raises(Refusal):
        await two.service.reset_password(REQUESTER)
    check = await _check_id(two)
    await two.access.decide(APPROVER_A, check, approve=True)
    await two.access.decide(APPROVER_B, check, approve=True)
    two.clock.advance(timedelta(minutes=31))
    with pytest.raises(Refusal) as lapsed:
        await two.service.reset_password(REQUESTER)
    assert lapsed.value.code == "approval_requested"


async def test_manager_is_asked_and_no_approvers_means_no_method(tmp_path: Path) -> None:
    async for world in _world(tmp_path, {"approvers": ["manager"]}):
        with pytest.raises(Refusal):
            await world.service.unlock(REQUESTER)
        assert [d for k, _, d in world.sent.sent if k == "post"] == [MANAGER]
        # Someone with no manager in the directory: the method does not apply.
        other = Actor("U0LOCKED01", "locked@example.com", "Locked")
        with pytest.raises(Refusal) as refused:
            await world.service.unlock(other)
        assert refused.value.code == "unverified"


async def test_the_card_gives_the_employees_reason_in_their_words(two: World) -> None:
    from bot.conversation import Conversation
    from bot.replies import ActionId
    from tests.bot.helpers import KeywordRouter

    conv = Conversation(two.service, KeywordRouter(), two.store, two.access)
    said = "reset my password please, I was on holiday and   forgot it"
    [offer] = await conv.on_message(REQUESTER, said)
    assert offer.buttons, offer.text
    await conv.on_button(REQUESTER, ActionId.CONFIRM.value, offer.buttons[0].value)
    snap = await two.access.snapshot(await _check_id(two))
    assert snap is not None
    fields = dict(approval_card(snap).fields)
    assert fields["Reason, in their words"] == (
        "reset my password please, I was on holiday and forgot it")
