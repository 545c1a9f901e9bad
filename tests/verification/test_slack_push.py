"""The push through every real part: signed Slack HTTP into the bot, the number in the DM,
the real Okta connector against the Okta sandbox, the security channel in the Slack fake."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.configuration import validate_config
from bot.serve import slack_surface
from bot.slack.http_server import running_http
from bot.slack.server import build_http_app
from sandboxes.okta import DEMO_SEED, DEMO_TOKEN, OktaSandbox, load_seed, run_okta_sandbox
from sandboxes.okta.state import UserStatus
from sandboxes.slack import SlackEventSender, SlackState, Workspace, run_slack_fake

SECRET = "verify-e2e-signing-secret-12345"
ADA = "U0ADA00001"
SECURITY = "C0SECURITY1"
NUMBER = re.compile(r"pick \*(\d+)\*")


@dataclass
class World:
    okta: OktaSandbox
    state: SlackState
    sender: SlackEventSender


def _workspace() -> Workspace:
    return Workspace.from_dict({
        "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
        "users": [{"id": ADA, "name": "ada", "profile": {
            "email": "ada.lovelace@example.com", "real_name": "Ada"}}],
        "channels": [{"id": SECURITY, "name": "security", "members": ["U0HELPBOT1"],
                      "is_private": True}],
    })


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    state = SlackState(_workspace())
    async with run_okta_sandbox(load_seed(DEMO_SEED)) as okta, run_slack_fake(state) as fake:
        raw: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path}/e2e.sqlite3",
            "organisation": {"it_channel": "#it-help", "security_channel": SECURITY},
            "slack": {"api_base_url": fake.base_url},
            "connectors": {"okta": {"kind": "okta", "org_url": okta.url,
                                    "api_token": {"env": "OKTA_TOKEN"},
                                    "ca_file": str(okta.ca_path)}},
            "capabilities": {"password_reset": "okta", "unlock": "okta"},
            "verification": {"password_reset": ["push"], "unlock": ["push"],
                             "push": {"wait": "20s", "poll_interval": 0.1}},
        }
        environ = {"OKTA_TOKEN": DEMO_TOKEN, "SLACK_BOT_TOKEN": fake.token,
                   "SLACK_SIGNING_SECRET": SECRET}
        cfg = validate_config(raw, "e2e", environ)
        async with slack_surface(cfg, environ) as surface, running_http(
            build_http_app(surface)
        ) as url, SlackEventSender(SECRET, f"{url}/slack/events", state=state) as sender:
            yield World(okta, state, sender)


def _ada_id(world: World) -> str:
    user = world.okta.state.find_user("ada.lovelace@example.com")
    assert user is not None
    return user.id


async def _push_number(world: World) -> int:
    await world.sender.dm(ADA, "forgot my password again")
    await world.state.wait_for_message(ADA, "Go ahead?", timeout=10)
    await world.sender.block_action(ADA, "hd_confirm.0")
    prompt = await world.state.wait_for_message(ADA, "I sent a push", timeout=10)
    found = NUMBER.search(prompt.text)
    assert found is not None, prompt.text
    waiting = world.okta.state.pushes.waiting(_ada_id(world))
    assert waiting is not None and waiting.correct_answer == int(found.group(1))
    return int(found.group(1))


async def test_employee_picks_the_number_and_gets_the_link(world: World) -> None:
    number = await _push_number(world)
    world.okta.state.pushes.answer(_ada_id(world), number)
    msg = await world.state.wait_for_message(ADA, "password reset link", timeout=15)
    assert f"{world.okta.url}/reset_password/" in msg.visible_text
    ada = world.okta.state.users[_ada_id(world)]
    assert ada.status is UserStatus.RECOVERY


async def test_denied_push_changes_nothing_and_pages_security(world: World) -> None:
    await _push_number(world)
    world.okta.state.pushes.answer(_ada_id(world), approve=False)
    told = await world.state.wait_for_message(ADA, "was denied", timeout=15)
    assert "changed nothing" in told.visible_text
    notice = await world.state.wait_for_message(SECURITY, "Possible account takeover", timeout=10)
    assert "ada.lovelace@example.com" in notice.text
    assert world.okta.state.users[_ada_id(world)].status is UserStatus.ACTIVE
