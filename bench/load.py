"""The load side of the HTTP benchmarks: a raw HTTP sender, and what a process used.

Shared by ``slack_bench.py`` and ``approvals_bench.py``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def cpu_s(pid: int) -> float:
    """User+system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), MiB."""
    return _status_mib(pid, "VmHWM:")


def rss_mib(pid: int) -> float:
    """The process's resident set now (VmRSS), MiB."""
    return _status_mib(pid, "VmRSS:")


def pss_mib(pid: int) -> float:
    """The process's proportional set now (Pss: its private pages, and its share of pages
    it shares, such as the interpreter's libraries with its sibling), MiB. Summed over
    the bot's processes it counts each page once, as the container's memory does."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_healthy(url: str, proc: subprocess.Popen[bytes], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                raise RuntimeError(f"bot exited with {proc.returncode}: {err}")
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("bot did not become healthy")


class RawPoster:
    """The sender's HTTP client: one new connection per request, written by hand.

    A client library's own per-request work (aiohttp's, httpx's) is what a burst of 500
    requests from one Python process mostly measures: hundreds of milliseconds before
    the last request is even on the wire. Slack's senders are not one Python process, so
    the sender here does the least a client can (connect, write the request, read the
    status line and headers) and the time measured is the bot's. Each request gets a new
    connection, as from Slack's many senders; ``Connection: close`` also keeps a reused
    idle connection from racing the server's keep-alive timeout.

    After ``hold(n)`` the next ``n`` requests wait until all of them are ready, then go
    together, so building 500 payloads is not timed as waiting for the bot. Each answer
    carries ``x-bench-ack-s``: the time from connecting to the answer's headers.
    """

    def __init__(self) -> None:
        self.hold(0)

    def hold(self, burst: int) -> None:
        """Send the next ``burst`` requests together, once all of them are built."""
        self.burst, self.ready = burst, 0
        self.go = asyncio.Event()
        if burst == 0:
            self.go.set()

    async def __aenter__(self) -> RawPoster:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> httpx.Response:
        parts = urlsplit(url)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (
            f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\n{head}Content-Length: {len(content)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + content
        if not self.go.is_set():
            self.ready += 1
            if self.ready >= self.burst:
                self.go.set()
            await self.go.wait()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[float, bytes]] = loop.create_future()
        started = time.perf_counter()
        assert parts.hostname is not None and parts.port is not None
        await loop.create_connection(
            lambda: _Exchange(request, started, done), parts.hostname, parts.port
        )
        acked, raw = await done
        raw_head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *lines = raw_head.decode("latin-1").split("\r\n")
        pairs = [tuple(line.split(":", 1)) for line in lines if ":" in line]
        return httpx.Response(
            int(status_line.split()[1]),
            headers=[*((k.strip(), v.strip()) for k, v in pairs), ("x-bench-ack-s", f"{acked}")],
            content=body,
            request=httpx.Request("POST", url),
        )


class _Exchange(asyncio.Protocol):
    """One request on its own connection: write it, note when the answer's head is in,
    collect the rest until the server closes (``Connection: close``)."""

    def __init__(
        self, request: bytes, started: float, done: asyncio.Future[tuple[float, bytes]]
    ) -> None:
        self.request, self.started, self.done = request, started, done
        self.received = bytearray()
        self.acked = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.received += data
        if not self.acked and b"\r\n\r\n" in self.received:
            self.acked = time.perf_counter() - self.started

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done.done():
            return
        if not self.acked:
            self.done.set_exception(exc or ConnectionError("closed before an answer"))
        else:
            self.done.set_result((self.acked, bytes(self.received)))


def quiet_collector() -> None:
    """The sender's own heap (the Slack fake's state) out of the collector's way: its
    full collections would be timed as the server's delay."""
    gc.collect()
    gc.freeze()
