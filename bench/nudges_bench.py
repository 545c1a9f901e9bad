"""A full password-expiry nudge sweep against rate-limited Okta and Slack, then a killed one.

    python bench/nudges_bench.py [--users 100000] [--expiring 10000] [--scale 1.0]
                                 [--okta-rate 600] [--scenarios full,kill] [--kill-at 0.5]

The Okta sandbox runs in its own process (this script, ``--serve-okta``), seeded with
``--users`` people of whom exactly ``--expiring`` have a password expiring within 14
days, every rate-limit bucket at ``--okta-rate`` requests a minute. Besides them: 1%
service accounts under a never-expire password policy (old passwords, never nudged),
1% in the excluded group ``nudge-exempt``, and 2% of people without a Slack account.
The Slack fake runs in this process at Slack's documented tiers (``RateLimits.slack()``:
``users.list`` Tier 2, ``users.lookupByEmail`` and ``conversations.*`` (``history``
included) Tier 3, ``chat.postMessage`` 1/s per channel burst 3 and the fake's stand-in
workspace limit of 300/min burst 60).
Each sweep is ``helpdesk nudges --now`` in a child process, exactly as an operator
would run it. ``--scale 0.1`` divides the people by ten (the rates stay documented);
``NUDGES_BENCH_SCALE`` sets the default scale (``make bench`` runs whatever it says).

Scenarios (each on a fresh Slack workspace and a fresh store):

* ``full``: one sweep, start to end;
* ``kill``: a sweep SIGKILLed once ``--kill-at`` of the expected nudges are out, then a
  second sweep started at once, and again every second while it is refused (nobody
  guesses that the killed sweeper is dead: its lease has to run out), which resumes it.
  The resumed sweep's figures are those of the run that was not refused.

Time: the documented limits are the point, so a run takes what they allow. At the
issue's figures (100,000 people, 10,000 expiring) one sweep is bound by
``chat.postMessage`` at about 33 minutes, and both scenarios take about 70 minutes;
``--scale 0.1`` takes about 6.5 minutes (``NUDGES_BENCH_SCALE=0.1 make bench``).

Reported per sweep (stdout, one JSON object per scenario): ``wall_s`` (process start
to exit), ``lower_bound_s`` and ``ratio`` = ``wall_s / lower_bound_s``. The bound is
what the documented limits force for the requests that sweep made: for every API,
``(requests - burst) / rate`` (token buckets: Slack; with Okta's fixed per-minute
windows ``(ceil(requests / budget) - 1) * 60`` minus a whole minute of phase), and the
largest of those. A Slack bucket starts full on a fresh workspace; for the sweep that
resumes a killed one it starts where the killed one left it (replayed from the fake's
recorded calls). Each API is counted on its own, ignoring that a nudge can only go
out after its person is found: a true bound can only be higher, so the ratio errs high.
Then ``nudges`` (DMs posted), ``expected`` (worked out here from the seeded org, not
from the sweep), ``missing``, ``unexpected``, ``duplicates`` (must all be 0), and
``http_429`` seen per API with how many were ``recovered`` (the same request later
answered).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.nudges_bounds import (  # noqa: E402
    calls_between,
    okta_bound,
    recovered_429s,
    slack_bound,
)
from sandboxes.okta import BENCH_TOKEN, RateLimitConfig, generate_users, run_okta_sandbox  # noqa: E402
from sandboxes.slack import (  # noqa: E402
    SlackState,
    Workspace,
    run_slack_fake_in_thread,
)

IT_CHANNEL = "C0ITHELP001"
BOT_USER = "U0HELPBOT1"
WINDOW_DAYS = 14
MAX_AGE_DAYS = 90
NUDGE_PREFIX = "hd_nudge."


# -- the org --------------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_scale = float(os.environ.get("NUDGES_BENCH_SCALE", "1.0"))
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--expiring", type=int, default=10_000)
    parser.add_argument("--scale", type=float, default=default_scale)
    parser.add_argument("--okta-rate", type=int, default=600, help="per minute, every bucket")
    parser.add_argument("--no-slack", type=float, default=0.02, help="fraction without Slack")
    parser.add_argument("--excluded", type=float, default=0.01, help="fraction in nudge-exempt")
    parser.add_argument("--service", type=float, default=0.01, help="never-expire accounts")
    parser.add_argument("--scenarios", default="full,kill")
    parser.add_argument("--kill-at", type=float, default=0.5)
    parser.add_argument("--slack-lookup", default="auto",
                        choices=("auto", "users_list", "lookup_by_email"))
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--serve-okta", metavar="FACTS", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def build_org(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The Okta org and the facts the verdict is computed from (ids, emails, expiries)."""
    state = generate_users(0)  # the bench org: admin, token, the 90-day default policy
    service = state.add_group("service-accounts", "Passwords never expire")
    # Okta evaluates the default policy last: it moves to priority 2 behind this one.
    for policy in state.policies_of_type("PASSWORD"):
        policy.priority += 1
    state.add_password_policy(
        "Service accounts", max_age_days=0, priority=1, group_ids=[service.id]
    )
    exempt = state.add_group("nudge-exempt", "Never nudged")
    rng = random.Random(args.seed)
    now = state.now()
    people = range(args.users)
    expiring = set(rng.sample(people, args.expiring))
    others = [i for i in people if i not in expiring]
    services = set(rng.sample(others, round(args.service * args.users)))
    exempted = set(rng.sample(people, round(args.excluded * args.users)))
    users: list[list[Any]] = []
    for index in people:
        if index in expiring:
            expires = now + timedelta(seconds=rng.uniform(2 * 3600, (WINDOW_DAYS * 24 - 2) * 3600))
        elif index in services:
            expires = now + timedelta(days=rng.uniform(0.5, 10))  # old, but never expires
        else:
            expires = now + timedelta(days=rng.uniform(WINDOW_DAYS + 2, MAX_AGE_DAYS - 1))
        email = f"user{index:06d}@example.com"
        user = state.add_user(
            {"login": email, "email": email, "firstName": "User", "lastName": f"{index:06d}"},
            created=now - timedelta(days=400),
            password_changed=expires - timedelta(days=MAX_AGE_DAYS),
        )
        if index in services:
            state.add_member(service.id, user.id)
        if index in exempted:
            state.add_member(exempt.id, user.id)
        users.append(
            [user.id, email, expires.isoformat(), index in services, index in exempted]
        )
    return state, {"generated_at": now.isoformat(), "users": users}


def _write(path: str, text: str) -> None:
    Path(path).write_text(text)


async def _serve_okta(args: argparse.Namespace) -> None:
    state, facts = build_org(args)
    _write(args.serve_okta, json.dumps(facts))
    limits = RateLimitConfig.uniform(args.okta_rate)
    async with run_okta_sandbox(state, rate_limits=limits) as sandbox:
        print(f"OKTA_SANDBOX_URL={sandbox.url}", flush=True)
        print(f"OKTA_SANDBOX_CA={sandbox.ca_path}", flush=True)
        await asyncio.Event().wait()


OktaProcess = tuple[subprocess.Popen[str], dict[str, str], dict[str, Any]]


def start_okta(args: argparse.Namespace, work: Path, log: IO[str]) -> OktaProcess:
    facts_path = work / "org.json"
    command = [
        sys.executable, __file__, "--serve-okta", str(facts_path),
        "--users", str(args.users), "--expiring", str(args.expiring), "--scale", "1",
        "--okta-rate", str(args.okta_rate), "--excluded", str(args.excluded),
        "--service", str(args.service), "--seed", str(args.seed),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log,
                               text=True)
    found: dict[str, str] = {}
    assert process.stdout is not None
    while len(found) < 2:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the Okta sandbox exited ({process.wait(5)}); see {log.name}")
        key, _, value = line.strip().partition("=")
        found[key] = value
    return process, found, json.loads(facts_path.read_text())


# -- Slack -------------------------------------------------------------------------------


def slack_people(facts: dict[str, Any], args: argparse.Namespace) -> dict[str, str]:
    """Email → Slack id for everyone who has a Slack account."""
    rng = random.Random(args.seed + 1)
    found: dict[str, str] = {}
    for index, row in enumerate(facts["users"]):
        if rng.random() >= args.no_slack:
            found[row[1]] = f"U{index:09d}"
    return found


def workspace(people: dict[str, str]) -> Workspace:
    users = [
        {"id": uid, "name": email.split("@")[0], "profile": {"email": email}}
        for email, uid in people.items()
    ]
    return Workspace.from_dict(
        {
            "team": {"id": "T0BENCH001", "name": "Bench", "domain": "bench"},
            "app": {"id": "A0HELPDESK1", "bot_id": "B0HELPDESK1", "bot_user_id": BOT_USER,
                    "name": "helpdesk"},
            "users": users,
            "channels": [{"id": IT_CHANNEL, "name": "it-help", "members": [BOT_USER]}],
        }
    )


def expected_nudges(facts: dict[str, Any], people: dict[str, str], at: datetime) -> set[str]:
    """Slack ids that must get one nudge from a sweep deciding at ``at`` (zone UTC)."""
    last_day = at.date() + timedelta(days=WINDOW_DAYS)
    found: set[str] = set()
    for _uid, email, expires_iso, service, exempt in facts["users"]:
        expires = datetime.fromisoformat(expires_iso)
        if service or exempt or email not in people:
            continue
        if at < expires and expires.astimezone(UTC).date() <= last_day:
            found.add(people[email])
    return found


# -- one sweep ------------------------------------------------------------------------------


@dataclass
class Sweep:
    """One ``helpdesk nudges --now`` process."""

    started: float
    ended: float = 0.0
    wall_started: float = 0.0
    wall_ended: float = 0.0
    killed: bool = False
    refused: bool = False  # another sweep (the killed one's lease) was still running
    summary: dict[str, Any] = field(default_factory=dict)
    code: int | None = None

    @property
    def wall_s(self) -> float:
        return self.ended - self.started


def config_yaml(work: Path, okta: dict[str, str], slack_url: str, args: argparse.Namespace) -> Path:
    import yaml

    cfg = {
        "organisation": {"it_channel": IT_CHANNEL},
        "slack": {"api_base_url": slack_url, "bot_token": {"env": "SLACK_BOT_TOKEN"}},
        "database_url": f"sqlite:///{work}/bench.sqlite3",
        "log_level": "WARNING",
        "connectors": {
            "okta": {
                "kind": "okta",
                "org_url": okta["OKTA_SANDBOX_URL"],
                "api_token": {"env": "OKTA_BENCH_TOKEN"},
                "ca_file": okta["OKTA_SANDBOX_CA"],
            }
        },
        "capabilities": {"groups": "okta", "password_reset": "okta", "password_expiry": "okta"},
        "nudges": {
            "timezone": "UTC",
            "exclude_groups": ["nudge-exempt"],
            "slack_lookup": args.slack_lookup,
            "lease": "30s",
        },
    }
    path = work / "helpdesk.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def spawn(cfg: Path, token: str, log: IO[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OKTA_BENCH_TOKEN": BENCH_TOKEN,
           "SLACK_BOT_TOKEN": token}
    command = [sys.executable, "-m", "bot.cli", "nudges", "--now", "--json", "--no-progress",
               "--config", str(cfg)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log,
                            text=True)


def nudges_out(state: SlackState) -> int:
    return sum(
        1 for c in state.calls("chat.postMessage")
        if c.status == 200 and c.params.get("channel") != IT_CHANNEL and c.response.get("ok")
    )


def run_sweep(cfg: Path, state: SlackState, token: str, log: IO[str], *,
              kill_after: int | None = None) -> Sweep:
    sweep = Sweep(time.perf_counter(), wall_started=time.time())
    process = spawn(cfg, token, log)
    last_report = time.monotonic()
    while process.poll() is None:
        # Counting reads every recorded call: often enough to stop near the mark, rarely
        # enough not to take the GIL from the fake serving on its thread.
        time.sleep(0.25)
        sent = nudges_out(state) if kill_after is not None or time.monotonic() - last_report > 30 \
            else -1
        if kill_after is not None and sent >= kill_after:
            process.send_signal(signal.SIGKILL)
            sweep.killed = True
            break
        if sent >= 0 and time.monotonic() - last_report > 30:
            last_report = time.monotonic()
            print(f"  ... {sent:,} nudges out after {time.perf_counter() - sweep.started:,.0f}s",
                  file=sys.stderr)
    sweep.code = process.wait()
    sweep.ended = time.perf_counter()
    sweep.wall_ended = time.time()
    assert process.stdout is not None
    output = process.stdout.read().strip().splitlines()
    if output and not sweep.killed:
        sweep.summary = json.loads(output[-1])
    # ``--now`` exits 1 without a report when another sweep holds the lease.
    sweep.refused = not sweep.killed and sweep.code == 1 and not output
    return sweep


# -- the verdict --------------------------------------------------------------------------------


def verdict(state: SlackState, expected: set[str]) -> dict[str, Any]:
    per_marker: Counter[str] = Counter()
    per_person: Counter[str] = Counter()
    for message in state.all_messages():
        markers = [b.get("block_id", "") for b in message.blocks or ()
                   if str(b.get("block_id", "")).startswith(NUDGE_PREFIX)]
        if markers:
            per_marker[markers[0]] += 1
            owner = state.dm_owner(message.channel)
            per_person[owner or message.channel] += 1
    nudged = set(per_person)
    return {
        "nudges": sum(per_person.values()),
        "expected": len(expected),
        "missing": len(expected - nudged),
        "unexpected": len(nudged - expected),
        "duplicates": sum(n - 1 for n in per_marker.values() if n > 1),
        "people_with_two_or_more": sum(1 for n in per_person.values() if n > 1),
    }


def sweep_report(sweep: Sweep, state: SlackState, args: argparse.Namespace) -> dict[str, Any]:
    calls = calls_between(state, sweep.wall_started, sweep.wall_ended)
    report: dict[str, Any] = {"wall_s": round(sweep.wall_s, 2), "killed": sweep.killed,
                              "exit_code": sweep.code}
    if sweep.killed:
        report["nudges_before_kill"] = sum(
            1 for c in calls if c.method == "chat.postMessage" and c.status == 200
            and c.params.get("channel") != IT_CHANNEL
        )
        return report
    bounds = {
        **slack_bound(state, sweep.wall_started, sweep.wall_ended),
        **okta_bound(sweep.summary, args.okta_rate),
    }
    lower = max(bounds.values(), default=0.0)
    summary = sweep.summary
    slack = summary.get("stats", {}).get("slack", {})
    okta = (summary.get("stats", {}).get("directory", {}) or {}).get("okta", {}) or {}
    report.update(
        lower_bound_s=round(lower, 2),
        binding=max(bounds, key=lambda k: bounds[k]) if bounds else None,
        bounds_s={k: round(v, 2) for k, v in sorted(bounds.items())},
        ratio=round(sweep.wall_s / lower, 3) if lower > 0 else None,
        sweep_seconds=summary.get("seconds"),
        status=summary.get("status"),
        scanned=summary.get("scanned"),
        nudged=summary.get("nudged"),
        skipped=summary.get("skipped"),
        failed=summary.get("failed"),
        recovered_from_crash=summary.get("recovered"),
        requests={
            "slack": dict(Counter(c.method for c in calls if c.status != 429)),
            "okta": okta.get("by_bucket", {}),
        },
        http_429={
            "slack": recovered_429s(calls),
            "okta": {"seen": okta.get("rate_limited", 0), "retried": okta.get("retries", 0)},
        },
        users_list_pages=slack.get("users_list_pages"),
        cached_directory_entries=slack.get("cached_directory_entries"),
    )
    return report


def scenario(name: str, args: argparse.Namespace, okta: dict[str, str], facts: dict[str, Any],
             people: dict[str, str], work: Path, log: IO[str]) -> dict[str, Any]:
    folder = work / name
    folder.mkdir()
    state = SlackState(workspace(people))
    with run_slack_fake_in_thread(state) as fake:
        cfg = config_yaml(folder, okta, fake.base_url, args)
        print(f"== {name}: sweeping", file=sys.stderr)
        first_at = datetime.now(UTC)
        expected = expected_nudges(facts, people, first_at)
        report: dict[str, Any] = {"scenario": name}
        if name == "full":
            sweep = run_sweep(cfg, state, fake.token, log)
            report["sweep"] = sweep_report(sweep, state, args)
        else:
            kill_after = max(1, int(len(expected) * args.kill_at))
            killed = run_sweep(cfg, state, fake.token, log, kill_after=kill_after)
            report["killed_sweep"] = sweep_report(killed, state, args)
            print(f"== {name}: killed after {killed.wall_s:.1f}s; resuming", file=sys.stderr)
            resumed = run_sweep(cfg, state, fake.token, log)
            while resumed.refused:
                time.sleep(1.0)
                resumed = run_sweep(cfg, state, fake.token, log)
            report["resumed_sweep"] = sweep_report(resumed, state, args)
        report["verdict"] = verdict(state, expected)
        return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scenarios; print one JSON line each; exit 1 on any wrong nudge."""
    args = _parse(argv)
    if args.serve_okta:
        asyncio.run(_serve_okta(args))
        return 0
    args.users = max(1, round(args.users * args.scale))
    args.expiring = max(1, round(args.expiring * args.scale))
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="nudges-bench-"))
    ok = True
    with open(work / "bench.log", "w") as log:
        print(f"building an org of {args.users:,} ({args.expiring:,} expiring)", file=sys.stderr)
        okta_process, okta, facts = start_okta(args, work, log)
        try:
            people = slack_people(facts, args)
            for name in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
                report = scenario(name, args, okta, facts, people, work, log)
                report.update(
                    users=args.users, expiring=args.expiring, scale=args.scale,
                    okta_rate_per_min=args.okta_rate, slack_lookup=args.slack_lookup,
                    slack_tiers="RateLimits.slack() (documented; postMessage workspace "
                    "300/min burst 60 is the fake's stand-in)",
                )
                print(json.dumps(report), flush=True)
                v = report["verdict"]
                ok = ok and v["missing"] == v["unexpected"] == v["duplicates"] == 0
        finally:
            okta_process.terminate()
            try:
                okta_process.wait(15)
            except subprocess.TimeoutExpired:
                okta_process.kill()
    print(f"bench took {time.perf_counter() - started:,.0f}s; work folder {work}", file=sys.stderr)
    if not args.keep and ok:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
