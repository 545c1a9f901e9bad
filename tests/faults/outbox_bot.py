"""The real bot with its outbox worker, against the Slack fake at Slack's published tiers.

``running_bot`` starts ``slack_surface`` (its HTTP endpoint, a configured outbox key, the
outbox worker polling every 50 ms) for the outbox fault tests; ``settled`` waits for the
outbox jobs a test reads to be done or given up; ``slack_user`` is a workspace member as
the fake's ``Workspace.from_dict`` takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.serve import slack_surface
from bot.slack.http_server import running_http
from bot.slack.server import build_http_app
from bot.slack.surface import SlackSurface
from connectors.memory import MemoryDirectory
from sandboxes.slack import RateLimits, SlackEventSender, SlackState, run_slack_fake
from store.jobs import JobState
from store.models import Job
from tests.bot.helpers import make_config, providers_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def slack_user(uid: str, email: str, name: str | None = None) -> dict[str, Any]:
    """A workspace member: its id, handle, names and email."""
    return {"id": uid, "name": uid.lower(),
            "profile": {"real_name": name or uid, "display_name": uid.lower(), "email": email}}


@contextlib.asynccontextmanager
async def running_bot(
    state: SlackState, directory: MemoryDirectory, tmp_path: Path, **config: Any
) -> AsyncIterator[tuple[SlackEventSender, SlackSurface]]:
    """The bot on a SQLite store in ``tmp_path``; ``config`` adds to its configuration."""
    async with run_slack_fake(state, tiers=RateLimits.slack()) as fake:
        cfg = make_config(
            f"sqlite:///{tmp_path}/bot.sqlite3",
            slack={"api_base_url": fake.base_url, "outbox": {"key": {"env": "OUTBOX_KEY"}}},
            **config,
        )
        environ = {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET,
                   "OUTBOX_KEY": "a test key, long enough to be one"}
        async with (
            slack_surface(cfg, environ, providers=providers_for(directory, cfg)) as surface,
            running_http(build_http_app(surface)) as url,
            SlackEventSender(SECRET, f"{url}/slack/events", state=state) as sender,
        ):
            surface.outbox.poll_interval = 0.05
            worker = asyncio.create_task(surface.outbox.worker())
            try:
                yield sender, surface
            finally:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)


async def settled(read: Callable[[], Awaitable[list[Job]]], within: float = 15.0) -> list[Job]:
    """The jobs ``read`` returns, once there are some and none is queued any more."""
    for _ in range(int(within / 0.05)):
        jobs = await read()
        if jobs and all(j.state != JobState.QUEUED for j in jobs):
            return jobs
        await asyncio.sleep(0.05)
    raise AssertionError(f"outbox not settled: {[(j.key, j.state) for j in await read()]}")
