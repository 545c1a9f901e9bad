"""``helpdesk run`` in HTTP mode as deployed: a work process and its ingress child.

The bot runs as its own process on SQLite, against the Okta sandbox and the Slack
fake (both in this process); requests are signed HTTP to the port it was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandboxes.okta import DEMO_SEED, DEMO_TOKEN, OktaSandbox, load_seed, run_okta_sandbox
from sandboxes.slack import SlackEventSender, SlackState, Workspace, run_slack_fake
from tests.access.replicas import Replica, child_pids, running_replicas

SECRET = "run-process-signing-secret-01"
ADA = "U0ADA00001"


@dataclass
class Bot:
    state: SlackState
    replica: Replica
    sender: SlackEventSender
    environ: dict[str, str]


def _config(db: Path, okta: OktaSandbox, slack_url: str) -> dict[str, Any]:
    return {
        "database_url": f"sqlite:///{db}",
        "log_level": "INFO",
        "organisation": {"it_channel": "#it-help"},
        "slack": {"api_base_url": slack_url, "bot_token": {"env": "SLACK_BOT_TOKEN"},
                  "signing_secret": {"env": "SLACK_SIGNING_SECRET"}},
        "connectors": {"okta": {"kind": "okta", "org_url": okta.url,
                                "api_token": {"env": "OKTA_TOKEN"}, "ca_file": str(okta.ca_path)}},
        "capabilities": {"password_expiry": "okta", "password_reset": "okta"},
    }


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    state = SlackState(Workspace.from_dict({
        "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
        "users": [{"id": ADA, "name": "ada", "profile": {"email": "ada.lovelace@example.com"}}],
    }))
    async with contextlib.AsyncExitStack() as stack:
        okta = await stack.enter_async_context(run_okta_sandbox(load_seed(DEMO_SEED)))
        fake = await stack.enter_async_context(run_slack_fake(state))
        environ = {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET,
                   "OKTA_TOKEN": DEMO_TOKEN}
        config = _config(tmp_path / "bot.sqlite3", okta, fake.base_url)
        (replica,) = await stack.enter_async_context(
            running_replicas(1, config, environ, tmp_path)
        )
        sender = await stack.enter_async_context(
            SlackEventSender(SECRET, replica.events_url, state=state)
        )
        yield Bot(state, replica, sender, environ)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_text()


def _environ_of(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_dm_is_answered_through_the_ingress_process_and_sigterm_stops_both(
    bot: Bot,
) -> None:
    (ingress,) = child_pids(bot.replica.process.pid)
    assert "bot.slack.ingress" in _cmdline(ingress)
    sent = await bot.sender.dm(ADA, "when does my password expire?")
    assert sent.status_code == 200 and sent.acked_in_time
    reply = await bot.state.wait_for_message(ADA, "password", timeout=20)
    assert "expire" in reply.visible_text.lower()
    bot.replica.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(bot.replica.process.wait(), 30) == 0
    for _ in range(100):
        if not _alive(ingress):
            break
        await asyncio.sleep(0.05)
    assert not _alive(ingress)
    assert SECRET not in bot.replica.log.read_text()


async def test_the_ingress_child_of_helpdesk_run_holds_no_token_and_still_serves(
    bot: Bot,
) -> None:
    # The bot was started with the Slack token, the signing secret and the Okta token in
    # its environment; the child facing the network must hold none of them, and the
    # signing secret (which it needs) reaches it over the socket pair.
    (ingress,) = child_pids(bot.replica.process.pid)
    environ = _environ_of(ingress)
    names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
    for name, value in bot.environ.items():
        assert name not in names
        assert value.encode() not in environ
    assert not {n for n in names if "TOKEN" in n or "SECRET" in n or "PASSWORD" in n}
    sent = await bot.sender.dm(ADA, "when does my password expire?")
    assert sent.status_code == 200 and sent.acked_in_time
    reply = await bot.state.wait_for_message(ADA, "password", timeout=20)
    assert "expire" in reply.visible_text.lower()
    # A request signed with anything but the secret it got over the socket is refused.
    async with SlackEventSender("not-the-signing-secret", bot.replica.events_url,
                                state=bot.state) as forger:
        forged = await forger.dm(ADA, "when does my password expire?")
    assert forged.status_code == 401


async def test_the_bot_exits_with_an_error_when_its_ingress_dies(bot: Bot) -> None:
    (ingress,) = child_pids(bot.replica.process.pid)
    os.kill(ingress, signal.SIGKILL)
    # Non-zero, for the service manager (systemd Restart=on-failure, Kubernetes) to restart.
    assert await asyncio.wait_for(bot.replica.process.wait(), 30) == 1
    log = bot.replica.log.read_text()
    assert "ingress_exited" in log


async def test_the_ingress_exits_when_the_bot_is_killed(bot: Bot) -> None:
    (ingress,) = child_pids(bot.replica.process.pid)
    bot.replica.kill()
    await bot.replica.process.wait()
    for _ in range(200):
        if not _alive(ingress):
            break
        await asyncio.sleep(0.05)
    assert not _alive(ingress), "the ingress outlived the bot (and would hold its port)"
