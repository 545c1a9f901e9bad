"""The Slack scenario tests' shared setup: a workspace on the Slack fake and the bot serving it.

``acme(users, ...)`` is the workspace (Acme's team, the helpdesk app, the security channel
and whatever else a test needs); ``slack_world(SlackWorld, tmp_path, workspace, ...)``
starts the fake, the bot's surface over a configuration made for it, and a
``SlackEventSender`` that signs what it sends to the bot's HTTP endpoint (or, with
``socket_mode``, hands it over the Socket Mode link instead).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bot.serve import slack_surface
from bot.slack.http_server import running_http
from bot.slack.server import build_http_app
from bot.slack.socket_mode import running_socket_mode
from bot.slack.surface import SlackSurface
from connectors.memory import MemoryDirectory
from sandboxes.slack import (
    RunningSlackFake,
    SlackEventSender,
    SlackState,
    SocketModeTransport,
    Workspace,
    run_slack_fake,
)
from tests.bot.helpers import make_config, make_directory, providers_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SECURITY = "C0SECURITY1"
BOT_USER = "U0HELPBOT1"
#: The organisation most scenarios run in (``organisation`` in the configuration).
ORGANISATION: Mapping[str, Any] = {
    "it_channel": "#it-help", "it_contact": "the IT desk", "security_channel": SECURITY,
}


def slack_user(uid: str, email: str | None, **extra: Any) -> dict[str, Any]:
    """A workspace member named after their id; ``extra``: locale, flags, another team."""
    profile: dict[str, Any] = {"real_name": uid, "display_name": uid.lower()}
    if email:
        profile["email"] = email
    return {"id": uid, "name": uid.lower(), "profile": profile, **extra}


def acme(
    users: Iterable[dict[str, Any]],
    *,
    channels: Iterable[dict[str, Any]] = (),
    usergroups: Iterable[dict[str, Any]] = (),
) -> Workspace:
    """Acme's workspace with the helpdesk app, its security channel and ``channels``."""
    data: dict[str, Any] = {
        "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
        "app": {"id": "A0HELPDESK1", "bot_id": "B0HELPDESK1", "bot_user_id": BOT_USER,
                "name": "helpdesk"},
        "users": list(users),
        "channels": [{"id": SECURITY, "name": "sec", "members": [BOT_USER]}, *channels],
    }
    groups = list(usergroups)
    if groups:
        data["usergroups"] = groups
    return Workspace.from_dict(data)


@dataclass
class SlackWorld:
    """The fake (``state``, and ``fake`` for its link and tokens), the sender and the bot.

    A test module's own subclass adds what its tests ask of the world.
    """

    state: SlackState
    sender: SlackEventSender
    surface: SlackSurface
    directory: MemoryDirectory
    fake: RunningSlackFake
    url: str = ""
    """The bot's HTTP endpoint (``/slack/events`` and the probes); none in Socket Mode."""

    def texts_to(self, user: str) -> list[str]:
        return [m.visible_text for m in self.state.messages_to(user)]


W = TypeVar("W", bound=SlackWorld)


@contextlib.asynccontextmanager
async def slack_world(
    kind: type[W],
    tmp_path: Path,
    workspace: Workspace,
    *,
    database_url: str | None = None,
    groups: Iterable[str] = (),
    tiers: Any = None,
    socket_mode: bool = False,
    **config: Any,
) -> AsyncIterator[W]:
    """The bot serving ``workspace`` on the Slack fake, as a ``kind`` (``SlackWorld`` or a
    subclass); ``config`` are the sections of its configuration.

    ``groups``: directory groups to create besides the memory directory's own; ``tiers``:
    the fake's rate limits (its default otherwise).
    """
    state = SlackState(workspace)
    options = {"tiers": tiers} if tiers is not None else {}
    async with run_slack_fake(state, **options) as fake:
        cfg = make_config(
            database_url or f"sqlite:///{tmp_path}/bot.sqlite3",
            slack={"api_base_url": fake.base_url},
            **config,
        )
        environ = {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET}
        directory = make_directory()
        for group in groups:
            directory.add_group(group)
        async with contextlib.AsyncExitStack() as stack:
            surface = await stack.enter_async_context(
                slack_surface(cfg, environ, providers=providers_for(directory, cfg))
            )
            url = ""
            if socket_mode:
                assert fake.app_token is not None
                await stack.enter_async_context(running_socket_mode(surface, fake.app_token))
                sender = SlackEventSender(
                    SECRET, "http://socket-mode.invalid/", state=state,
                    transport=SocketModeTransport(fake.socket_mode),
                )
            else:
                url = await stack.enter_async_context(running_http(build_http_app(surface)))
                sender = SlackEventSender(SECRET, f"{url}/slack/events", state=state)
            await stack.enter_async_context(sender)
            if socket_mode:
                await fake.socket_mode.wait_connected()
            yield kind(state, sender, surface, directory, fake, url)
