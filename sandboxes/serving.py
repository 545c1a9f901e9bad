"""Serving a sandbox app with uvicorn on 127.0.0.1: in the running loop, or on a thread.

Every sandbox (Okta, OneLogin, Slack) starts the same way: bind a TCP socket
(port 0 lets the OS choose), run uvicorn on it without touching the host's
signal handlers, wait until it listens, and stop it at the end of the block.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette

START_TIMEOUT = 10.0


class InProcessServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the host process (pytest, a bench)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind_tcp(host: str, port: int) -> socket.socket:
    """Bind a TCP socket; port 0 lets the OS choose (read it from ``getsockname()``)."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when
    # the listening socket says it is TCP; with protocol 0 replies stall on delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def make_server(app: Starlette, *, in_process: bool = True, **options: Any) -> uvicorn.Server:
    """uvicorn, quiet: no access log, no lifespan, a short graceful shutdown."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=1,
        **options,
    )
    return InProcessServer(config) if in_process else uvicorn.Server(config)


async def wait_started(server: uvicorn.Server, task: asyncio.Task[None], name: str) -> None:
    """Return once ``server`` listens; raise if its ``task`` ended first or it took too long."""
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"the {name} stopped during start-up")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the {name} did not start within {START_TIMEOUT:.0f} s")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def serving(
    app: Starlette, *, name: str, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> AsyncIterator[int]:
    """Serve ``app`` in the running loop for the block; yields the bound port."""
    sock = bind_tcp(host, port)
    server = make_server(app, **options)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await wait_started(server, task, name)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.contextmanager
def serving_in_thread(
    app: Starlette, *, name: str, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> Iterator[int]:
    """Serve ``app`` from a background thread (for synchronous code); yields the bound port."""
    sock = bind_tcp(host, port)
    server = make_server(app, **options)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if failed or not thread.is_alive():
                raise RuntimeError(f"the {name} stopped during start-up: {failed[:1]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {name} did not start within {START_TIMEOUT:.0f} s")
            time.sleep(0.005)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT)
        sock.close()
