"""A TCP proxy in front of the test DC that can lose one LDAP answer, or one request.

LDAPS runs end to end through it (the proxy never sees LDAP), so the test marks the
moment instead: right before the connector sends a modify, :meth:`LossyProxy.arm` names
the connection (the client's local port) and what to lose:

* ``"answer"``: the request reaches the DC (which applies it); the DC's answer is
  dropped and both sides are cut, as when a network fails on the way back;
* ``"request"``: the request is dropped and the connection cut; the DC never sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Literal

Loss = Literal["answer", "request"]


class LossyProxy:
    """Forwards 127.0.0.1:<port> to the DC; loses what it is armed to lose."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._armed: dict[int, Loss] = {}
        self._lock = threading.Lock()
        self.port = 0
        self.lost: list[Loss] = []
        self._links: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def arm(self, client_port: int, loss: Loss) -> None:
        """Lose the next request's answer (or the request) on this client connection.

        Called from the connector's worker thread, before it sends."""
        with self._lock:
            self._armed[client_port] = loss

    def _loss(self, client_port: int) -> Loss | None:
        with self._lock:
            return self._armed.get(client_port)

    def _spent(self, client_port: int, loss: Loss) -> None:
        with self._lock:
            self._armed.pop(client_port, None)
            self.lost.append(loss)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client_port = int(writer.get_extra_info("peername")[1])
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._links.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._links.add(up_writer)

        def cut() -> None:
            writer.transport.abort()
            up_writer.transport.abort()

        async def pipe(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, drops: Loss
        ) -> None:
            while data := await src.read(65536):
                if self._loss(client_port) == drops:
                    self._spent(client_port, drops)
                    cut()
                    return
                dst.write(data)
                await dst.drain()
            dst.close()

        with contextlib.suppress(OSError, ConnectionError):
            await asyncio.gather(
                pipe(reader, up_writer, "request"), pipe(up_reader, writer, "answer")
            )
        cut()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[LossyProxy]:
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = int(server.sockets[0].getsockname()[1])
        try:
            yield self
        finally:
            server.close()
            for link in self._links:
                link.transport.abort()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()
