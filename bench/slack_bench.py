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

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandboxes.okta import BENCH_TOKEN, OktaSandboxThread, generate_users  # noqa: E402
from sandboxes.okta.ratelimit import RateLimitConfig  # noqa: E402
from sandboxes.slack import (  # noqa: E402
    RateLimits,
    SlackEventSender,
    SlackState,
    Workspace,
    run_slack_fake_in_thread,
)

SECRET = "bench-signing-secret-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"bot exited with {proc.returncode}")
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("bot did not become healthy")


async def _wait_text(state: SlackState, uid: str, text: str) -> None:
    def seen(st: SlackState) -> bool:
        return any(text in m.visible_text for m in st.messages_to(uid))

    await state.wait_for(seen, 120, interval=0.02)


async def _one(sender: SlackEventSender, state: SlackState, uid: str) -> dict[str, float]:
    start = time.perf_counter()
    dm = await sender.dm(uid, "I forgot my password")
    await _wait_text(state, uid, "Go ahead?")
    click = await sender.block_action(uid, "hd_confirm.0")
    await _wait_text(state, uid, "password reset link")
    done = time.perf_counter() - start
    assert dm.status_code == 200 and click.status_code == 200, (dm.status_code, click.status_code)
    return {"ack_dm": dm.elapsed, "ack_click": click.elapsed, "done": done}


async def main(users: int, latency: float) -> dict[str, Any]:
    okta_state = generate_users(users, expiring_fraction=0.0)
    emails = [f"user{i + 1:06d}@example.com" for i in range(users)]
    known = {u.profile.get("email") for u in okta_state.users.values()}
    emails = [e for e in emails if e in known] or sorted(e for e in known if e.startswith("user"))
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
    okta_limits = RateLimitConfig.uniform(1_000_000)
    with (
        OktaSandboxThread(okta_state, rate_limits=okta_limits, latency=latency) as okta,
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
                    "org_url": okta.url,
                    "api_token": {"env": "OKTA_API_TOKEN"},
                    "ca_file": str(okta.ca_path),
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
            "OKTA_API_TOKEN": BENCH_TOKEN,
        }
        proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measured part
            [sys.executable, "-m", "bot.cli", "run", "--config", str(cfg_path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            await _wait_healthy(url, proc)
            async with SlackEventSender(SECRET, f"{url}/slack/events", state=slack_state) as s:
                await _one(s, slack_state, workspace_ids(workspace)[0])  # warm-up, not counted
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(_one(s, slack_state, uid) for uid in workspace_ids(workspace)[1:])
                )
                wall = time.perf_counter() - started
            rss = _peak_rss_mib(proc.pid)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
    acks = [r["ack_dm"] for r in results] + [r["ack_click"] for r in results]
    done = [r["done"] for r in results]
    links = sum(
        1
        for uid in workspace_ids(workspace)
        if any("password reset link" in m.visible_text for m in slack_state.messages_to(uid))
    )
    return {
        "bench": "slack_self_service",
        "employees": len(results),
        "okta_latency_s": latency,
        "ack_ms_p50": round(statistics.median(acks) * 1000, 1),
        "ack_ms_p99": round(_percentile(acks, 99) * 1000, 1),
        "ack_ms_max": round(max(acks) * 1000, 1),
        "ack_dm_ms_p99": round(_percentile([r["ack_dm"] for r in results], 99) * 1000, 1),
        "ack_click_ms_p99": round(_percentile([r["ack_click"] for r in results], 99) * 1000, 1),
        "done_ms_p50": round(statistics.median(done) * 1000, 1),
        "done_ms_p99": round(_percentile(done, 99) * 1000, 1),
        "wall_s": round(wall, 2),
        "links_delivered": links,
        "bot_peak_rss_mib": round(rss, 1),
        "bot_stderr_errors": sum("error" in line.lower() for line in err.decode().splitlines()),
    }


def workspace_ids(workspace: Workspace) -> list[str]:
    return sorted(uid for uid in workspace.users if uid.startswith("U0B"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.users + 1, args.latency))))
