"""500 employees reset their password at once, through signed HTTP requests to the running bot.

The bot runs as its own process (`helpdesk run`), exactly as deployed, with its
Web API client pointed at the local Slack fake and its Okta connector at the
Okta sandbox answering every request after 50 ms. For each employee the bench
posts a signed DM ("I forgot my password"), clicks *Reset my password* as soon
as the prompt arrives, and waits for the reset link in the DM.

The 500 DMs go out together, each on a new connection (``RawPoster``). First the same
burst goes to a server that only answers 200 (``floor_ack_ms_*``): what this sender and
machine measure for a server that does nothing, to read the bot's figures against.

Reported: time-to-ack (every signed POST: the DMs and the clicks) p50/p99,
time-to-done (DM sent -> reset link delivered to the fake Slack) p50/p99, and
the bot process's peak RSS. Rate limits are off on both fakes here: this
measures the bot, not Slack's or Okta's quotas.

    python bench/slack_bench.py [--users 500] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvloop
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandboxes.okta import DEMO_TOKEN  # noqa: E402
from sandboxes.slack import (  # noqa: E402
    RateLimits,
    SlackEventSender,
    SlackState,
    Workspace,
    run_slack_fake_in_thread,
)
from tests.access.replicas import child_pids  # noqa: E402

SECRET = "bench-signing-secret-0123456789"
LATENCY = 0.05
PROFILE: list[str] = os.environ.get("HELPDESK_BENCH_PROFILE", "").split() or []


# The Slack fake's limits: Slack's published tiers unless `--limits unlimited` asks for none
# (a figure measured without them hides exactly the failures a workspace meets).
PUBLISHED = RateLimits.slack()
DATABASE = [""]  # --database: the bot's database URL (empty: SQLite in a temporary folder)
SLACK_TIERS: list[RateLimits] = [PUBLISHED]

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


OKTA_PID: list[int] = [0]


def _cpu_s(pid: int) -> float:
    """User+system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _wait_healthy(url: str, proc: subprocess.Popen[bytes], limit: float = 60) -> None:
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


def _quiet_collector() -> None:
    """The sender's own heap (the Slack fake's state) out of the collector's way: its
    full collections would be timed as the server's delay."""
    gc.collect()
    gc.freeze()


class Watcher:
    """One task reads the fake's call log and wakes the employee waiting for that message.

    (One poller for everyone: 500 pollers would eat the CPU this bench shares with the bot.)
    """

    def __init__(self, state: SlackState) -> None:
        self.state = state
        self.seen = 0
        self.waiting: dict[tuple[str, str], asyncio.Future[None]] = {}
        self.arrived: set[tuple[str, str]] = set()

    def expect(self, uid: str, marker: str) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        if (uid, marker) in self.arrived:
            future.set_result(None)
        else:
            self.waiting[(uid, marker)] = future
        return future

    async def run(self) -> None:
        while True:
            calls = self.state.calls("chat.postMessage")
            for call in calls[self.seen :]:
                owner = self.state.dm_owner(str(call.params.get("channel", "")))
                text = str(call.params.get("text", ""))
                for marker in MARKERS:
                    if owner and marker in text:
                        self.arrived.add((owner, marker))
                        future = self.waiting.pop((owner, marker), None)
                        if future is not None and not future.done():
                            future.set_result(None)
            self.seen = len(calls)
            await asyncio.sleep(0.005)


PROMPT, LINK = "Go ahead?", "password reset link"
MARKERS = (PROMPT, LINK)


async def _one(sender: SlackEventSender, watcher: Watcher, uid: str) -> dict[str, float]:
    start = time.perf_counter()
    prompt, link = watcher.expect(uid, PROMPT), watcher.expect(uid, LINK)
    dm = await sender.dm(uid, "I forgot my password")
    await asyncio.wait_for(prompt, 120)
    click = await sender.block_action(uid, "hd_confirm.0")
    await asyncio.wait_for(link, 120)
    done = time.perf_counter() - start
    assert dm.status_code == 200 and click.status_code == 200, (dm.status_code, click.status_code)
    return {
        "ack_dm": float(dm.response.headers["x-bench-ack-s"]),
        "ack_click": float(click.response.headers["x-bench-ack-s"]),
        "done": done,
        "server_dm": _server_ms(dm.response.headers.get("server-timing", "")),
        "server_click": _server_ms(click.response.headers.get("server-timing", "")),
    }


def _server_ms(header: str) -> float:
    """The bot's own time to answer, from its Server-Timing header (seconds)."""
    _, _, dur = header.partition("dur=")
    return float(dur or "nan") / 1000


def _start_okta(users: int, latency: float) -> tuple[subprocess.Popen[str], str, str]:
    """The Okta sandbox in its own process, so it doesn't share a GIL with the measurements."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandboxes.okta", "--users", str(users), "--latency", str(latency),
         "--rate-limit", "1000000"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    found: dict[str, str] = {}
    assert proc.stdout is not None
    while len(found) < 2:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the Okta sandbox did not start")
        key, _, value = line.strip().partition("=")
        if key in ("OKTA_SANDBOX_URL", "OKTA_SANDBOX_CA"):
            found[key] = value
    return proc, found["OKTA_SANDBOX_URL"], found["OKTA_SANDBOX_CA"]


async def _generated_emails(url: str, ca: str) -> list[str]:
    emails: list[str] = []
    next_url: str | None = f"{url}/api/v1/users?limit=200"
    async with httpx.AsyncClient(verify=ca, headers={"Authorization": f"SSWS {DEMO_TOKEN}"}) as c:
        while next_url:
            resp = await c.get(next_url)
            resp.raise_for_status()
            emails += [u["profile"]["email"] for u in resp.json()]
            next_url = resp.links.get("next", {}).get("url")
    return sorted(e for e in emails if e.startswith("user"))


# The same kind of server as the bot's ingress (uvicorn, httptools, uvloop) answering
# every request with an empty 200 and doing nothing else: the floor of this harness.
NULL_SERVER = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, http="httptools", loop="uvloop", backlog=4096)
"""


async def _floor(users: int) -> dict[str, float]:
    """The same burst of signed DMs against a server that only answers: the harness's floor."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", NULL_SERVER, str(port)])  # noqa: ASYNC220
    try:
        url = f"http://127.0.0.1:{port}/slack/events"
        http = RawPoster()
        sender = SlackEventSender(SECRET, url, client=http)  # type: ignore[arg-type]
        for _ in range(100):
            try:
                await sender.dm("U0FLOOR0000", "warm-up")
                break
            except OSError:
                await asyncio.sleep(0.1)
        http.hold(users)
        _quiet_collector()
        sent = await asyncio.gather(
            *(sender.dm(f"U0F{i:07d}", "I forgot my password") for i in range(users))
        )
        acks = [float(d.response.headers["x-bench-ack-s"]) for d in sent]
        return {
            "floor_ack_ms_p50": round(statistics.median(acks) * 1000, 1),
            "floor_ack_ms_p99": round(_percentile(acks, 99) * 1000, 1),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def main(users: int, latency: float) -> dict[str, Any]:
    floor = await _floor(users - 1)
    okta_proc, okta_url, okta_ca = _start_okta(users, latency)
    OKTA_PID[0] = okta_proc.pid
    try:
        return {**await _measure(users, okta_url, okta_ca), **floor}
    finally:
        okta_proc.terminate()
        okta_proc.wait(timeout=30)


async def _measure(users: int, okta_url: str, okta_ca: str) -> dict[str, Any]:
    emails = await _generated_emails(okta_url, okta_ca)
    workspace = Workspace.from_dict(
        {
            "team": {"id": "T0BENCH001", "name": "Bench", "domain": "bench"},
            "users": [
                {"id": f"U0B{i:07d}", "name": f"u{i}", "profile": {"email": email}}
                for i, email in enumerate(emails[:users])
            ],
        }
    )
    slack_state = SlackState(workspace)
    with (
        run_slack_fake_in_thread(slack_state, tiers=SLACK_TIERS[0]) as slack,
        tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as tmp,
    ):
        port = _free_port()
        cfg = yaml.safe_load((ROOT / "config" / "helpdesk.yaml").read_text())
        cfg.update(
            database_url=DATABASE[0] or f"sqlite:///{tmp}/bench.sqlite3",
            log_level="WARNING",
            # This bench measures the Slack path; the verification step is not part of it.
            verification={"password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]},
            slack={
                "bot_token": {"env": "SLACK_BOT_TOKEN"},
                "signing_secret": {"env": "SLACK_SIGNING_SECRET"},
                "host": "127.0.0.1",
                "port": port,
                "api_base_url": slack.base_url,
            },
            connectors={
                "okta": {
                    "kind": "okta",
                    "org_url": okta_url,
                    "api_token": {"env": "OKTA_API_TOKEN"},
                    "ca_file": okta_ca,
                    "max_concurrency": 75,
                }
            },
        )
        cfg_path = Path(tmp) / "helpdesk.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg))
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": SECRET,
            "OKTA_API_TOKEN": DEMO_TOKEN,
        }
        proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measured part
            [sys.executable, *PROFILE, "-m", "bot.cli", "run", "--config", str(cfg_path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            await _wait_healthy(url, proc)
            http = RawPoster()
            async with http, SlackEventSender(
                SECRET, f"{url}/slack/events", state=slack_state, client=http  # type: ignore[arg-type]
            ) as s:
                watcher = Watcher(slack_state)
                watching = asyncio.create_task(watcher.run())
                await _one(s, watcher, workspace_ids(workspace)[0])  # warm-up, not counted
                http.hold(users - 1)  # the 500 DMs go out together
                _quiet_collector()
                started = time.perf_counter()
                outcomes = await asyncio.gather(
                    *(_one(s, watcher, uid) for uid in workspace_ids(workspace)[1:]),
                    return_exceptions=True,
                )
                # An employee whose answer never came (120 s) is lost, not a crash of the bench.
                results = [r for r in outcomes if isinstance(r, dict)]
                lost = sum(isinstance(r, TimeoutError) for r in outcomes)
                for r in outcomes:
                    if isinstance(r, BaseException) and not isinstance(r, TimeoutError):
                        raise r
                wall = time.perf_counter() - started
                watching.cancel()
            ingress = child_pids(proc.pid)
            rss = _peak_rss_mib(proc.pid)
            ingress_rss = sum(_peak_rss_mib(pid) for pid in ingress)
            cpu = {"bot": _cpu_s(proc.pid), "bot_ingress": sum(_cpu_s(p) for p in ingress),
                   "bench+slack_fake": _cpu_s(os.getpid()), "okta_sandbox": _cpu_s(OKTA_PID[0])}
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
    if not results:
        return {"bench": "slack_self_service", "employees": users - 1, "answered": 0,
                "lost": lost, "wall_s": round(wall, 2)}
    acks = [r["ack_dm"] for r in results] + [r["ack_click"] for r in results]
    done = [r["done"] for r in results]
    server = [r["server_dm"] for r in results] + [r["server_click"] for r in results]
    links = sum(
        1
        for uid in workspace_ids(workspace)
        if any("password reset link" in m.visible_text for m in slack_state.messages_to(uid))
    )
    return {
        "bench": "slack_self_service",
        "okta_latency_s": LATENCY,
        "employees": len(results) + lost,
        "answered": len(results),
        "lost": lost,
        "slack_limits": "unlimited" if SLACK_TIERS[0] is not PUBLISHED else "published",

        "ack_ms_p50": round(statistics.median(acks) * 1000, 1),
        "ack_ms_p99": round(_percentile(acks, 99) * 1000, 1),
        "ack_ms_max": round(max(acks) * 1000, 1),
        "ack_dm_ms_p50": round(statistics.median([r["ack_dm"] for r in results]) * 1000, 1),
        "ack_dm_ms_p99": round(_percentile([r["ack_dm"] for r in results], 99) * 1000, 1),
        "ack_click_ms_p99": round(_percentile([r["ack_click"] for r in results], 99) * 1000, 1),
        "server_ack_ms_p99": round(_percentile(server, 99) * 1000, 1),
        "done_ms_p50": round(statistics.median(done) * 1000, 1),
        "done_ms_p99": round(_percentile(done, 99) * 1000, 1),
        "wall_s": round(wall, 2),
        "links_delivered": links,
        "bot_peak_rss_mib": round(rss + ingress_rss, 1),
        "bot_work_peak_rss_mib": round(rss, 1),
        "bot_ingress_peak_rss_mib": round(ingress_rss, 1),
        "cpu_s": cpu,
        "bot_stderr_errors": sum("error" in line.lower() for line in err.decode().splitlines()),
    }


def workspace_ids(workspace: Workspace) -> list[str]:
    return sorted(uid for uid in workspace.users if uid.startswith("U0B"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--database", default="",
                        help="the bot's database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--limits", choices=("published", "unlimited"), default="published",
                        help="the Slack fake's rate limits (default: Slack's published tiers)")
    args = parser.parse_args()
    if args.limits == "unlimited":
        SLACK_TIERS[0] = RateLimits.unlimited()
    LATENCY = args.latency
    DATABASE[0] = args.database
    # uvloop, and the GIL handed over every 0.5 ms instead of 5: the fake Slack serving the
    # bot runs on a thread of this process, and the sender's own delays are part of every
    # time measured.
    sys.setswitchinterval(0.0005)
    print(json.dumps(uvloop.run(main(args.users + 1, args.latency))))
