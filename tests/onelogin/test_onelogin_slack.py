"""OneLogin alone, end to end: signed HTTP into the bot, the OneLogin connector over HTTP to
the local OneLogin server, answers to the Slack fake."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.configuration import validate_config
from bot.serve import slack_surface
from bot.slack.http_server import running_http
from bot.slack.server import build_http_app
from sandboxes.onelogin import DEMO_SEED, OneLoginSandbox, load_seed, run_onelogin_sandbox
from sandboxes.slack import SlackEventSender, SlackState, Workspace, run_slack_fake

SECRET = "onelogin-e2e-signing-secret-0042"
ADA, LOCKED, PHONE = "U0ADA00001", "U0LOCKED01", "U0PHONE001"
SOON, ROOT = "U0SOON0001", "U0ROOT0001"
ANNA = "U0ANNA0001"  # approves Figma requests


@dataclass
class World:
    onelogin: OneLoginSandbox
    state: SlackState
    sender: SlackEventSender


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    people = {ADA: "ada", LOCKED: "locked", PHONE: "phone", SOON: "soon", ROOT: "root",
              ANNA: "anna"}
    state = SlackState(
        Workspace.from_dict(
            {
                "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
                "users": [
                    {"id": uid, "name": name, "profile": {"email": f"{name}@example.com"}}
                    for uid, name in people.items()
                ],
            }
        )
    )
    seed = load_seed(DEMO_SEED, now=time.time())
    async with run_onelogin_sandbox(seed) as ol, run_slack_fake(state) as fake:
        raw = {
            "database_url": f"sqlite:///{tmp_path}/onelogin.sqlite3",
            "organisation": {"it_channel": "#it-help"},
            "slack": {"api_base_url": fake.base_url},
            "connectors": {
                "onelogin": {
                    "kind": "onelogin",
                    "base_url": ol.base_url,
                    "client_id": ol.client_id,
                    "client_secret": {"env": "ONELOGIN_SECRET"},
                    "policy_by_group": {"10": 1, "11": 2},
                    "default_policy_id": 1,
                }
            },
            # Verification before changes is tested in tests/verification.
            "verification": {"password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]},
            "capabilities": {
                c: "onelogin"
                for c in ("groups", "password_reset", "unlock", "mfa_reset", "password_expiry")
            },
            "password_reset": {"delivery": "temp_password"},
            # Requestable groups are OneLogin roles.
            "catalogue": [
                {"key": "figma-editors", "display_name": "Figma (editor)", "aliases": ["figma"],
                 "provider_group": "figma-editors", "approvers": [ANNA]},
            ],
        }
        environ = {
            "ONELOGIN_SECRET": ol.client_secret,
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_SIGNING_SECRET": SECRET,
        }
        cfg = validate_config(raw, "onelogin-only", environ)
        async with (
            slack_surface(cfg, environ) as surface,
            running_http(build_http_app(surface)) as url,
            SlackEventSender(SECRET, f"{url}/slack/events", state=state) as sender,
        ):
            yield World(ol, state, sender)


async def test_temporary_password(world: World) -> None:
    await world.sender.dm(ADA, "forgot my password")
    await world.state.wait_for_message(ADA, "Go ahead?", timeout=10)
    await world.sender.block_action(ADA, "hd_confirm.0")
    msg = await world.state.wait_for_message(ADA, "temporary OneLogin password", timeout=10)
    found = re.search(r"`([^`]+)`", msg.visible_text)
    assert found
    ada = world.onelogin.state.user_by_email("ada@example.com")
    assert ada.password_hashes and ada.password_hashes[-1] == ada.hash_password(found.group(1))


async def test_unlock_mfa_expiry_and_protection(world: World) -> None:
    await world.sender.dm(LOCKED, "I'm locked out")
    await world.state.wait_for_message(LOCKED, "OneLogin account is unlocked", timeout=10)
    await world.sender.dm(PHONE, "lost my phone, reset my mfa")
    await world.state.wait_for_message(PHONE, "Go ahead?", timeout=10)
    await world.sender.block_action(PHONE, "hd_confirm.0")
    await world.state.wait_for_message(PHONE, "removed 2 MFA factor", timeout=10)
    await world.sender.dm(SOON, "when does my password expire")
    await world.state.wait_for_message(SOON, "OneLogin password expires in", timeout=10)
    await world.sender.dm(ROOT, "reset my password")
    await world.state.wait_for_message(ROOT, "elevated access", timeout=10)


async def test_group_request_approved_assigns_the_role(world: World) -> None:
    figma = world.onelogin.state.role_by_name("figma-editors").id
    ada = world.onelogin.state.user_by_email("ada@example.com")
    assert figma not in world.onelogin.state.role_ids_of(ada.id)
    await world.sender.dm(ADA, "I need Figma")
    await world.state.wait_for_message(ADA, "Request access to *Figma (editor)*", timeout=10)
    await world.sender.block_action(ADA, "hd_access_request.0")
    await world.state.wait_for_message(ANNA, "Access request", timeout=10)
    # Not yet: only the approval adds the role.
    assert figma not in world.onelogin.state.role_ids_of(ada.id)
    await world.sender.block_action(ANNA, "hd_access_approve.0")
    await world.state.wait_for_message(ADA, "You're now a member of *Figma (editor)*", timeout=10)
    assert figma in world.onelogin.state.role_ids_of(ada.id)
