"""Every real part of a change notice: signed Slack HTTP into the bot, the real Okta
connector against the Okta sandbox, the Slack fake, and a real SMTP server over TLS.

``notice_world`` yields a :class:`NoticeWorld`; ``reset_through_push`` runs Ada's password
reset end to end (push answered on the sandbox's "phone") and returns the DM's reset URL.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.configuration import validate_config
from bot.serve import slack_surface
from bot.slack.http_server import running_http
from bot.slack.ingress_process import running_ingress
from bot.slack.server import build_http_app
from bot.slack.surface import SlackSurface
from sandboxes.okta import DEMO_SEED, DEMO_TOKEN, OktaSandbox, load_seed, run_okta_sandbox
from sandboxes.slack import SlackEventSender, SlackState, Workspace, run_slack_fake
from tests.notices.smtp_server import PASSWORD, USER, SmtpServer, smtp_server

SECRET = "notices-e2e-signing-secret-12345"
ADA = "U0ADA00001"
SECURITY = "C0SECURITY1"
NUMBER = re.compile(r"pick \*(\d+)\*")
LINK = re.compile(r"<(https?://[^|>]+/notices/report\?t=[^|>]+)\|This wasn't me>")


@dataclass
class NoticeWorld:
    okta: OktaSandbox
    state: SlackState
    sender: SlackEventSender
    surface: SlackSurface
    smtp: SmtpServer
    url: str
    http: httpx.AsyncClient

    @property
    def ada_id(self) -> str:
        user = self.okta.state.find_user("ada.lovelace@example.com")
        assert user is not None
        return user.id

    async def drain(self) -> None:
        await self.surface.runtime.notices.drain()

    def report_link(self) -> str:
        """The "This wasn't me" link of the DM notice Ada got."""
        for msg in self.state.messages_to(ADA):
            found = LINK.search(msg.text)
            if found:
                return found.group(1)
        raise AssertionError("no notice with a report link in Ada's DM")


def _workspace() -> Workspace:
    return Workspace.from_dict({
        "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
        "users": [{"id": ADA, "name": "ada", "profile": {
            "email": "ada.lovelace@example.com", "real_name": "Ada"}}],
        "channels": [{"id": SECURITY, "name": "security", "members": ["U0HELPBOT1"],
                      "is_private": True}],
    })


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def notice_world(
    tmp_path: Path, *, smtp_port: int | None = None, implicit_tls: bool = False,
    notices: dict[str, Any] | None = None, ingress_process: bool = False,
) -> AsyncIterator[NoticeWorld]:
    """The world; ``smtp_port`` points the bot at another port (a dead server);
    ``ingress_process``: the HTTP endpoint in its own process, as ``helpdesk run`` serves."""
    state = SlackState(_workspace())
    port = _free_port()
    with smtp_server(tmp_path, implicit_tls=implicit_tls) as smtp:
        async with run_okta_sandbox(load_seed(DEMO_SEED)) as okta, run_slack_fake(state) as fake:
            raw: dict[str, Any] = {
                "database_url": f"sqlite:///{tmp_path}/notices.sqlite3",
                "organisation": {"it_channel": "#it-help", "security_channel": SECURITY},
                "slack": {"api_base_url": fake.base_url},
                "connectors": {"okta": {"kind": "okta", "org_url": okta.url,
                                        "api_token": {"env": "OKTA_TOKEN"},
                                        "ca_file": str(okta.ca_path)}},
                "capabilities": {"password_reset": "okta", "unlock": "okta",
                                 "mfa_reset": "okta"},
                "verification": {"password_reset": ["push"], "unlock": ["push"],
                                 "mfa_reset": ["none"],
                                 "push": {"wait": "20s", "poll_interval": 0.1}},
                "notices": {
                    "public_url": f"http://127.0.0.1:{port}",
                    "smtp": {"host": smtp.host, "port": smtp_port or smtp.port,
                             "security": "tls" if implicit_tls else "starttls",
                             "username": USER, "password": {"env": "SMTP_PASSWORD"},
                             "sender": "helpdesk@example.com", "ca_file": str(smtp.ca_file),
                             "timeout": "5s"},
                    **(notices or {}),
                },
            }
            environ = {"OKTA_TOKEN": DEMO_TOKEN, "SLACK_BOT_TOKEN": fake.token,
                       "SLACK_SIGNING_SECRET": SECRET, "SMTP_PASSWORD": PASSWORD}
            cfg = validate_config(raw, "notices", environ)
            async with slack_surface(cfg, environ) as surface, _serving(
                surface, port, ingress_process
            ) as url, SlackEventSender(
                SECRET, f"{url}/slack/events", state=state
            ) as sender, httpx.AsyncClient(timeout=10) as http:
                yield NoticeWorld(okta, state, sender, surface, smtp, url, http)


@contextlib.asynccontextmanager
async def _serving(surface: SlackSurface, port: int, process: bool) -> AsyncIterator[str]:
    if process:
        async with running_ingress(surface, "127.0.0.1", port) as ingress:
            yield ingress.url
        return
    async with running_http(build_http_app(surface), port=port) as url:
        yield url


async def reset_through_push(world: NoticeWorld) -> str:
    """Ada asks for a reset, picks the push's number; returns the reset URL she got."""
    await world.sender.dm(ADA, "forgot my password again")
    await world.state.wait_for_message(ADA, "Go ahead?", timeout=10)
    await world.sender.block_action(ADA, "hd_confirm.0")
    prompt = await world.state.wait_for_message(ADA, "I sent a push", timeout=10)
    found = NUMBER.search(prompt.text)
    assert found is not None, prompt.text
    world.okta.state.pushes.answer(world.ada_id, int(found.group(1)))
    msg = await world.state.wait_for_message(ADA, "password reset link", timeout=15)
    reset = re.search(r"(https://[^\s>|]+/reset_password/[^\s>|]+)", msg.text)
    assert reset is not None, msg.text
    await world.drain()
    return reset.group(1)
