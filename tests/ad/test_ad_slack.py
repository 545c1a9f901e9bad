"""A mixed deployment end to end: passwords, unlock and expiry in AD (a real Samba DC), MFA and
groups in Okta (the sandbox), Slack in front (signed HTTP into the bot, answers to the fake)."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.configuration import validate_config
from bot.serve import slack_surface
from bot.slack.http_server import running_http
from bot.slack.server import build_http_app
from sandboxes.okta import DEMO_SEED, DEMO_TOKEN, load_seed, run_okta_sandbox
from sandboxes.slack import SlackEventSender, SlackState, Workspace, run_slack_fake
from tests.ad.samba import SERVICE_ENV, SERVICE_PASSWORD, SambaDC, SeedUser

SECRET = "mixed-e2e-signing-secret-7654321"
EMPLOYEE, GRACE = "U0EMPLOY01", "U0GRACE001"


@dataclass
class World:
    dc: SambaDC
    person: SeedUser
    state: SlackState
    sender: SlackEventSender


@pytest.fixture
async def world(samba_dc: SambaDC, tmp_path: Path) -> AsyncIterator[World]:
    person = samba_dc.make_user("e2e", mail=f"e2e-{secrets.token_hex(3)}@example.com")
    state = SlackState(
        Workspace.from_dict(
            {
                "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
                "users": [
                    {"id": EMPLOYEE, "name": "employee", "profile": {"email": person.email}},
                    {"id": GRACE, "name": "grace",
                     "profile": {"email": "grace.hopper@example.com"}},
                ],
            }
        )
    )
    ad_settings = samba_dc.settings().model_dump(mode="json", exclude_none=True)
    async with run_okta_sandbox(load_seed(DEMO_SEED)) as okta, run_slack_fake(state) as fake:
        raw = {
            "database_url": f"sqlite:///{tmp_path}/mixed.sqlite3",
            "organisation": {"it_channel": "#it-help"},
            "slack": {"api_base_url": fake.base_url},
            "connectors": {
                "okta": {"kind": "okta", "org_url": okta.url, "api_token": {"env": "OKTA_TOKEN"},
                         "ca_file": str(okta.ca_path)},
                "ad": {"kind": "ad", **ad_settings},
            },
            # Verification before changes is tested in tests/verification.
            "verification": {"password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]},
            "capabilities": {
                "groups": "okta",
                "mfa_reset": "okta",
                "password_reset": "ad",
                "unlock": "ad",
                "password_expiry": "ad",
            },
            "password_reset": {"delivery": "temp_password"},
        }
        environ = {
            "OKTA_TOKEN": DEMO_TOKEN,
            SERVICE_ENV: SERVICE_PASSWORD,
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_SIGNING_SECRET": SECRET,
        }
        cfg = validate_config(raw, "mixed", environ)
        async with (
            slack_surface(cfg, environ) as surface,
            running_http(build_http_app(surface)) as url,
            SlackEventSender(SECRET, f"{url}/slack/events", state=state) as sender,
        ):
            yield World(samba_dc, person, state, sender)


async def test_temporary_password_from_ad_really_works(world: World) -> None:
    await world.sender.dm(EMPLOYEE, "I forgot my password")
    offer = await world.state.wait_for_message(EMPLOYEE, "Go ahead?", timeout=15)
    assert "Active Directory" in offer.visible_text and "temporary password" in offer.visible_text
    await world.sender.block_action(EMPLOYEE, "hd_confirm.0")
    msg = await world.state.wait_for_message(EMPLOYEE, "temporary Active Directory", timeout=15)
    found = re.search(r"`([^`]+)`", msg.visible_text)
    assert found, msg.visible_text
    temp = found.group(1)
    # The new password is real: AD accepts it and demands a change (data 773).
    result = world.dc.try_bind(world.person.dn, temp)
    assert "data 773" in str(result.get("message")), result
    old = world.dc.try_bind(world.person.dn, world.person.password)
    assert old["description"] == "invalidCredentials"


async def test_real_lockout_unlocked_from_slack(world: World) -> None:
    world.dc.lock_out(world.person.dn)
    assert "data 775" in str(world.dc.try_bind(world.person.dn, world.person.password)["message"])
    await world.sender.dm(EMPLOYEE, "help, I'm locked out of my laptop account")
    await world.state.wait_for_message(
        EMPLOYEE, "Active Directory account is unlocked", timeout=15
    )
    assert world.dc.try_bind(world.person.dn, world.person.password)["description"] == "success"


async def test_expiry_from_ad_and_mfa_from_okta(world: World) -> None:
    await world.sender.dm(EMPLOYEE, "when does my password expire?")
    await world.state.wait_for_message(EMPLOYEE, "Active Directory password expires in", timeout=15)
    # Grace has no AD account, but MFA is served by Okta, where she has two factors.
    await world.sender.dm(GRACE, "new phone, my authenticator is empty")
    await world.state.wait_for_message(GRACE, "Go ahead?", timeout=15)
    await world.sender.block_action(GRACE, "hd_confirm.0")
    await world.state.wait_for_message(GRACE, "removed 2 MFA factor", timeout=15)
    # And the help lists all five capabilities, each from its own provider.
    await world.sender.dm(GRACE, "help")
    help_msg = await world.state.wait_for_message(GRACE, "Here's what I can do", timeout=15)
    assert "reset your MFA" in help_msg.visible_text
