"""The HTTP server the endpoint runs in: uvicorn, guarded against slow and numerous clients.

A connection that has not sent its headers within ``HEADER_TIMEOUT`` is closed, and past
``MAX_CONNECTIONS`` the oldest such connection makes room for the new one
(``GuardedHttp``): a storm of half-sent requests cannot starve Slack's or the probes'.
``server_for`` builds the server for an ASGI app (the ingress process serves it);
``running_http`` serves one in this event loop (the Socket Mode port, tests).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator
from typing import Any

import uvicorn

from bot.slack.server import Ingress
from config.logging import get_logger

log = get_logger("helpdesk.http")

HEADER_TIMEOUT = 10.0  # seconds from connecting (or the request's first byte) to its last header
MAX_CONNECTIONS = 512  # open connections; past it the slowest still sending headers is dropped


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools ships with uvicorn[standard]
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


if HttpToolsProtocol is not None:

    class GuardedHttp(HttpToolsProtocol):
        """uvicorn's HTTP protocol with a deadline on headers and a cap on connections.

        uvicorn times out idle keep-alive connections only: a client that sends its
        headers a byte at a time (or never) holds a connection, and a file descriptor,
        for ever. Here each connection must complete its headers within
        ``HEADER_TIMEOUT``; and when ``MAX_CONNECTIONS`` are open, the one that has been
        sending headers longest is closed for the newcomer, so valid requests (whose
        headers arrive in one packet) keep being served under a slow-client storm.
        """

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._deadline: asyncio.TimerHandle | None = None
            self._headers_since = self.loop.time()
            self._arm()
            if len(self.connections) > MAX_CONNECTIONS:
                slow = [c for c in self.connections if isinstance(c, GuardedHttp)
                        and c is not self and c._deadline is not None]
                if slow:
                    oldest = min(slow, key=lambda c: c._headers_since)
                    log.warning("connection_dropped", reason="connection limit")
                    oldest.transport.close()
                else:
                    transport.close()

        def _arm(self) -> None:
            if self._deadline is None:
                self._headers_since = self.loop.time()
                self._deadline = self.loop.call_later(HEADER_TIMEOUT, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                log.warning("connection_dropped", reason="headers too slow")
                self.transport.close()

        def on_message_begin(self) -> None:
            self._arm()
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # Idle until the next request: uvicorn's keep-alive timeout covers that.
            self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Embedded (tests, the ingress process): whoever runs the server handles signals.
        yield


def server_for(app: Any, host: str, port: int) -> _QuietServer:
    # httptools when installed: less CPU per request than h11; guarded against slow clients.
    return _QuietServer(
        uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
            http=GuardedHttp if HttpToolsProtocol is not None else "auto", backlog=4096,
            proxy_headers=False, server_header=False,
        )
    )


@contextlib.asynccontextmanager
async def running_http(
    app: Any, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve ``app`` in this event loop; yields its base URL (the real port when 0 was asked)."""
    server = server_for(app, host, port)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{bound}"
    finally:
        if isinstance(app, Ingress):
            app.stopping = True
        server.should_exit = True
        await task
