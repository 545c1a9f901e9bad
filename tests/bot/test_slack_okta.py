"""End to end with every real part: signed HTTP into the bot, the real Okta connector over
HTTPS to the Okta sandbox, answers to the Slack fake."""

from __future__ import annotations

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

SECRET = "okta-e2e-signing-secret-1234567"
ADA, GRACE, ALAN = "U0ADA00001", "U0GRACE001", "U0ALAN0001"


@dataclass
class World:
    okta: OktaSandbox
    state: SlackState
    sender: SlackEventSender


def _workspace() -> Workspace:
    def user(uid: str, email: str) -> dict[str, Any]:
        return {"id": uid, "name": uid.lower(), "profile": {"email": email, "real_name": uid}}

    return Workspace.from_dict(
        {
            "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
            "users": [
                user(ADA, "ada.lovelace@example.com"),
                user(GRACE, "grace.hopper@example.com"),
                user(ALAN, "alan.turing@example.com"),
            ],
        }
    )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    state = SlackState(_workspace())
    async with run_okta_sandbox(load_seed(DEMO_SEED)) as okta, run_slack_fake(state) as fake:
        raw = {
            "database_url": f"sqlite:///{tmp_path}/e2e.sqlite3",
            "organisation": {"it_channel": "#it-help"},
            "slack": {"api_base_url": fake.base_url},
            "connectors": {
                "okta": {
                    "kind": "okta",
                    "org_url": okta.url,
                    "api_token": {"env": "OKTA_TOKEN"},
                    "ca_file": str(okta.ca_path),
                    "max_attempts": 2,
                    "max_retry_wait": 1,
                }
            },
            # Verification before changes is tested in tests/verification.
            "verification": {"password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]},
            "capabilities": {
                c: "okta"
                for c in ("groups", "password_reset", "unlock", "mfa_reset", "password_expiry")
            },
        }
        environ = {
            "OKTA_TOKEN": DEMO_TOKEN,
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_SIGNING_SECRET": SECRET,
        }
        cfg = validate_config(raw, "e2e", environ)
        async with slack_surface(cfg, environ) as surface, running_http(
            build_http_app(surface)
        ) as url, SlackEventSender(SECRET, f"{url}/slack/events", state=state) as sender:
            yield World(okta, state, sender)


async def test_reset_link_from_okta(world: World) -> None:
    await world.sender.dm(ADA, "forgot my password again lol")
    await world.state.wait_for_message(ADA, "Go ahead?", timeout=10)
    await world.sender.block_action(ADA, "hd_confirm.0")
    msg = await world.state.wait_for_message(ADA, "password reset link", timeout=10)
    assert f"{world.okta.url}/reset_password/" in msg.visible_text
    ada = next(u for u in world.okta.state.users.values() if u.login == "ada.lovelace@example.com")
    assert ada.status is UserStatus.RECOVERY


async def test_unlock_in_okta(world: World) -> None:
    await world.sender.dm(GRACE, "I'm locked out of my account")
    await world.state.wait_for_message(GRACE, "Okta account is unlocked", timeout=10)
    grace = next(
        u for u in world.okta.state.users.values() if u.login == "grace.hopper@example.com"
    )
    assert grace.status is UserStatus.ACTIVE


async def test_super_admin_is_sent_to_a_human(world: World) -> None:
    await world.sender.dm(ALAN, "reset my password please")
    await world.state.wait_for_message(ALAN, "elevated access", timeout=10)


async def test_okta_outage_changes_nothing(world: World) -> None:
    world.okta.faults.fail_next(20, status=503)
    await world.sender.dm(GRACE, "I'm locked out")
    msg = await world.state.wait_for_message(GRACE, "not answering", timeout=15)
    assert "Okta is not answering; nothing was changed" in msg.visible_text
    grace = next(
        u for u in world.okta.state.users.values() if u.login == "grace.hopper@example.com"
    )
    assert grace.status is UserStatus.LOCKED_OUT
