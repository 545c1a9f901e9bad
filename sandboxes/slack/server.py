"""Run the fake Slack on 127.0.0.1 with an OS-chosen port, in-process.

Async code::

    async with run_slack_fake(state, tiers=RateLimits.unlimited()) as fake:
        client = AsyncWebClient(token=fake.token, base_url=fake.base_url)

Sync code (the server gets its own thread and event loop)::

    with run_slack_fake_in_thread(state) as fake:
        WebClient(token=fake.token, base_url=fake.base_url).auth_test()

``fake.base_url`` ends in ``/api/``, the form slack_sdk's ``base_url`` expects; ``fake.url`` is
the server root. Starting sets ``state.base_url`` so the response_urls it hands out are reachable.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from sandboxes.serving import serving, serving_in_thread
from sandboxes.slack.socket_mode import SocketModeLink
from sandboxes.slack.state import SlackState
from sandboxes.slack.web_api import create_slack_app

_START_TIMEOUT = 10.0


@dataclass(frozen=True)
class RunningSlackFake:
    """A started fake: where it listens and the state behind it."""

    state: SlackState
    app: Starlette
    url: str
    port: int

    @property
    def base_url(self) -> str:
        """Web API base URL for slack_sdk clients (``.../api/``)."""
        return f"{self.url}/api/"

    @property
    def token(self) -> str:
        """The seeded bot token."""
        return self.state.workspace.bot_token

    @property
    def app_token(self) -> str | None:
        """The seeded app-level token (Socket Mode)."""
        return self.state.workspace.app_token

    @property
    def socket_mode(self) -> SocketModeLink:
        """The Socket Mode side: envelopes to the connected app (``SocketModeTransport``)."""
        link: SocketModeLink = self.app.state.slack.socket_mode
        return link


def _running(state: SlackState, app: Starlette, port: int) -> RunningSlackFake:
    url = f"http://127.0.0.1:{port}"
    state.base_url = url
    return RunningSlackFake(state=state, app=app, url=url, port=port)


@contextlib.asynccontextmanager
async def run_slack_fake(
    state: SlackState | None = None, **options: Any
) -> AsyncIterator[RunningSlackFake]:
    """Serve the fake on the running event loop for the duration of the block.

    ``options`` go to ``create_slack_app`` (``tiers``, ``latency``, ``clock``).
    """
    state = state or SlackState()
    app = create_slack_app(state, **options)
    async with serving(app, name="fake Slack server") as port:
        yield _running(state, app, port)


@contextlib.contextmanager
def run_slack_fake_in_thread(
    state: SlackState | None = None, **options: Any
) -> Iterator[RunningSlackFake]:
    """Serve the fake from a background thread for the duration of the block (for sync code)."""
    state = state or SlackState()
    app = create_slack_app(state, **options)
    with serving_in_thread(app, name="fake Slack server") as port:
        yield _running(state, app, port)
