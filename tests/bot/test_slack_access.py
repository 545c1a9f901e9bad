"""Group access requests end to end over a real socket: DMs, approval buttons, modals, Home.

The bot runs on 127.0.0.1 with its Web API client pointed at the Slack fake and
the in-memory directory behind it; requests are signed exactly as Slack signs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from sandboxes.slack import Message, SlackState, View, Workspace
from tests.bot.slack_world import (
    BOT_USER,
    ORGANISATION,
    SlackWorld,
    acme,
    slack_user,
    slack_world,
)

ADA, ANNA, BERT, BOB = "U0ADA00001", "U0ANNA0001", "U0BERT0001", "U0BOB00001"
APPROVALS = "C0APPROVAL1"
APPROVERS_GROUP = "S0APPROVERS"

CATALOGUE: list[dict[str, Any]] = [
    {"key": "figma-editors", "display_name": "Figma (editor)", "aliases": ["figma"],
     "description": "Edit access to Figma design files", "provider_group": "figma-editors",
     "approvers": [ANNA, "#it-approvals"]},
    {"key": "vpn-users", "display_name": "VPN", "aliases": ["vpn", "remote access"],
     "provider_group": "vpn-users", "approvers": [APPROVERS_GROUP],
     "justification_required": True, "max_duration": "7d"},
    {"key": "github-org", "display_name": "GitHub organisation", "aliases": ["github"],
     "provider_group": "github-org", "approvers": [APPROVERS_GROUP], "approvals_required": 2},
]


def _workspace() -> Workspace:
    return acme(
        [slack_user(ADA, "ada@example.com"), slack_user(ANNA, "anna@example.com"),
         slack_user(BERT, "bert@example.com"), slack_user(BOB, "bob@example.com")],
        usergroups=[{"id": APPROVERS_GROUP, "handle": "it-approvers", "users": [ANNA, BERT, ADA]}],
        channels=[{"id": APPROVALS, "name": "it-approvals", "members": [BOT_USER, ANNA, BOB]}],
    )


class World(SlackWorld):
    def member(self, group: str) -> bool:
        gid = next(g.id for g in self.directory.groups.values() if g.name == group)
        return "mem00001" in self.directory.members[gid]  # ada

    async def audit(self, action: str) -> list[str]:
        return [r.result for r in await self.surface.runtime.store.list_audit(action=action)]


@contextlib.asynccontextmanager
async def running(tmp_path: Path, workspace: Workspace) -> AsyncIterator[World]:
    """The access catalogue's world (its groups in the directory) on ``workspace``."""
    async with slack_world(
        World, tmp_path, workspace, organisation=ORGANISATION, catalogue=CATALOGUE,
        access={"durations": ["1d", "7d"]}, groups=["vpn-users", "github-org"],
    ) as world:
        yield world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with running(tmp_path, _workspace()) as world:
        yield world


async def _settle(delay: float = 0.3) -> None:
    await asyncio.sleep(delay)


def _as_first_shown(message: Message) -> dict[str, Any]:
    """The message as it looked before any update: a click on a screen not yet refreshed."""
    blocks = message.revisions[0].blocks if message.revisions else message.blocks
    return {"channel": message.channel, "ts": message.ts, "blocks": blocks}


def _card(state: SlackState, where: str) -> Message:
    cards = [m for m in state.messages_to(where) if "Access request" in m.text]
    assert cards, f"no approval message in {where}"
    return cards[-1]


async def _request_figma(w: World) -> tuple[Message, Message, Message]:
    await w.sender.dm(ADA, "I need Figma")
    prompt = await w.state.wait_for_message(ADA, "Request access to *Figma (editor)*")
    click = await w.sender.block_action(ADA, "hd_access_request.0")
    assert click.status_code == 200 and click.acked_in_time
    await w.state.wait_for(lambda st: "Sent: your request" in prompt.visible_text or None)
    in_dm = await w.state.wait_for_message(ANNA, "Access request")
    in_channel = await w.state.wait_for_message(APPROVALS, "Access request")
    return prompt, in_dm, in_channel


async def test_request_approve_fulfil(world: World) -> None:
    w = world
    prompt, in_dm, in_channel = await _request_figma(w)
    assert "<@U0ANNA0001>" in prompt.visible_text and "<#C0APPROVAL1>" in prompt.visible_text
    for card in (in_dm, in_channel):
        assert "ada@example.com" in card.visible_text and "Figma (editor)" in card.visible_text
        assert card.action_ids() == ["hd_access_approve.0", "hd_access_deny.1"]
    # Someone in the channel who is not an approver: an ephemeral refusal, nothing changes.
    other = await w.sender.block_action(BOB, "hd_access_approve.0", channel=APPROVALS)
    assert other.status_code == 200 and other.acked_in_time
    refusal = await w.state.wait_for(
        lambda st: next((e for e in st.ephemerals_to(BOB)), None)
    )
    assert refusal.visible_text.startswith("You are not an approver for this group")
    assert refusal.channel == APPROVALS
    assert not w.member("figma-editors") and in_channel.action_ids()
    # The approver approves from their DM.
    await w.sender.block_action(ANNA, "hd_access_approve.0")
    await w.state.wait_for_message(ADA, "You're now a member of *Figma (editor)*")
    assert w.member("figma-editors")
    for card in (in_dm, in_channel):
        await w.state.wait_for(lambda st, c=card: "access granted" in c.visible_text or None)  # type: ignore[misc]
        assert "Approved by <@U0ANNA0001>" in card.visible_text and card.action_ids() == []
    assert await w.audit("access_grant") == ["success"]
    assert await w.audit("access_decide") == ["refused"]


async def test_justification_duration_modal_and_deny_with_reason(world: World) -> None:
    w = world
    await w.sender.dm(ADA, "add me to vpn-users")
    prompt = await w.state.wait_for_message(ADA, "Request access to *VPN*")
    await w.sender.block_action(ADA, "hd_access_form.0")
    modal = await w.state.wait_for(lambda st: next(iter(st.views(ADA, type="modal")), None))
    blocks = {b.get("block_id"): b for b in modal.definition["blocks"]}
    assert blocks["justification"]["element"]["min_length"] == 10
    options = [o["value"] for o in blocks["duration"]["element"]["options"]]
    assert options == ["86400", "604800"]
    # Too short: the modal stays open with the error next to the field.
    bad = await w.sender.view_submission(
        ADA, {"justification": {"justification": "pls"}, "duration": {"duration": "86400"}}
    )
    assert bad.status_code == 200 and bad.json()["response_action"] == "errors"
    assert "justification" in bad.json()["errors"] and not modal.closed
    ok = await w.sender.view_submission(
        ADA,
        {"justification": {"justification": "Working from home on Fridays"},
         "duration": {"duration": "86400"}},
    )
    assert ok.status_code == 200 and modal.closed
    await w.state.wait_for(lambda st: "Sent: your request" in prompt.visible_text or None)
    # The user group's members (not the requester) get the request in a DM.
    card = await w.state.wait_for_message(BERT, "Access request")
    assert "Working from home on Fridays" in card.visible_text and "1 day" in card.visible_text
    await _settle(0.1)
    assert [m for m in w.state.messages_to(ADA) if "Access request" in m.text] == []
    # Deny asks for a reason in a modal.
    await w.sender.block_action(BERT, "hd_access_deny.1")
    deny = await w.state.wait_for(lambda st: next(iter(st.views(BERT, type="modal")), None))
    assert "reason" in json.dumps(deny.definition)
    await w.sender.view_submission(BERT, {"reason": {"reason": "Use the office network"}})
    told = await w.state.wait_for_message(ADA, "was denied by <@U0BERT0001>")
    assert "Use the office network" in told.visible_text
    await w.state.wait_for(lambda st: "Denied by" in card.visible_text or None)
    assert card.action_ids() == [] and not w.member("vpn-users")
    # A late approval by another approver: told who decided, the message shows it, no change.
    anna_card = _card(w.state, ANNA)
    await w.sender.block_action(ANNA, "hd_access_approve.0", message=_as_first_shown(anna_card))
    late = await w.state.wait_for(lambda st: next(iter(st.ephemerals_to(ANNA)), None))
    assert "already handled" in late.visible_text and "<@U0BERT0001>" in late.visible_text
    assert not w.member("vpn-users")


async def test_concurrent_double_clicks_add_once(world: World) -> None:
    w = world
    await w.sender.dm(ADA, "can I get access to github")
    await w.state.wait_for_message(ADA, "Request access to *GitHub organisation*")
    await w.sender.block_action(ADA, "hd_access_request.0")
    anna_card = await w.state.wait_for_message(ANNA, "Access request")
    bert_card = await w.state.wait_for_message(BERT, "Access request")
    clicks = [
        w.sender.block_action(ANNA, "hd_access_approve.0", message=anna_card),
        w.sender.block_action(BERT, "hd_access_approve.0", message=bert_card),
    ] * 3
    results = await asyncio.gather(*clicks)
    assert all(r.status_code == 200 and r.acked_in_time for r in results)
    await w.state.wait_for_message(ADA, "You're now a member of *GitHub organisation*")
    await _settle()
    assert w.directory.calls.count("add_to_group") == 1
    assert await w.audit("access_grant") == ["success"]
    assert sorted(await w.audit("access_approve")) == ["approved", "recorded"]
    # Redelivered clicks after the fact change nothing.
    again = await w.sender.block_action(
        ANNA, "hd_access_approve.0", message=_as_first_shown(anna_card)
    )
    assert again.status_code == 200
    await _settle()
    assert w.directory.calls.count("add_to_group") == 1


async def test_forged_unknown_and_own_requests(world: World) -> None:
    w = world
    await w.sender.dm(ADA, "I need access to github")
    await w.state.wait_for_message(ADA, "Request access to *GitHub organisation*")
    await w.sender.block_action(ADA, "hd_access_request.0")
    card = await w.state.wait_for_message(ANNA, "Access request")
    # Ada is in the approvers' group but may not approve her own request: a forged click.
    own = await w.sender.block_action(ADA, "hd_access_approve.0", message=card)
    assert own.status_code == 200
    refusal = await w.state.wait_for(lambda st: next(iter(st.ephemerals_to(ADA)), None))
    assert "your own request" in refusal.visible_text
    # An unknown request id, and garbage: the message is updated, nothing else happens.
    stale = await w.sender.post(b"")  # unsigned-body noise is rejected outright
    assert stale.status_code in (400, 401)
    await w.sender.block_action(BERT, "hd_access_approve.0", "A" * 16, message=_card(w.state, BERT))
    bert_card = _card(w.state, BERT)
    await w.state.wait_for(lambda st: "no longer exists" in bert_card.visible_text or None)
    await w.sender.block_action(ANNA, "hd_access_approve.0", "../../etc/passwd", message=card)
    await w.state.wait_for(lambda st: "no longer exists" in card.visible_text or None)
    assert await w.audit("access_approve") == []
    assert not w.member("github-org")


async def test_cancel_while_pending(world: World) -> None:
    w = world
    prompt, in_dm, in_channel = await _request_figma(w)
    await w.sender.block_action(ADA, "hd_access_withdraw.0", message=prompt)
    await w.state.wait_for(lambda st: "Cancelled your request" in prompt.visible_text or None)
    await w.state.wait_for(lambda st: "Cancelled by the requester" in in_channel.visible_text
                           or None)
    assert in_dm.action_ids() == []
    # Asking again points to nothing pending: a new request may be made.
    await w.sender.dm(ADA, "I need Figma")
    again = await w.state.wait_for_message(ADA, "Request access to *Figma (editor)*")
    assert again.ts != prompt.ts


async def test_pending_request_is_pointed_to(world: World) -> None:
    w = world
    await _request_figma(w)
    await w.sender.dm(ADA, "figma please")
    msg = await w.state.wait_for_message(ADA, "You already have a request for *Figma (editor)*")
    assert msg.action_ids() == ["hd_access_withdraw.0"]


async def test_ambiguous_names_offer_choices(world: World) -> None:
    w = world
    await w.sender.dm(ADA, "I need access to figma and vpn")
    msg = await w.state.wait_for_message(ADA, "Which one do you mean?")
    assert "Figma (editor)" in msg.visible_text and "VPN" in msg.visible_text
    await w.sender.block_action(ADA, "hd_access_pick.1", message=msg)
    await w.state.wait_for_message(ADA, "Request access to *VPN*")
    await w.sender.dm(ADA, "I need access to salesforce")
    menu = await w.state.wait_for_message(ADA, "I can only request access to groups")
    assert "GitHub organisation" in menu.visible_text


async def test_app_home_my_requests_and_waiting_for_me(world: World) -> None:
    w = world
    await _request_figma(w)
    await w.sender.app_home_opened(ADA)
    home = await w.state.wait_for(lambda st: st.home_view(ADA))
    text = json.dumps(home.definition)
    assert "My requests" in text and "Figma (editor)" in text and "waiting for approval" in text
    await w.sender.app_home_opened(ANNA)
    anna_home: View = await w.state.wait_for(lambda st: st.home_view(ANNA))
    assert "Waiting for me" in json.dumps(anna_home.definition)
    await w.sender.block_action(ANNA, "hd_access_approve.0", view=anna_home)
    await w.state.wait_for_message(ADA, "You're now a member of *Figma (editor)*")
    await w.state.wait_for(
        lambda st: "Waiting for me" not in json.dumps(st.home_view(ANNA).definition)  # type: ignore[union-attr]
        or None
    )


async def _due_now(w: World, kind: str, also: str = "") -> None:
    """Move a job (and, for expiry, the request's deadline) into the past, as time would."""
    async with w.surface.runtime.store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE jobs SET run_at = '2000-01-01 00:00:00' WHERE kind = :k"), {"k": kind}
        )
        if also:
            await conn.execute(text(also))


async def test_reminders_then_expiry(world: World) -> None:
    w = world
    _prompt, in_dm, in_channel = await _request_figma(w)
    await _due_now(w, "remind")
    assert await w.surface.runtime.access.run_due_jobs() == 1
    reminder = await w.state.wait_for_message(ANNA, "Reminder: <@U0ADA00001>'s request")
    assert reminder.ts != in_dm.ts
    threaded = [m for m in w.state.messages_in(APPROVALS) if m.thread_ts == in_channel.ts]
    assert threaded and "still waiting" in threaded[0].text
    await w.state.wait_for_message(ADA, "I've reminded the approvers")
    assert await w.audit("access_remind") == ["sent"]
    await _due_now(w, "expire", "UPDATE access_requests SET expires_at = '2000-01-01 00:00:00'")
    await w.surface.runtime.access.run_due_jobs()
    await w.state.wait_for_message(ADA, "expired: nobody decided in time")
    for card in (in_dm, in_channel):
        assert "Expired" in card.visible_text and card.action_ids() == []
    # A click on the old message now: nothing happens but the message shows the outcome.
    await w.sender.block_action(ANNA, "hd_access_approve.0", message=_as_first_shown(in_dm))
    await w.state.wait_for(lambda st: next(iter(st.ephemerals_to(ANNA)), None))
    assert not w.member("figma-editors")


async def test_time_bound_access_ends(world: World) -> None:
    w = world
    await w.sender.dm(ADA, "I need the VPN")
    await w.state.wait_for_message(ADA, "Request access to *VPN*")
    await w.sender.block_action(ADA, "hd_access_form.0")
    await w.state.wait_for(lambda st: next(iter(st.views(ADA, type="modal")), None))
    await w.sender.view_submission(
        ADA,
        {"justification": {"justification": "On call this week from home"},
         "duration": {"duration": "604800"}},
    )
    card = await w.state.wait_for_message(ANNA, "Access request")
    await w.sender.block_action(ANNA, "hd_access_approve.0", message=card)
    granted = await w.state.wait_for_message(ADA, "You're now a member of *VPN*")
    assert "Your access ends" in granted.visible_text and w.member("vpn-users")
    await _due_now(w, "warn")
    await w.surface.runtime.access.run_due_jobs()
    await w.state.wait_for_message(ADA, "Heads-up: your access to *VPN* ends")
    assert await w.audit("access_warn") == ["sent"]
    await _due_now(w, "revoke")
    await w.surface.runtime.access.run_due_jobs()
    await w.state.wait_for_message(ADA, "time-bound access to *VPN* has ended")
    assert not w.member("vpn-users")
    assert await w.audit("access_revoke") == ["success"]
    await w.state.wait_for(lambda st: "the access ended" in card.visible_text or None)


async def test_slash_command_request_and_help(world: World) -> None:
    w = world
    d = await w.sender.slash_command(ADA, "/helpdesk", "request figma")
    assert d.status_code == 200 and d.acked_in_time
    await w.state.wait_for_message(ADA, "Request access to *Figma (editor)*")
    await w.sender.dm(ADA, "help")
    msg = await w.state.wait_for_message(ADA, "request access to a group")
    assert "Request access to a group" in msg.visible_text  # the button
    await w.sender.block_action(ADA, "hd_start.4", message=msg)
    menu = await w.state.wait_for_message(ADA, "You can ask for: Figma (editor), VPN")
    assert len(menu.action_ids()) == 3


async def test_a_form_that_cannot_open_in_time_says_click_again(world: World) -> None:
    """Slack allows 3 s from a click to open its modal; past that, the approver is told."""
    w = world
    _, card, _ = await _request_figma(w)
    real = w.state.clock
    click = await w.sender.block_action(ANNA, "hd_access_deny.1")
    assert click.status_code == 200
    w.state.clock = lambda: real() + 10  # the click's trigger_id is 10 s old when used
    told = await w.state.wait_for(lambda st: next(iter(st.ephemerals_to(ANNA)), None))
    assert "click the button again" in told.visible_text
    assert list(w.state.views(ANNA, type="modal")) == []
    assert card.action_ids() == ["hd_access_approve.0", "hd_access_deny.1"]
    # Nothing changed: the next click opens the form.
    await w.sender.block_action(ANNA, "hd_access_deny.1")
    deny = await w.state.wait_for(lambda st: next(iter(st.views(ANNA, type="modal")), None))
    assert "reason" in json.dumps(deny.definition)
    assert not w.member("figma-editors")


async def test_clicks_do_not_queue_behind_busy_conversations(world: World) -> None:
    """Every conversation slot taken by slow messages; an approver's click still opens now."""
    w = world
    await _request_figma(w)
    conv = w.surface.runtime.conversation
    release, busy = asyncio.Event(), asyncio.Event()
    original = conv.on_message

    async def slow(actor: Any, text: str) -> Any:
        busy.set()
        await release.wait()
        return await original(actor, text)

    conv.on_message = slow  # type: ignore[method-assign]
    w.surface._slots = asyncio.Semaphore(1)
    try:
        await w.sender.dm(ADA, "hello")  # takes the only slot
        await asyncio.wait_for(busy.wait(), 5)
        await w.sender.dm(ADA, "hello again")  # queued behind it
        await w.sender.block_action(ANNA, "hd_access_deny.1")
        deny = await w.state.wait_for(
            lambda st: next(iter(st.views(ANNA, type="modal")), None), timeout=2
        )
        assert "reason" in json.dumps(deny.definition)
    finally:
        release.set()
