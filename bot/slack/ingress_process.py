"""The work process's side of the ingress: it starts the child and runs what it hands over.

``helpdesk run`` in HTTP mode starts ``python -m bot.slack.ingress`` (:mod:`bot.slack.ingress`,
the HTTP endpoint in a process of its own) with ``IngressProcess``, over a private socket
pair: the signing secret and the database URL go to it as the first frame, and its
environment is an allow-list of this one's (``child_environment``), so no other secret of
the bot's (its token, the connectors') is readable in the child. What the child hands over
(requests recorded, requests to answer, pings) runs here, on the work loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from bot.slack.ingress import encode, read_frame
from bot.slack.server import Accepted, Worker
from config import metrics
from config.logging import get_logger

log = get_logger("helpdesk.ingress")

START_TIMEOUT = 30.0
_ROOT = str(Path(__file__).resolve().parents[2])  # where ``bot`` is importable from


# What the child may inherit: enough to run Python and format text. Everything else (the
# bot token, connector tokens, database passwords) stays in the work process: the child
# is the one part facing the network, and /proc/<pid>/environ shows what it holds.
_INHERITED = frozenset({
    "PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TMPDIR",
    "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONIOENCODING",
    "PYTHONHASHSEED", "PYTHONWARNINGS", "PYTHONDEVMODE", "PYTHONTRACEMALLOC",
})


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The ingress child's environment: an allow-list of the parent's, plus where ``bot`` is."""
    env = {k: v for k, v in environ.items() if k in _INHERITED}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, environ.get("PYTHONPATH", "")) if p)
    return env



class IngressProcess:
    """Starts the ingress child and runs what it hands over on this (the work) loop."""

    def __init__(
        self,
        worker: Worker,
        host: str,
        port: int,
        path: str = "/slack/events",
        *,
        log_level: str = "INFO",
        database_url: str | None = None,
    ) -> None:
        self.worker = worker
        self.host, self.port, self.path = host, port, path
        self.log_level = log_level
        self.database_url = database_url
        self.url = ""
        self.pid = 0
        self.closed = asyncio.Event()  # the child is gone (or has stopped)
        self.stopping = False
        self._proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task[None] | None = None
        self._answers: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        ours, theirs = socket.socketpair()
        env = child_environment(os.environ)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.slack.ingress", "--fd", str(theirs.fileno()),
                "--host", self.host, "--port", str(self.port), "--path", self.path,
                "--log-level", self.log_level,
                pass_fds=(theirs.fileno(),), stdin=asyncio.subprocess.DEVNULL, env=env,
                start_new_session=True,
            )
        finally:
            theirs.close()
        self.pid = self._proc.pid
        reader, self._writer = await asyncio.open_unix_connection(sock=ours)
        hello = {
            "k": "hello", "secret": self.worker.signing_secret, "ack": self.worker.command_ack,
        }
        if self.database_url:
            hello["db"] = self.database_url
        self._writer.write(encode(hello))
        try:
            ready = await asyncio.wait_for(read_frame(reader), START_TIMEOUT)
        except TimeoutError:
            ready = None
        if ready is None or ready[0].get("k") != "ready":
            await self._reap(grace=5)
            self._writer.close()
            code = self._proc.returncode
            raise RuntimeError(f"the Slack ingress process did not start (exit {code}; see log)")
        self.url = f"http://{self.host}:{int(ready[0]['port'])}"
        self._pump = asyncio.create_task(self._run(reader))
        return self.url

    async def _run(self, reader: asyncio.StreamReader) -> None:
        try:
            while (frame := await read_frame(reader)) is not None:
                meta, body = frame
                kind = meta.get("k")
                if kind == "recorded":
                    arrived = getattr(self.worker, "arrived", None)
                    if arrived is not None:
                        if meta.get("click"):
                            arrived(True, click=True)
                        else:
                            arrived(True)
                elif kind == "accept":
                    task = asyncio.create_task(self._accept(meta, body))
                    self._answers.add(task)
                    task.add_done_callback(self._answers.discard)
                elif kind == "dispatch":
                    task = asyncio.create_task(self._answer(meta, body))
                    self._answers.add(task)
                    task.add_done_callback(self._answers.discard)
                elif kind == "ping" and self._writer is not None:
                    self._writer.write(encode({"k": "reply", "id": meta["id"], "status": 200}))
                elif kind in ("ready", "metrics"):
                    task = asyncio.create_task(self._report(str(kind), meta))
                    self._answers.add(task)
                    task.add_done_callback(self._answers.discard)
        except ConnectionError as exc:
            log.error("ingress_protocol_error", error=str(exc))
        finally:
            self.closed.set()
            if not self.stopping:
                log.error("ingress_exited", pid=self.pid)

    async def _answer(self, meta: Mapping[str, Any], body: bytes) -> None:
        try:
            answer = await self.worker.dispatch(body, str(meta["q"]), dict(meta["h"]))
            status, text = answer.status, answer.body
            headers = {k: list(v) for k, v in answer.headers.items()}
        except Exception as exc:  # the ingress must get an answer for Slack
            log.error("dispatch_failed", error=type(exc).__name__)
            status, text, headers = 500, "", {}
        if self._writer is not None and not self._writer.is_closing():
            reply = {"k": "reply", "id": meta["id"], "status": status, "headers": headers}
            self._writer.write(encode(reply, text.encode("utf-8")))

    async def _accept(self, meta: Mapping[str, Any], body: bytes) -> None:
        try:
            outcome = await self.worker.accept(str(meta["key"]), body, int(meta.get("r", 0)))
        except Exception as exc:  # the ingress must get an answer: "failed" is a 503
            log.error("accept_failed", error=type(exc).__name__)
            outcome = Accepted.FAILED
        if self._writer is not None and not self._writer.is_closing():
            reply = {"k": "reply", "id": meta["id"], "status": 200}
            self._writer.write(encode(reply, outcome.value.encode()))

    async def _report(self, kind: str, meta: Mapping[str, Any]) -> None:
        """Answer the ingress's ``ready`` or ``metrics`` frame from this (the work) process."""
        body: Any
        try:
            if kind == "ready":
                check = getattr(self.worker, "ready", None)
                body = {"ready": True, "checks": {}}
                if check is not None:
                    body = (await check()).body()
                if self.stopping:
                    body = {"ready": False, "checks": {**body["checks"], "stopping": "yes"}}
            else:
                refresh = getattr(self.worker, "metrics", None)
                if refresh is not None:
                    await refresh()
                body = metrics.snapshot()
        except Exception as exc:  # the ingress must get an answer for its probe
            log.error("report_failed", kind=kind, error=type(exc).__name__)
            failed = {"ready": False, "checks": {"work": type(exc).__name__}}
            body = failed if kind == "ready" else []
        if self._writer is not None and not self._writer.is_closing():
            reply = {"k": "reply", "id": meta["id"], "status": 200}
            self._writer.write(encode(reply, json.dumps(body).encode("utf-8")))

    async def stop(self, grace: float = 30.0) -> None:
        """Stop the child: it refuses new requests, records what it holds, then exits."""
        self.stopping = True
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(encode({"k": "stop"}))
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()
        if self._pump is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), grace)
        if self._answers:
            await asyncio.wait(set(self._answers), timeout=grace)
        if self._writer is not None:
            self._writer.close()
        await self._reap(grace=10)

    async def _reap(self, grace: float) -> None:
        if self._proc is None:
            return
        try:
            await asyncio.wait_for(self._proc.wait(), grace)
        except TimeoutError:
            log.error("ingress_killed", pid=self.pid)
            self._proc.kill()
            await self._proc.wait()


@contextlib.asynccontextmanager
async def running_ingress(
    worker: Worker,
    host: str,
    port: int,
    path: str = "/slack/events",
    **kwargs: Any,
) -> AsyncIterator[IngressProcess]:
    """The ingress child serving ``host:port`` for ``worker``; stopped (gracefully) on exit."""
    ingress = IngressProcess(worker, host, port, path, **kwargs)
    await ingress.start()
    try:
        yield ingress
    finally:
        await ingress.stop()

