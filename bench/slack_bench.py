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
time-to-done (DM sent -> reset link delivered to the fake Slack) p50/p99, the
bot's idle RSS (started, nothing asked yet) and peak RSS (both processes; idle PSS too,
which counts the pages the two share once, as the container's memory does),
``answered``/``lost``/``duplicates``, and ``bound_s``: the shortest time in which the
Slack fake's limits (Slack's published tiers unless ``--limits unlimited``) allow every
answer. An answer not there within
``patience_s`` (two minutes, or 1.5 x ``bound_s`` if longer) is lost.

``--kill-after SECONDS``: that long into the burst the bot (and its ingress process) is
SIGKILLed and started again on the same store, as a crashed replica's restart would be.
Requests it had acknowledged wait in its inbox, messages it had stored in its outbox;
an employee whose click found it down clicks again a second later. Still counted: every
answer once (``lost``, ``duplicates``); the peak RSS is then the restarted process's.

    python bench/slack_bench.py [--employees 500] [--latency 0.05] [--kill-after 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvloop
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    RawPoster,
    cpu_s,
    free_port,
    peak_rss_mib,
    percentile,
    pss_mib,
    quiet_collector,
    rss_mib,
    wait_healthy,
)
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
IDLE_SETTLE_S = 3.0  # after /healthz answers, before the idle RSS is read
PROFILE: list[str] = os.environ.get("HELPDESK_BENCH_PROFILE", "").split() or []


# The Slack fake's limits: Slack's published tiers unless `--limits unlimited` asks for none
# (a figure measured without them hides exactly the failures a workspace meets).
PUBLISHED = RateLimits.slack()
DATABASE = [""]  # --database: the bot's database URL (empty: SQLite in a temporary folder)
SLACK_TIERS: list[RateLimits] = [PUBLISHED]

OKTA_PID: list[int] = [0]
KILL_AFTER: list[float | None] = [None]  # --kill-after


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
                if not call.ok:  # a 429: nothing was posted
                    continue
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
POSTS = 3  # chat.postMessage per answer: the prompt, the change notice's DM, the link
MARKERS = (PROMPT, LINK)


# How long an employee waits for their reset link before the answer counts as lost: two
# minutes, or 1.5 times the shortest time the fake's limits allow for the whole burst.
PATIENCE = [120.0]


def _bound_s(tiers: RateLimits, employees: int) -> float:
    """The shortest time in which the fake's limits let every employee be answered.

    Each answer costs three ``chat.postMessage`` (the prompt, the change notice's DM
    with its "This wasn't me" link, then the reset link; the prompt is updated through
    the click's response_url, which no tier limits), all in the employee's DM: the
    workspace-wide bucket and each DM's own bucket bound the burst.
    """
    bound = 0.0
    for rule in tiers.rules.get("chat.postMessage", ()):
        calls = POSTS * employees if rule.scope == "workspace" else POSTS
        rate = rule.limit.per_minute / 60
        if rate > 0:
            bound = max(bound, max(0.0, calls - rule.limit.capacity) / rate)
    return bound


async def _again(send: Any) -> Any:
    """Send until the bot answers: while it is down (``--kill-after``) the connection is
    refused; the employee tries again a second later, as one clicks again."""
    for _ in range(int(PATIENCE[0])):
        try:
            return await send()
        except OSError:
            if KILL_AFTER[0] is None:
                raise
            await asyncio.sleep(1.0)
    return await send()


async def _one(sender: SlackEventSender, watcher: Watcher, uid: str) -> dict[str, float]:
    start = time.perf_counter()
    prompt, link = watcher.expect(uid, PROMPT), watcher.expect(uid, LINK)
    dm = await _again(lambda: sender.dm(uid, "I forgot my password"))
    await asyncio.wait_for(prompt, PATIENCE[0])
    click = await _again(lambda: sender.block_action(uid, "hd_confirm.0"))
    await asyncio.wait_for(link, max(1.0, PATIENCE[0] - (time.perf_counter() - start)))
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
    port = free_port()
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
        quiet_collector()
        sent = await asyncio.gather(
            *(sender.dm(f"U0F{i:07d}", "I forgot my password") for i in range(users))
        )
        acks = [float(d.response.headers["x-bench-ack-s"]) for d in sent]
        return {
            "floor_ack_ms_p50": round(statistics.median(acks) * 1000, 1),
            "floor_ack_ms_p99": round(percentile(acks, 99) * 1000, 1),
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
    bound = _bound_s(SLACK_TIERS[0], users - 1)
    PATIENCE[0] = max(120.0, 1.5 * bound)
    with (
        run_slack_fake_in_thread(slack_state, tiers=SLACK_TIERS[0]) as slack,
        tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as tmp,
    ):
        port = free_port()
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
                # The bot paces itself by the budgets it is given: with the fake's limits
                # off, so are its own (else the bot, not the fake, sets the pace).
                **({} if SLACK_TIERS[0] is PUBLISHED else {"rate_limit_factor": 1000.0}),
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
            # As deployed: a configured outbox key, so a restarted bot reads what it stored.
            "HELPDESK_OUTBOX_KEY": "bench-outbox-key-0123456789abcdef",
        }
        command = [sys.executable, *PROFILE, "-m", "bot.cli", "run", "--config", str(cfg_path)]
        proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measured part
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        bot = [proc]
        killing: asyncio.Task[None] | None = None
        try:
            await wait_healthy(url, proc)
            # Idle: started, migrated, the directory read; nothing asked yet.
            await asyncio.sleep(IDLE_SETTLE_S)
            idle_rss = rss_mib(proc.pid) + sum(rss_mib(pid) for pid in child_pids(proc.pid))
            idle_pss = pss_mib(proc.pid) + sum(pss_mib(pid) for pid in child_pids(proc.pid))
            http = RawPoster()
            async with http, SlackEventSender(
                SECRET, f"{url}/slack/events", state=slack_state, client=http  # type: ignore[arg-type]
            ) as s:
                watcher = Watcher(slack_state)
                watching = asyncio.create_task(watcher.run())
                await _one(s, watcher, workspace_ids(workspace)[0])  # warm-up, not counted
                http.hold(users - 1)  # the 500 DMs go out together
                quiet_collector()
                started = time.perf_counter()
                if KILL_AFTER[0] is not None:
                    killing = asyncio.create_task(
                        _kill_and_restart(bot, command, env, url, KILL_AFTER[0])
                    )
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
                if killing is not None:
                    await killing
            proc = bot[-1]
            ingress = child_pids(proc.pid)
            rss = peak_rss_mib(proc.pid)
            ingress_rss = sum(peak_rss_mib(pid) for pid in ingress)
            cpu = {"bot": cpu_s(proc.pid), "bot_ingress": sum(cpu_s(p) for p in ingress),
                   "bench+slack_fake": cpu_s(os.getpid()), "okta_sandbox": cpu_s(OKTA_PID[0])}
        finally:
            proc = bot[-1]
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        outbox = _outbox_rows(DATABASE[0] or f"{tmp}/bench.sqlite3")
    duplicates = sum(
        max(0, sum(marker in m.visible_text for m in slack_state.messages_to(uid)) - 1)
        for uid in workspace_ids(workspace)
        for marker in MARKERS
    )
    if not results:
        return {"bench": "slack_self_service", "employees": users - 1, "answered": 0,
                "lost": lost, "duplicates": duplicates, "bound_s": round(bound, 2),
                "wall_s": round(wall, 2)}
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
        "duplicates": duplicates,
        "patience_s": round(PATIENCE[0], 1),
        "slack_limits": "unlimited" if SLACK_TIERS[0] is not PUBLISHED else "published",
        "killed_after_s": KILL_AFTER[0],

        "ack_ms_p50": round(statistics.median(acks) * 1000, 1),
        "ack_ms_p99": round(percentile(acks, 99) * 1000, 1),
        "ack_ms_max": round(max(acks) * 1000, 1),
        "ack_dm_ms_p50": round(statistics.median([r["ack_dm"] for r in results]) * 1000, 1),
        "ack_dm_ms_p99": round(percentile([r["ack_dm"] for r in results], 99) * 1000, 1),
        "ack_click_ms_p99": round(percentile([r["ack_click"] for r in results], 99) * 1000, 1),
        "server_ack_ms_p99": round(percentile(server, 99) * 1000, 1),
        "done_ms_p50": round(statistics.median(done) * 1000, 1),
        "done_ms_p99": round(percentile(done, 99) * 1000, 1),
        "wall_s": round(wall, 2),
        "bound_s": round(bound, 2),
        "wall_over_bound": round(wall / bound, 3) if bound else None,
        "links_delivered": links,
        # 429s the fake answered (each then waited out and sent again by the bot's client).
        "slack_429s": sum(c.status == 429 for c in slack_state.calls()),
        "slack_calls": _calls_by_method(slack_state),
        "bot_idle_rss_mib": round(idle_rss, 1),
        "bot_idle_pss_mib": round(idle_pss, 1),
        "bot_peak_rss_mib": round(rss + ingress_rss, 1),
        "bot_work_peak_rss_mib": round(rss, 1),
        "bot_ingress_peak_rss_mib": round(ingress_rss, 1),
        "cpu_s": cpu,
        "bot_stderr_errors": sum("error" in line.lower() for line in err.decode().splitlines()),
        "bot_stderr_sample": [
            line[:400] for line in err.decode().splitlines() if "error" in line.lower()
        ][:3],
        "slack_errors": sorted({f"{c.method}:{c.error}" for c in slack_state.calls() if c.error}),
        "outbox_rows": outbox,
    }


async def _kill_and_restart(
    bot: list[subprocess.Popen[bytes]], command: list[str], env: dict[str, str], url: str,
    after: float,
) -> None:
    """SIGKILL the bot and its ingress ``after`` seconds into the burst; start it again."""
    await asyncio.sleep(after)
    victim = bot[-1]
    children = child_pids(victim.pid)
    victim.send_signal(signal.SIGKILL)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    await asyncio.to_thread(victim.wait)
    restarted = subprocess.Popen(  # noqa: ASYNC220 - the crash's restart
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    bot.append(restarted)
    await wait_healthy(url, restarted)


def _outbox_rows(database: str) -> dict[str, int]:
    """The outbox's rows by state (and last note) at the end, when the store is SQLite."""
    if "://" in database and not database.startswith("sqlite"):
        return {}
    import sqlite3

    with contextlib.closing(sqlite3.connect(database.split("///")[-1])) as db:
        rows = db.execute(
            "SELECT state, coalesce(last_error, ''), count(*) FROM jobs WHERE kind = 'outbox' "
            "GROUP BY 1, 2"
        ).fetchall()
    return {f"{state}:{note}" if note else state: n for state, note, n in rows}


def _calls_by_method(state: SlackState) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in state.calls():
        counts[call.method] = counts.get(call.method, 0) + 1
    return counts


def workspace_ids(workspace: Workspace) -> list[str]:
    return sorted(uid for uid in workspace.users if uid.startswith("U0B"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", "--employees", dest="users", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--database", default="",
                        help="the bot's database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--limits", choices=("published", "unlimited"), default="published",
                        help="the Slack fake's rate limits (default: Slack's published tiers)")
    parser.add_argument("--kill-after", type=float, default=None, metavar="SECONDS",
                        help="SIGKILL the bot this long into the burst and start it again")
    args = parser.parse_args()
    KILL_AFTER[0] = args.kill_after
    if args.limits == "unlimited":
        SLACK_TIERS[0] = RateLimits.unlimited()
    LATENCY = args.latency
    DATABASE[0] = args.database
    # uvloop, and the GIL handed over every 0.5 ms instead of 5: the fake Slack serving the
    # bot runs on a thread of this process, and the sender's own delays are part of every
    # time measured.
    sys.setswitchinterval(0.0005)
    print(json.dumps(uvloop.run(main(args.users + 1, args.latency))))
