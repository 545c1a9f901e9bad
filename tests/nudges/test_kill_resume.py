"""``helpdesk nudges --now`` SIGKILLed mid-sweep, then run again: nobody twice, nobody missed.

The real thing end to end: the Okta connector against the Okta sandbox (status filter
on the server, age checked locally), the Slack fake with a little latency on
``chat.postMessage`` so that the kill lands with messages in flight, and the sweep
in its own process. Nobody guesses that the killed sweeper is dead: the next run is
refused until its lease runs out, then waits out its last requests and resumes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from sandboxes.okta import BENCH_TOKEN, OktaSandboxThread, generate_users
from sandboxes.slack import Limit, Rule, SlackState, Workspace, run_slack_fake_in_thread
from tests.nudges.helpers import BOT_USER, IT_CHANNEL, is_nudge

ROOT = Path(__file__).resolve().parents[2]
FAST = {"per_minute": 3000, "burst": 20}


def _slow_posts(method: str) -> float:
    return 0.03 if method == "chat.postMessage" else 0.0


def _workspace(emails: list[str]) -> Workspace:
    return Workspace.from_dict(
        {
            "app": {"id": "A0HELPDESK1", "bot_id": "B0HELPDESK1", "bot_user_id": BOT_USER,
                    "name": "helpdesk"},
            "users": [
                {"id": f"U{i:09d}", "name": f"u{i}", "profile": {"email": email}}
                for i, email in enumerate(emails)
            ],
            "channels": [{"id": IT_CHANNEL, "name": "it-help", "members": [BOT_USER]}],
        }
    )


def _sweep(config: Path, token: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OKTA_TEST_TOKEN": BENCH_TOKEN,
           "SLACK_BOT_TOKEN": token}
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "nudges", "--now", "--json", "--no-progress",
         "--config", str(config)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_a_killed_sweep_is_resumed_exactly_once(tmp_path: Path) -> None:
    org = generate_users(240, expiring_fraction=0.5, seed=3)
    now = datetime.now(UTC)
    last_day = now.date() + timedelta(days=14)
    expected: set[str] = set()
    emails: list[str] = []
    for user in org.users.values():
        email = str(user.profile["email"])
        emails.append(email)
        changed = user.password_changed
        if changed is not None and email.startswith("user"):
            expires = changed + timedelta(days=90)
            if now < expires and expires.date() <= last_day:
                expected.add(email)
    assert 80 < len(expected) < 160
    state = SlackState(_workspace(emails))
    slack_of = {email: f"U{i:09d}" for i, email in enumerate(emails)}
    tiers = {"chat.postMessage": Rule(Limit(3000, burst=20))}
    with (
        OktaSandboxThread(org) as okta,
        run_slack_fake_in_thread(state, tiers=tiers, latency=_slow_posts) as fake,
    ):
        config: dict[str, Any] = {
            "organisation": {"it_channel": IT_CHANNEL},
            "slack": {"api_base_url": fake.base_url},
            "database_url": f"sqlite:///{tmp_path}/kill.sqlite3",
            "log_level": "WARNING",
            "connectors": {"okta": {"kind": "okta", "org_url": okta.url,
                                    "api_token": {"env": "OKTA_TEST_TOKEN"},
                                    "ca_file": str(okta.ca_path)}},
            "capabilities": {"password_reset": "okta", "password_expiry": "okta"},
            "nudges": {"timezone": "UTC", "lease": "6s", "request_timeout": "3s",
                       "rate_limits": {"post_message": FAST}},
        }
        path = tmp_path / "helpdesk.yaml"
        path.write_text(yaml.safe_dump(config))

        def sent() -> int:
            return sum(1 for m in state.all_messages() if is_nudge(m))

        first = _sweep(path, fake.token)
        deadline = time.monotonic() + 60
        while sent() < len(expected) // 2:
            assert first.poll() is None, first.communicate()[1][-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.005)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)  # waits, and closes its pipes
        halfway = sent()
        assert halfway < len(expected)

        # While the killed sweep's lease runs (on the database's clock), a sweep is
        # refused as if another replica were sweeping; then it runs and resumes.
        refused = 0
        while True:
            second = _sweep(path, fake.token)
            out, err = second.communicate(timeout=120)
            if "another replica is sweeping now" not in err:
                break
            assert second.returncode == 1 and refused < 20, err[-2000:]
            refused += 1
            time.sleep(0.5)
        assert second.returncode == 0, err[-2000:]
        import json

        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["status"] == "completed"
        assert summary["skipped"].get("already_nudged", 0) >= halfway - 20

        per_marker: Counter[str] = Counter()
        per_person: Counter[str] = Counter()
        for message in state.all_messages():
            if is_nudge(message):
                assert message.blocks is not None
                per_marker[message.blocks[0]["block_id"]] += 1
                per_person[state.dm_owner(message.channel) or ""] += 1
        assert max(per_marker.values()) == 1, "a nudge went out twice"
        assert set(per_person) == {slack_of[e] for e in expected}, "someone was missed"
        assert sum(per_person.values()) == len(expected)
