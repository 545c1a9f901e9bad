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

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

from sandboxes.slack.state import SlackState
from sandboxes.slack.web_api import create_slack_app

_START_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the host process (pytest, a benchmark)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


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


def _make_server(app: Starlette) -> _Server:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return _Server(config)


def _bound_port(server: _Server) -> int:
    sockets = [s for srv in server.servers for s in (srv.sockets or ())]
    port = sockets[0].getsockname()[1]
    return int(port)


def _running(state: SlackState, app: Starlette, server: _Server) -> RunningSlackFake:
    port = _bound_port(server)
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
    server = _make_server(app)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(_START_TIMEOUT):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the fake Slack server stopped while starting")
                await asyncio.sleep(0.005)
        yield _running(state, app, server)
    finally:
        server.should_exit = True
        await task


@contextlib.contextmanager
def run_slack_fake_in_thread(
    state: SlackState | None = None, **options: Any
) -> Iterator[RunningSlackFake]:
    """Serve the fake from a background thread for the duration of the block (for sync code)."""
    state = state or SlackState()
    app = create_slack_app(state, **options)
    server = _make_server(app)
    thread = threading.Thread(target=server.run, name="slack-fake", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the fake Slack server stopped while starting")
            if time.monotonic() > deadline:
                raise TimeoutError("the fake Slack server did not start")
            time.sleep(0.005)
        yield _running(state, app, server)
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT)
