"""Unexpected failures in every flow, over a real socket: the employee is answered, IT can find it.

A directory method or a workflow step is replaced by one that raises (a
``PermissionDenied`` nobody planned for, or a plain bug); the employee still
gets a reply in Slack saying so, with a reference, and an error is logged under
that reference. A failure after a write may have been issued never claims that
nothing was changed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from connectors.errors import PermissionDenied
from tests.bot.helpers import (
    NOT_FINISHED,
    NOTHING_CHANGED,
    assert_failure_answered,
    failing,
)
from tests.bot.test_slack_access import ADA, ANNA, BERT, World, running
from tests.bot.test_slack_access import _workspace as access_workspace
from tests.bot.test_slack_scenarios import LOCKED, PHONE
from tests.bot.test_slack_scenarios import _workspace as people_workspace

DENIED = PermissionDenied("mem", "the service account may not read this user")


@pytest.fixture
async def people(tmp_path: Path) -> AsyncIterator[World]:
    """Ada, a locked-out employee and one with MFA factors (self-service flows)."""
    async with running(tmp_path, people_workspace()) as world:
        yield world


@pytest.fixture
async def access(tmp_path: Path) -> AsyncIterator[World]:
    """Ada and the approvers of the access catalogue (group access flows)."""
    async with running(tmp_path, access_workspace()) as world:
        yield world


async def _answered(w: World, user: str, wording: str = "Something went wrong") -> str:
    message = await w.state.wait_for_message(user, wording)
    return message.visible_text


# -- self-service ------------------------------------------------------------------------
async def test_reset_offer_when_the_directory_refuses_to_read(
    people: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(people.directory, "find_user_by_email", failing(DENIED))
    with capture_logs() as logs:
        await people.sender.dm(ADA, "I forgot my password")
        text = await _answered(people, ADA, NOTHING_CHANGED)
    assert_failure_answered(logs, text, "PermissionDenied")


async def test_confirmed_reset_that_crashes_is_not_called_harmless(
    people: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await people.sender.dm(ADA, "reset my password")
    await people.state.wait_for_message(ADA, "Go ahead?")
    monkeypatch.setattr(people.directory, "start_password_reset", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        await people.sender.block_action(ADA, "hd_confirm.0")
        text = await _answered(people, ADA, NOT_FINISHED)
    assert_failure_answered(logs, text, "RuntimeError", changing=True)
    assert "memory.invalid" not in people.state.visible_text(ADA)


async def test_unlock(people: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(people.directory, "unlock", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        await people.sender.dm(LOCKED, "I'm locked out")
        text = await _answered(people, LOCKED)
    assert_failure_answered(logs, text, "RuntimeError", changing=True)


async def test_mfa_offer(people: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(people.directory, "list_factors", failing(TypeError("bug")))
    with capture_logs() as logs:
        await people.sender.dm(PHONE, "new phone, reset my mfa")
        text = await _answered(people, PHONE)
    assert_failure_answered(logs, text, "TypeError")


async def test_expiry_by_command(people: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(people.directory, "password_status", failing(KeyError("passwordChanged")))
    with capture_logs() as logs:
        await people.sender.slash_command(ADA, "/helpdesk", "expiry")
        text = await _answered(people, ADA)
    assert_failure_answered(logs, text, "KeyError")


# -- around the conversation: who the employee is, the listener itself ----------------------
async def test_identity_lookup_that_crashes(people: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(people.surface.identity, "resolve", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        await people.sender.dm(ADA, "help")
        text = await _answered(people, ADA)
    assert_failure_answered(logs, text, "RuntimeError")


async def test_store_failing_when_the_request_arrives(
    people: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not recorded, so not acknowledged: Slack gets a 503 (and retries); the retry is answered."""
    inbox = people.surface.runtime.store.inbox
    real = inbox.record
    monkeypatch.setattr(inbox, "record", failing(ConnectionError("db down")))
    with capture_logs() as logs:
        first = await people.sender.dm(ADA, "help")
    assert first.status_code == 503
    assert any(e["event"] == "inbox_record_failed" for e in logs)
    assert people.state.messages_to(ADA) == []
    monkeypatch.setattr(inbox, "record", real)
    again = await people.sender.redeliver(first, retry_num=1)
    assert again.status_code == 200
    await people.state.wait_for(lambda st: st.messages_to(ADA) or None)


# -- group access ------------------------------------------------------------------------
async def test_group_pick(access: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = access
    await w.sender.dm(ADA, "I need access to figma and vpn")
    menu = await w.state.wait_for_message(ADA, "Which one do you mean?")
    monkeypatch.setattr(w.directory, "is_member", failing(DENIED))
    with capture_logs() as logs:
        await w.sender.block_action(ADA, "hd_access_pick.1", message=menu)
        text = await _answered(w, ADA)
    assert_failure_answered(logs, text, "PermissionDenied")


async def test_request_form_submitted(access: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = access
    await w.sender.dm(ADA, "add me to vpn-users")
    await w.state.wait_for_message(ADA, "Request access to *VPN*")
    await w.sender.block_action(ADA, "hd_access_form.0")
    modal = await w.state.wait_for(lambda st: next(iter(st.views(ADA, type="modal")), None))
    monkeypatch.setattr(w.directory, "find_user_by_email", failing(DENIED))
    with capture_logs() as logs:
        ok = await w.sender.view_submission(
            ADA,
            {"justification": {"justification": "Working from home on Fridays"},
             "duration": {"duration": "86400"}},
        )
        assert ok.status_code == 200 and modal.closed
        text = await _answered(w, ADA)
    # Submitting may create the request: the reply does not say nothing changed.
    assert_failure_answered(logs, text, "PermissionDenied", changing=True)
    assert not w.member("vpn-users")


async def _figma_card(w: World) -> Any:
    await w.sender.dm(ADA, "I need Figma")
    await w.state.wait_for_message(ADA, "Request access to *Figma (editor)*")
    await w.sender.block_action(ADA, "hd_access_request.0")
    return await w.state.wait_for_message(ANNA, "Access request")


async def test_approve_click(access: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = access
    card = await _figma_card(w)
    store = w.surface.runtime.store.access
    monkeypatch.setattr(store, "approve", failing(ConnectionError("db down")))
    with capture_logs() as logs:
        await w.sender.block_action(ANNA, "hd_access_approve.0", message=card)
        text = await _answered(w, ANNA)
    assert_failure_answered(logs, text, "ConnectionError", changing=True)
    assert not w.member("figma-editors")


async def test_deny_click(access: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = access
    card = await _figma_card(w)
    monkeypatch.setattr(w.surface.runtime.access, "authorise", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        await w.sender.block_action(ANNA, "hd_access_deny.1", message=card)
        text = await _answered(w, ANNA)
    assert_failure_answered(logs, text, "RuntimeError")
    assert card.action_ids() == ["hd_access_approve.0", "hd_access_deny.1"]


async def test_app_home(access: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = access
    monkeypatch.setattr(w.surface.runtime.access, "my_requests", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        await w.sender.app_home_opened(ADA)
        home = await w.state.wait_for(lambda st: st.home_view(ADA))
    text = json.dumps(home.definition)
    notice = next(
        b["text"]["text"] for b in home.definition["blocks"]
        if "Something went wrong" in json.dumps(b)
    )
    assert_failure_answered(logs, notice, "RuntimeError")
    assert "Here's what I can do" in text  # the help is still there


async def test_a_failure_is_told_to_the_clicker_only(
    access: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = access
    card = await _figma_card(w)
    monkeypatch.setattr(w.surface.runtime.access, "authorise", failing(RuntimeError("bug")))
    await w.sender.block_action(ANNA, "hd_access_deny.1", message=card)
    await _answered(w, ANNA)
    assert "Something went wrong" not in w.state.visible_text(ADA)
    assert "Something went wrong" not in w.state.visible_text(BERT)
