"""The HTTP endpoint in a process of its own, in front of the bot's work.

Acknowledging a Slack request takes an HMAC and a parse; the work behind it
(Bolt, the store, the connectors) takes thousands of times more, and in one
process it competes with the acks for the GIL, and its garbage collections (a
full one over the work's heap takes tens to hundreds of milliseconds) stop them.
So ``helpdesk run`` in HTTP mode starts this module as a child process: it
serves ``POST /slack/events`` (``bot.slack.server.Ingress``, unchanged). An event,
click or command is recorded in the store's inbox by this process, on a connection of
its own, and acknowledged once recorded (503 when that fails or takes over
``bot.slack.inbox.RECORD_TIMEOUT``): the work's load never stands between a request and
its record. A ``recorded`` frame then tells the work process to claim it. Requests whose
answer is the work's own (view submissions, URL verification) are handed to it over a
private socket pair. Without a database URL (tests) the child asks the work process to
record each request instead (an ``accept`` frame and its answer, ``ACCEPT_TIMEOUT``).

``/healthz`` pings the work process through the same pair (503 when it does not answer
within ``HEALTH_TIMEOUT``), so a wedged work loop shows even though acks still flow.

The wire between them is length-prefixed frames (``encode`` / ``read_frame``): a JSON
header and the raw request body. The signing secret and the database URL travel over
the socket pair as the first frame (with the slash command's ack, already translated into
the organisation's language), never on the command line or in the environment;
the child's environment is an allow-list, so no other secret of the bot's (its token,
the connectors') is readable in the child. The work process's side (starting the child,
running what it hands over) is :mod:`bot.slack.ingress_process`.

Lifecycle: the work process sends ``stop`` (or the child gets SIGTERM); the child
answers new requests 503 (Slack retries them on another replica), lets those it is
recording finish, and closes; nothing it acknowledged is only in its memory. If the
work process goes away, the child sees the socket close and exits. If the child goes
away, ``IngressProcess.closed`` is set and ``helpdesk run`` exits with an error for
its service manager to restart it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import signal
import socket
import struct
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.slack.http_server import server_for
from bot.slack.server import Accepted, Ingress, Readiness

if TYPE_CHECKING:
    from bot.slack.inbox import Recorder
from config.logging import configure_logging, get_logger

log = get_logger("helpdesk.ingress")

_HEAD = struct.Struct("!II")
_MAX_META = 1 << 20  # a frame's JSON header: request headers and the like
_MAX_BODY = 4 << 20  # a frame's body: a request body (the endpoint refuses over 1 MB)
HEALTH_TIMEOUT = 2.0  # seconds the work process has to answer /healthz's ping
READY_TIMEOUT = 8.0  # /readyz and /metrics: the work's checks have their own time limits
# The work records within 2 s (``bot.slack.inbox.RECORD_TIMEOUT``) or says it failed; this
# covers a stalled work loop too, inside Slack's 3 seconds.
ACCEPT_TIMEOUT = 2.5
def encode(meta: Mapping[str, Any], body: bytes = b"") -> bytes:
    """One frame: header length, body length, the JSON header, the raw body."""
    head = json.dumps(meta, separators=(",", ":")).encode()
    return _HEAD.pack(len(head), len(body)) + head + body


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes] | None:
    """The next frame, or None when the other side has closed the socket."""
    try:
        head_len, body_len = _HEAD.unpack(await reader.readexactly(_HEAD.size))
        if head_len > _MAX_META or body_len > _MAX_BODY:
            raise ConnectionError(f"frame too large ({head_len}, {body_len})")
        meta = json.loads(await reader.readexactly(head_len))
        body = await reader.readexactly(body_len)
    except (asyncio.IncompleteReadError, ConnectionResetError):
        return None
    if not isinstance(meta, dict):
        raise ConnectionError("frame header is not an object")
    return meta, body


@dataclass(frozen=True)
class Reply:
    """The work's answer to a dispatched request, as the ingress sends it to Slack."""

    status: int
    body: str
    headers: Mapping[str, Sequence[str]] = field(default_factory=dict)


class PipeWorker:
    """The child's ``Worker``: hands requests to the work process over the socket pair.

    With ``recorder`` (the store's inbox, on this process's own connection) requests are
    recorded here and the work process is only told to claim them.
    """

    def __init__(
        self, signing_secret: str, writer: asyncio.StreamWriter, recorder: Recorder | None = None,
        *, command_ack: str,
    ) -> None:
        self.signing_secret = signing_secret
        self.command_ack = command_ack
        self._writer = writer
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Reply]] = {}
        self.recorder = recorder

    def recorded(self) -> None:
        """Tell the work process that new requests are in the inbox."""
        if not self._writer.is_closing():
            self._writer.write(encode({"k": "recorded"}))

    def recorded_click(self) -> None:
        """The same, for a batch with a click in it: the work process claims it at once."""
        if not self._writer.is_closing():
            self._writer.write(encode({"k": "recorded", "click": True}))

    async def accept(self, key: str, payload: bytes, retry: int) -> Accepted:
        """Record the request (here, or by the work process); ``FAILED`` if not recorded."""
        if self.recorder is not None:
            return await self.recorder.accept(key, payload, retry)
        if self._writer.is_closing():
            return Accepted.FAILED
        ident = next(self._ids)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        try:
            meta = {"k": "accept", "id": ident, "key": key, "r": retry}
            self._writer.write(encode(meta, payload))
            reply = await asyncio.wait_for(future, ACCEPT_TIMEOUT)
            return Accepted(reply.body)
        except (TimeoutError, ConnectionError, ValueError):
            return Accepted.FAILED
        finally:
            self._waiting.pop(ident, None)

    async def dispatch(self, body: bytes, query: str, headers: dict[str, str]) -> Reply:
        if self._writer.is_closing():
            raise ConnectionError("the bot's work process is not connected")
        key = next(self._ids)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            self._writer.write(encode({"k": "dispatch", "id": key, "q": query, "h": headers}, body))
            return await future
        finally:
            self._waiting.pop(key, None)

    def resolve(self, meta: Mapping[str, Any], body: bytes) -> None:
        future = self._waiting.get(int(meta.get("id", 0)))
        if future is not None and not future.done():
            raw = dict(meta.get("headers", {}))
            headers = {str(k): [str(x) for x in v] for k, v in raw.items()}
            future.set_result(Reply(int(meta["status"]), body.decode("utf-8"), headers))

    async def _ask(self, kind: str, limit: float) -> Reply:
        """Send a ``kind`` frame and wait for the work's reply (``ConnectionError`` if none)."""
        if self._writer.is_closing():
            raise ConnectionError("the bot's work process is not connected")
        key = next(self._ids)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            self._writer.write(encode({"k": kind, "id": key}))
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            raise ConnectionError(f"the bot's work did not answer {kind!r} in time") from None
        finally:
            self._waiting.pop(key, None)

    async def ready(self) -> Readiness:
        """``/readyz``: the work process's readiness checks."""
        reply = await self._ask("ready", READY_TIMEOUT)
        body = json.loads(reply.body)
        return Readiness(bool(body["ready"]), {str(k): str(v) for k, v in body["checks"].items()})

    async def metrics(self) -> list[dict[str, Any]]:
        """``/metrics``: the work process's samples, to merge with this process's own."""
        reply = await self._ask("metrics", READY_TIMEOUT)
        snap = json.loads(reply.body)
        return snap if isinstance(snap, list) else []

    async def alive(self, limit: float = HEALTH_TIMEOUT) -> bool:
        """Whether the work process answers a ping in time (``/healthz``): its loop may
        be wedged while this process still acknowledges Slack."""
        if self._writer.is_closing():
            return False
        key = next(self._ids)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            self._writer.write(encode({"k": "ping", "id": key}))
            await asyncio.wait_for(future, limit)
            return True
        except (TimeoutError, ConnectionError):
            return False
        finally:
            self._waiting.pop(key, None)

    def fail_all(self) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the bot's work process went away"))


# -- the child ------------------------------------------------------------------------


async def _child(sock: socket.socket, args: argparse.Namespace) -> int:
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    first = await read_frame(reader)
    if first is None or first[0].get("k") != "hello":
        log.error("ingress_no_hello")
        writer.close()
        return 2
    from config.secret_values import Secret

    secret = Secret(str(first[0]["secret"]))  # known to the log redactor from here on
    # The slash command's ack comes translated (the organisation's language): this process
    # loads no catalogue and makes no look-up to answer a command.
    worker = PipeWorker(secret.reveal(), writer, command_ack=str(first[0]["ack"]))
    engine = None
    if first[0].get("db"):
        from bot.slack.inbox import Recorder
        from store.engine import open_engine
        from store.inbox import InboxStore

        database = Secret(str(first[0]["db"]))  # its password, if any, is redacted too
        engine = open_engine(database.reveal(), small=True, name="helpdesk-ingress")
        worker.recorder = Recorder(InboxStore(engine), worker.recorded,
                                   on_click=worker.recorded_click)
    app = Ingress(worker, args.path)
    # Bound here, and "ready" sent, before the server accepts anything: no request (and
    # no frame it causes) can reach the work process ahead of "ready".
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    try:
        listener = socket.create_server((args.host, args.port), family=family, backlog=4096)
    except OSError as exc:
        log.error("ingress_bind_failed", host=args.host, port=args.port, error=str(exc))
        writer.close()
        return 1
    bound = listener.getsockname()[1]
    writer.write(encode({"k": "ready", "port": bound}))
    server = server_for(app, args.host, bound)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    # What was loaded to get here lives as long as the process: out of the collector's way.
    gc.collect()
    gc.freeze()

    loop = asyncio.get_running_loop()
    def stop_serving() -> None:
        app.stopping = True
        server.should_exit = True

    loop.add_signal_handler(signal.SIGTERM, stop_serving)

    async def listen() -> None:
        # After "stop", replies still come for requests in flight, until the work closes.
        try:
            while (frame := await read_frame(reader)) is not None:
                meta, body = frame
                if meta.get("k") == "reply":
                    worker.resolve(meta, body)
                elif meta.get("k") == "stop":
                    stop_serving()
        finally:
            server.should_exit = True
            worker.fail_all()  # the work is gone: nothing in flight can be answered

    listening = asyncio.create_task(listen())
    await serving
    worker.fail_all()
    if engine is not None:
        await engine.dispose()
    listening.cancel()
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.slack.ingress", description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="the socket pair's child end")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default="/slack/events")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    # The work process decides when to stop (and the terminal's ^C reaches it).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=args.fd)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(_child(sock, args))
    return uvloop.run(_child(sock, args))


if __name__ == "__main__":
    sys.exit(main())
