"""The access conversation without Slack: prompts, forms, stale and forged buttons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from actions.access import NullAccessNotifier
from actions.self_service import SelfService
from bot.conversation import Conversation
from bot.replies import ActionId, Reply
from store.db import Store
from tests.access.helpers import APPROVER_A, REQUESTER, STRANGER, Clock, access_directory
from tests.access.helpers import build_service as build_access
from tests.bot.helpers import KeywordRouter, RecordingNotifier, providers_for


@dataclass
class World:
    conv: Conversation
    notifier: NullAccessNotifier
    store: Store


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = await Store.open(f"sqlite:///{tmp_path}/c.sqlite3")
    directory = access_directory()
    access, notifier = build_access(store, directory, Clock())
    service = SelfService(access.cfg, providers_for(directory, access.cfg), store,
                          RecordingNotifier())
    yield World(Conversation(service, KeywordRouter(), store, access), notifier, store)
    await store.close()


def _value(reply: Reply, action: str) -> str:
    return next(b.value for b in reply.buttons if b.action == action)


async def test_words_without_the_model_still_find_the_group(world: World) -> None:
    [prompt] = await world.conv.on_command(REQUESTER, "request Figma")
    assert "Request access to *Figma (editor)*" in prompt.text
    [menu] = await world.conv.on_command(REQUESTER, "request salesforce")
    assert "I can only request access" in menu.text
    assert {b.action for b in menu.buttons} == {ActionId.ACCESS_PICK}


async def test_form_errors_then_request(world: World) -> None:
    [prompt] = await world.conv.on_button(REQUESTER, ActionId.ACCESS_PICK, "github-org")
    token = _value(prompt, ActionId.ACCESS_FORM)
    [opened] = await world.conv.on_button(REQUESTER, ActionId.ACCESS_FORM, token)
    assert opened.form is not None
    assert [f.name for f in opened.form.fields] == ["duration"]
    bad = await world.conv.on_form(REQUESTER, ActionId.ACCESS_FORM, token, {"duration": "31536000"})
    assert bad.errors == {"duration": "Please choose how long you need it."}
    # Someone else's submission of this form is stale, and doesn't use it up.
    other = await world.conv.on_form(STRANGER, ActionId.ACCESS_FORM, token, {"duration": "86400"})
    assert "expired or was already handled" in other.replies[0].text
    good = await world.conv.on_form(REQUESTER, ActionId.ACCESS_FORM, token, {"duration": "86400"})
    assert "Sent: your request for *GitHub*" in good.replies[0].text
    again = await world.conv.on_form(REQUESTER, ActionId.ACCESS_FORM, token, {"duration": "86400"})
    assert "expired or was already handled" in again.replies[0].text


async def test_tokens_of_one_flow_do_not_work_in_another(world: World) -> None:
    [prompt] = await world.conv.on_button(REQUESTER, ActionId.ACCESS_PICK, "figma-editors")
    token = _value(prompt, ActionId.ACCESS_REQUEST)
    [forged] = await world.conv.on_button(REQUESTER, ActionId.CONFIRM, token)
    assert "expired or was already handled" in forged.text
    [reset] = await world.conv.on_message(REQUESTER, "I forgot my password")
    reset_token = _value(reset, ActionId.CONFIRM)
    [crossed] = await world.conv.on_button(REQUESTER, ActionId.ACCESS_REQUEST, reset_token)
    assert "expired or was already handled" in crossed.text
    # The password-reset confirmation was left alone.
    [confirmed, _secret] = await world.conv.on_button(REQUESTER, ActionId.CONFIRM, reset_token)
    assert confirmed.replaces_prompt


async def test_deny_form_only_for_approvers(world: World) -> None:
    [prompt] = await world.conv.on_button(REQUESTER, ActionId.ACCESS_PICK, "figma-editors")
    token = _value(prompt, ActionId.ACCESS_REQUEST)
    [sent] = await world.conv.on_button(REQUESTER, ActionId.ACCESS_REQUEST, token)
    rid = next(rid for kind, rid, _ in world.notifier.sent if kind == "post")
    [refused] = await world.conv.on_button(STRANGER, ActionId.ACCESS_DENY, rid)
    assert refused.ephemeral and refused.form is None
    [opened] = await world.conv.on_button(APPROVER_A, ActionId.ACCESS_DENY, rid)
    assert opened.form is not None and opened.form.fields[0].name == "reason"
    empty = await world.conv.on_form(APPROVER_A, ActionId.ACCESS_DENY, rid, {"reason": " "})
    assert "reason" in empty.errors
    done = await world.conv.on_form(
        APPROVER_A, ActionId.ACCESS_DENY, rid, {"reason": "Not for this team"}
    )
    assert done.replies == [] and not done.errors
    [late, card] = await world.conv.on_button(APPROVER_A, ActionId.ACCESS_APPROVE, rid)
    assert late.ephemeral and "already handled" in late.text and "Denied" in late.text
    assert card.replaces_prompt and card.in_place_only and card.buttons == []
    assert sent.buttons  # the requester's cancel button
