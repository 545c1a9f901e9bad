"""Socket Mode end to end: the bot opens the link with its app token, Slack's requests arrive
as envelopes on the WebSocket, and the flows work exactly as over HTTP.

The Slack fake serves ``apps.connections.open`` and the link; ``SocketModeTransport`` turns
what ``SlackEventSender`` would POST into envelopes, and the bot's acknowledgement into the
answer the tests read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from bot.slack.listeners.commands import COMMAND_ACK
from sandboxes.slack import SocketModeLink
from tests.bot.helpers import NOT_FINISHED, assert_failure_answered, failing
from tests.bot.slack_world import ORGANISATION, SlackWorld, slack_world
from tests.bot.test_slack_scenarios import ADA, LOCKED, PHONE, _workspace

VPN = {"key": "vpn-users", "display_name": "VPN", "aliases": ["vpn"], "provider_group": "vpn-users",
       "approvers": [PHONE], "justification_required": True}


class Link(SlackWorld):
    @property
    def link(self) -> SocketModeLink:
        return self.fake.socket_mode

    @property
    def app_token(self) -> str:
        assert self.fake.app_token is not None
        return self.fake.app_token

    @property
    def api(self) -> str:
        return self.fake.base_url


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[Link]:
    async with slack_world(
        Link, tmp_path, _workspace(), socket_mode=True, organisation=ORGANISATION,
        catalogue=[VPN], groups=["vpn-users"],
    ) as world:
        yield world
        await world.surface.drain()


async def test_password_reset_over_socket_mode(linked: Link) -> None:
    s = linked
    d = await s.sender.dm(ADA, "I forgot my password")
    assert d.status_code == 200 and d.acked_in_time and d.response.content == b""
    await s.state.wait_for_message(ADA, "Go ahead?")
    click = await s.sender.block_action(ADA, "hd_confirm.0")
    assert click.status_code == 200 and click.acked_in_time
    link_msg = await s.state.wait_for_message(ADA, "password reset link")
    assert "https://memory.invalid/reset/" in link_msg.visible_text
    assert all("envelope_id" in ack for ack in s.link.acks)


async def test_a_redelivered_envelope_is_processed_once(linked: Link) -> None:
    s = linked
    first = await s.sender.dm(LOCKED, "I'm locked out")
    again = await s.sender.redeliver(first, retry_num=1, reason="timeout")
    assert (first.status_code, again.status_code) == (200, 200)
    await s.state.wait_for_message(LOCKED, "is unlocked")
    await asyncio.sleep(0.3)
    # One answer, and the one change notice of the one unlock.
    texts = [m.text for m in s.state.messages_to(LOCKED)]
    assert len(texts) == 2 and sum("Security notice" in t for t in texts) == 1, texts
    assert len(await s.surface.runtime.store.list_audit(action="unlock")) == 1


async def test_slash_command_is_acked_with_text(linked: Link) -> None:
    s = linked
    d = await s.sender.slash_command(LOCKED, "/helpdesk", "unlock")
    # The organisation's language (English here): the ack looks nothing up.
    assert d.status_code == 200 and d.json() == {"text": COMMAND_ACK}
    assert s.surface.command_ack == COMMAND_ACK
    await s.state.wait_for_message(LOCKED, "is unlocked")


async def test_a_form_is_answered_in_the_acknowledgement(linked: Link) -> None:
    s = linked
    await s.sender.dm(ADA, "add me to vpn-users")
    await s.state.wait_for_message(ADA, "Request access to *VPN*")
    await s.sender.block_action(ADA, "hd_access_form.0")
    modal = await s.state.wait_for(lambda st: next(iter(st.views(ADA, type="modal")), None))
    bad = await s.sender.view_submission(ADA, {"justification": {"justification": "pls"}})
    assert bad.status_code == 200 and bad.json()["response_action"] == "errors"
    assert "justification" in bad.json()["errors"] and not modal.closed
    ok = await s.sender.view_submission(
        ADA, {"justification": {"justification": "Working from home on Fridays"}}
    )
    assert ok.status_code == 200 and modal.closed
    await s.state.wait_for_message(PHONE, "Access request")


async def test_malformed_envelopes_are_acked_and_dropped(linked: Link) -> None:
    s = linked
    ack = await s.link.deliver("events_api", {"type": "event_callback", "event": "x"},
                               accepts_response_payload=False)
    assert ack is not None and set(ack) == {"envelope_id"}
    d = await s.sender.dm(LOCKED, "I'm locked out")  # and the link keeps serving
    assert d.status_code == 200
    await s.state.wait_for_message(LOCKED, "is unlocked")


async def test_a_refreshed_link_is_reopened(linked: Link) -> None:
    s = linked
    assert s.link.opened == 1
    await s.link.refresh()
    for _ in range(200):
        if s.link.opened == 2 and s.link.connections == 1:
            break
        await asyncio.sleep(0.05)
    assert s.link.opened == 2
    await s.sender.dm(LOCKED, "I'm locked out")
    await s.state.wait_for_message(LOCKED, "is unlocked")
    opens = [c for c in s.state.calls() if c.method == "apps.connections.open"]
    assert len(opens) == 2 and all(c.token == s.app_token for c in opens)


async def test_tokens_are_kept_to_their_kind(linked: Link) -> None:
    """Only an app-level token opens a link, and it can do nothing else (as on Slack)."""
    s = linked
    bot_token = s.state.workspace.bot_token
    async with httpx.AsyncClient(base_url=s.api) as client:
        async def call(method: str, token: str, **params: Any) -> Any:
            auth = {"Authorization": f"Bearer {token}"}
            return (await client.post(method, data=params, headers=auth)).json()

        assert (await call("apps.connections.open", bot_token))["error"] == "not_allowed_token_type"
        refused = await call("chat.postMessage", s.app_token, channel=ADA, text="x")
        assert refused["error"] == "not_allowed_token_type"
        opened = await call("apps.connections.open", s.app_token)
        assert opened["ok"] is True and opened["url"].startswith("ws://127.0.0.1:")


async def test_a_failure_is_answered_over_socket_mode(
    linked: Link, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = linked.surface.runtime.providers.connectors["mem"]
    monkeypatch.setattr(directory, "unlock", failing(RuntimeError("bug")))
    with capture_logs() as logs:
        await linked.sender.dm(LOCKED, "I'm locked out")
        message = await linked.state.wait_for_message(LOCKED, NOT_FINISHED)
    assert_failure_answered(logs, message.visible_text, "RuntimeError", changing=True)


async def test_an_envelope_the_store_cannot_record_is_not_acknowledged(
    linked: Link, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ack without a record: Slack sends the envelope again, and the retry is answered once."""
    s = linked
    s.sender.client._transport.timeout = 3.0  # type: ignore[attr-defined]
    inbox = s.surface.runtime.store.inbox
    real = inbox.record
    monkeypatch.setattr(inbox, "record", failing(ConnectionError("db down")))
    first = await s.sender.dm(LOCKED, "I'm locked out")
    assert first.status_code == 504  # the fake's "no acknowledgement"
    monkeypatch.setattr(inbox, "record", real)
    again = await s.sender.redeliver(first, retry_num=1, reason="timeout")
    assert again.status_code == 200
    await s.state.wait_for_message(LOCKED, "is unlocked")
    await asyncio.sleep(0.3)
    # Answered once: one reply, and the one change notice of the one unlock.
    texts = [m.text for m in s.state.messages_to(LOCKED)]
    assert len(texts) == 2 and sum("Security notice" in t for t in texts) == 1, texts
