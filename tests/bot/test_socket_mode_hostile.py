"""Hostile payloads over Socket Mode, on PostgreSQL: refused as cleanly as over HTTP.

Socket Mode envelopes do not pass the HTTP ingress, so the same checks must hold on this
path: a NUL character in a button value (PostgreSQL cannot keep one) and nesting past
``MAX_DEPTH`` are acknowledged and dropped, nothing is recorded, nothing fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from bot.serve import slack_surface
from bot.slack.server import MAX_DEPTH
from bot.slack.socket_mode import running_socket_mode
from bot.slack.surface import SlackSurface
from sandboxes.slack import (
    SlackEventSender,
    SlackState,
    SocketModeLink,
    SocketModeTransport,
    run_slack_fake,
)
from tests.bot.helpers import make_config, make_directory, providers_for
from tests.bot.test_slack_scenarios import ADA, LOCKED, _workspace

SECRET = "socket-mode-signing-secret-000"  # unused by Socket Mode; the sender needs one


@pytest.fixture
async def linked(pg_url: str) -> AsyncIterator[tuple[SlackState, SocketModeLink,
                                                     SlackEventSender, SlackSurface]]:
    state = SlackState(_workspace())
    async with run_slack_fake(state) as fake:
        assert fake.app_token is not None
        cfg = make_config(pg_url, slack={"api_base_url": fake.base_url})
        environ = {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET}
        directory = make_directory()
        async with (
            slack_surface(cfg, environ, providers=providers_for(directory, cfg)) as surface,
            running_socket_mode(surface, fake.app_token),
            SlackEventSender(SECRET, "http://socket-mode.invalid/", state=state,
                             transport=SocketModeTransport(fake.socket_mode)) as sender,
        ):
            await fake.socket_mode.wait_connected()
            yield state, fake.socket_mode, sender, surface
            await surface.drain()


def _click(value: str, ts: str, extra: Any = None) -> dict[str, Any]:
    action: dict[str, Any] = {"action_id": "hd_confirm.0", "value": value, "action_ts": ts}
    if extra is not None:
        action["extra"] = extra
    return {"type": "block_actions", "user": {"id": ADA}, "actions": [action],
            "container": {"channel_id": "D0ADA", "message_ts": "1.1"}}


async def _recorded(surface: SlackSurface) -> int:
    async with surface.runtime.store.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM inbox_events"))).scalar_one())


async def test_nul_and_deep_nesting_are_acked_and_dropped(
    linked: tuple[SlackState, SocketModeLink, SlackEventSender, SlackSurface],
) -> None:
    state, link, sender, surface = linked
    deep: Any = 1
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with capture_logs() as logs:
        for payload in (_click("tok\x00en", "1.2"), _click("token", "1.3", deep)):
            ack = await link.deliver("interactive", payload, accepts_response_payload=False)
            assert ack is not None and set(ack) == {"envelope_id"}
        assert await _recorded(surface) == 0
        d = await sender.dm(LOCKED, "I'm locked out")  # and the link keeps serving
        assert d.status_code == 200
        await state.wait_for_message(LOCKED, "is unlocked")
        await surface.drain()
    assert [e for e in logs if e["log_level"] in ("error", "critical")] == []
    assert sum(e["event"] == "malformed_request" for e in logs) == 2
