"""500 employees reset their password at once, through signed HTTP requests to the running bot.

The bot runs as its own process (`helpdesk run`), exactly as deployed, with its
Web API client pointed at the local Slack fake and its Okta connector at the
Okta sandbox answering every request after 50 ms. For each employee the bench
posts a signed DM ("I forgot my password"), clicks *Reset my password* as soon
as the prompt arrives, and waits for the reset link in the DM.

Reported: time-to-ack (every signed POST: the DMs and the clicks) p50/p99,
time-to-done (DM sent -> reset link delivered to the fake Slack) p50/p99, and
the bot process's peak RSS. Rate limits are off on both fakes here: this
measures the bot, not Slack's or Okta's quotas.

    python bench/slack_bench.py [--users 500] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
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

import aiohttp
import httpx
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

SECRET = "bench-signing-secret-0123456789"
LATENCY = 0.05
PROFILE: list[str] = os.environ.get("HELPDESK_BENCH_PROFILE", "").split() or []


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


class AiohttpPoster:
    """The sender's HTTP client, on aiohttp.

    httpx's pool is slow with hundreds of connections opening at once (seconds of
    client-side delay at 500); aiohttp's isn't, so what is timed is the bot.
    """

    def __init__(self, connections: int) -> None:
        self.connections = connections

    async def __aenter__(self) -> AiohttpPoster:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.connections),
            timeout=aiohttp.ClientTimeout(total=120),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def aclose(self) -> None:
        await self.session.close()

    async def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> httpx.Response:
        async with self.session.post(url, data=content, headers=headers) as resp:
            body = await resp.read()
            return httpx.Response(
                resp.status, headers=list(resp.headers.items()), content=body,
                request=httpx.Request("POST", url),
            )


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
        "ack_dm": dm.elapsed,
        "ack_click": click.elapsed,
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


async def main(users: int, latency: float) -> dict[str, Any]:
    okta_proc, okta_url, okta_ca = _start_okta(users, latency)
    OKTA_PID[0] = okta_proc.pid
    try:
        return await _measure(users, okta_url, okta_ca)
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
        run_slack_fake_in_thread(slack_state, tiers=RateLimits.unlimited()) as slack,
        tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as tmp,
    ):
        port = _free_port()
        cfg = yaml.safe_load((ROOT / "config" / "helpdesk.yaml").read_text())
        cfg.update(
            database_url=f"sqlite:///{tmp}/bench.sqlite3",
            log_level="WARNING",
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
            # One connection per employee, as Slack's many senders would: no client-side queue.
            async with AiohttpPoster(users + 10) as http, SlackEventSender(
                SECRET, f"{url}/slack/events", state=slack_state, client=http  # type: ignore[arg-type]
            ) as s:
                watcher = Watcher(slack_state)
                watching = asyncio.create_task(watcher.run())
                await _one(s, watcher, workspace_ids(workspace)[0])  # warm-up, not counted
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(_one(s, watcher, uid) for uid in workspace_ids(workspace)[1:])
                )
                wall = time.perf_counter() - started
                watching.cancel()
            rss = _peak_rss_mib(proc.pid)
            cpu = {"bot": _cpu_s(proc.pid), "bench+slack_fake": _cpu_s(os.getpid()),
                   "okta_sandbox": _cpu_s(OKTA_PID[0])}
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
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
        "employees": len(results),

        "ack_ms_p50": round(statistics.median(acks) * 1000, 1),
        "ack_ms_p99": round(_percentile(acks, 99) * 1000, 1),
        "ack_ms_max": round(max(acks) * 1000, 1),
        "ack_dm_ms_p99": round(_percentile([r["ack_dm"] for r in results], 99) * 1000, 1),
        "ack_click_ms_p99": round(_percentile([r["ack_click"] for r in results], 99) * 1000, 1),
        "server_ack_ms_p99": round(_percentile(server, 99) * 1000, 1),
        "done_ms_p50": round(statistics.median(done) * 1000, 1),
        "done_ms_p99": round(_percentile(done, 99) * 1000, 1),
        "wall_s": round(wall, 2),
        "links_delivered": links,
        "bot_peak_rss_mib": round(rss, 1),
        "cpu_s": cpu,
        "bot_stderr_errors": sum("error" in line.lower() for line in err.decode().splitlines()),
    }


def workspace_ids(workspace: Workspace) -> list[str]:
    return sorted(uid for uid in workspace.users if uid.startswith("U0B"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    LATENCY = args.latency
    print(json.dumps(asyncio.run(main(args.users + 1, args.latency))))
