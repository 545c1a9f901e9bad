"""Okta Verify pushes through the real connector against the sandbox, every exchange spec-checked.

The rig (``tests/okta/conftest.py``) validates each request and answer against Okta's
OpenAPI document when the test ends: the verify call (201 with the poll link and, with
number matching, ``_embedded.challenge.correctAnswer``) and each poll (WAITING, SUCCESS,
REJECTED, TIMEOUT).
"""

from __future__ import annotations

import json

import httpx
import pytest

from connectors.base import PushState
from connectors.errors import ConnectorError
from sandboxes.okta import DEMO_SEED, load_seed
from tests.okta.conftest import TOKEN, OktaRig, contract_state, okta_rig


async def test_push_factors_are_the_active_push_enrolments(rig: OktaRig) -> None:
    okta = rig.connector()
    phone = await okta.find_user_by_email("phone@example.com")
    ada = await okta.find_user_by_email("ada@example.com")
    factors = await okta.push_factors(phone)
    assert [f.kind for f in factors] == ["push"]
    assert await okta.push_factors(ada) == []


async def test_number_matching_push_approved_with_the_right_number(rig: OktaRig) -> None:
    okta = rig.connector()
    phone = await okta.find_user_by_email("phone@example.com")
    [factor] = await okta.push_factors(phone)
    challenge = await okta.start_push(phone, factor)
    assert challenge.number is not None and 10 <= challenge.number <= 99
    assert challenge.transaction.startswith(rig.sandbox.url + "/api/v1/users/")
    assert await okta.push_state(challenge) is PushState.WAITING
    state = rig.sandbox.state
    waiting = state.pushes.waiting(phone.id)
    assert waiting is not None and waiting.correct_answer == challenge.number
    assert challenge.number in waiting.choices and len(waiting.choices) == 3
    assert state.pushes.answer(phone.id, challenge.number) == "SUCCESS"
    assert await okta.push_state(challenge) is PushState.APPROVED
    [verify] = rig.seen("/api/v1/users/*/factors/*/verify", "POST")
    assert json.loads(verify.request.body) == {"useNumberMatchingChallenge": True}
    assert verify.response.status == 201
    body = json.loads(verify.response.body)
    assert body["_embedded"]["challenge"]["correctAnswer"] == challenge.number


async def test_wrong_number_or_deny_is_rejected(rig: OktaRig) -> None:
    okta = rig.connector()
    phone = await okta.find_user_by_email("phone@example.com")
    [factor] = await okta.push_factors(phone)
    first = await okta.start_push(phone, factor)
    assert first.number is not None
    wrong = next(n for n in rig.sandbox.state.pushes.waiting(phone.id).choices  # type: ignore[union-attr]
                 if n != first.number)
    assert rig.sandbox.state.pushes.answer(phone.id, wrong) == "REJECTED"
    assert await okta.push_state(first) is PushState.REJECTED
    second = await okta.start_push(phone, factor)
    rig.sandbox.state.pushes.answer(phone.id, approve=False)
    assert await okta.push_state(second) is PushState.REJECTED


async def test_unanswered_push_times_out_after_five_minutes() -> None:
    from sandboxes.okta import ManualClock

    clock = ManualClock()
    state = contract_state()
    state.clock = clock
    async with okta_rig(state, clock=clock) as rig:
        okta = rig.connector()
        phone = await okta.find_user_by_email("phone@example.com")
        [factor] = await okta.push_factors(phone)
        challenge = await okta.start_push(phone, factor, number_matching=False)
        assert challenge.number is None
        clock.advance(299)
        assert await okta.push_state(challenge) is PushState.WAITING
        clock.advance(2)
        assert await okta.push_state(challenge) is PushState.TIMED_OUT


async def test_verify_refuses_what_okta_refuses(rig: OktaRig) -> None:
    okta = rig.connector()
    phone = await okta.find_user_by_email("phone@example.com")
    totp = next(f for f in await okta.list_factors(phone) if f.kind != "push")
    with pytest.raises(ConnectorError):
        await okta.start_push(phone, totp)
    async with httpx.AsyncClient(
        base_url=rig.sandbox.url, verify=rig.sandbox.ssl_context(),
        headers={"Authorization": f"SSWS {TOKEN}"},
    ) as http:
        missing = await http.get(
            f"/api/v1/users/{phone.id}/factors/opfnothere/transactions/mstnothere"
        )
        assert missing.status_code == 404
        assert missing.json()["errorCode"] == "E0000007"


async def test_demo_org_numbers_are_reproducible() -> None:
    numbers = []
    for _ in range(2):
        state = load_seed(DEMO_SEED)
        ada = state.find_user("ada.lovelace@example.com")
        assert ada is not None
        push = next(f for f in state.factors_of(ada.id) if f.factor_type == "push")
        numbers.append(state.pushes.start(ada.id, push.id, number_matching=True).correct_answer)
    assert numbers[0] == numbers[1]
