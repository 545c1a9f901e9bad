"""``helpdesk nudges --dry-run`` and ``--now``, as an operator runs them."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.nudges import LEASE_NAME, RunSummary
from bot.cli import main
from bot.nudges import ProgressBar
from sandboxes.slack import SlackState, run_slack_fake_in_thread
from store.db import Store
from store.leases import new_holder
from store.nudges import NudgeStore
from tests.nudges.helpers import IT_CHANNEL, workspace
from tests.nudges.helpers import Person as P

# In Slack: Ada, Bob (excluded by group), Cy; Dan has no Slack account.
PEOPLE = (P("ada", 5, "U0ADA00001"), P("bob", 2, "U0BOB00001"), P("cy", 12, "U0CY000001"),
          P("dan", 1, None), P("eve", 40, "U0EVE00001"))


def _config(tmp_path: Path, slack_url: str = "http://127.0.0.1:9/api/") -> Path:
    users = [
        {"email": "ada@example.com", "password_age_days": 85},
        {"email": "bob@example.com", "password_age_days": 88, "groups": ["no-nudge"]},
        {"email": "cy@example.com", "password_age_days": 78},
        {"email": "dan@example.com", "password_age_days": 89},
        {"email": "eve@example.com", "password_age_days": 10},
        {"email": "svc@example.com", "password_age_days": 89, "never_expires": True},
    ]
    cfg = {
        "organisation": {"it_channel": IT_CHANNEL},
        "slack": {"api_base_url": slack_url},
        "database_url": f"sqlite:///{tmp_path}/cli.sqlite3",
        "log_level": "WARNING",
        "connectors": {"mem": {"kind": "memory", "users": users}},
        "capabilities": {"groups": "mem", "password_reset": "mem", "password_expiry": "mem"},
        "nudges": {"timezone": "UTC", "exclude_groups": ["no-nudge"]},
    }
    path = tmp_path / "helpdesk.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_dry_run_prints_who_and_why_with_a_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path)
    assert main(["nudges", "--dry-run", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("would_nudge")]
    assert len(lines) == 3  # Ada, Cy, Dan: Slack is not asked without --check-slack
    ada = next(line for line in lines if "ada@example.com" in line)
    assert "(in 5 days); 7-day reminder" in ada
    assert "Password-expiry nudges, dry run: completed" in out
    assert "Scanned 4 · would nudge 3 · skipped 1 · failed 0" in out
    assert "Skipped: excluded group 1." in out
    assert "due settled" in err and "█" in err

    async def rows() -> int:
        store = await Store.open(f"sqlite:///{tmp_path}/cli.sqlite3")
        try:
            return len(await NudgeStore(store.engine).records())
        finally:
            await store.close()

    assert asyncio.run(rows()) == 0  # a dry run writes nothing


def test_dry_run_can_check_slack_and_list_skips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SlackState(workspace(PEOPLE))
    with run_slack_fake_in_thread(state) as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
        path = _config(tmp_path, fake.base_url)
        code = main(["nudges", "--dry-run", "--check-slack", "-v", "--json", "--no-progress",
                     "--config", str(path)])
        assert code == 0
        report = json.loads(capsys.readouterr().out)
        outcomes = {d["email"]: d["outcome"] for d in report["decisions"]}
        assert outcomes == {
            "ada@example.com": "would_nudge",
            "cy@example.com": "would_nudge",
            "bob@example.com": "excluded_group",
            "dan@example.com": "no_slack_account",
        }
        assert state.calls("chat.postMessage") == []


def test_now_runs_one_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # (A second run is in test_kill_resume: the memory connector here stamps each
    # password "changed N days ago" when it is built, so every process has new ones.)
    state = SlackState(workspace(PEOPLE))
    with run_slack_fake_in_thread(state) as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
        path = _config(tmp_path, fake.base_url)
        assert main(["nudges", "--now", "--no-progress", "--config", str(path)]) == 0
        out = capsys.readouterr().out
        assert "Password-expiry nudges, manual run: completed" in out
        assert "Scanned 4 · nudged 2 · skipped 2 · failed 0" in out
        assert {m.channel for m in state.all_messages() if m.channel != IT_CHANNEL} == {
            state.dm_id("U0ADA00001"), state.dm_id("U0CY000001")
        }
        [summary] = state.messages_to(IT_CHANNEL)
        assert "Skipped: excluded group 1, no slack account 1." in summary.visible_text


def test_now_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SlackState(workspace(PEOPLE))
    with run_slack_fake_in_thread(state) as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
        path = _config(tmp_path, fake.base_url)
        assert main(["nudges", "--now", "--json", "--no-progress", "--config", str(path)]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["status"] == "completed" and report["nudged"] == 2
        assert report["stats"]["slack"]["calls"]["chat.postMessage"] == 2  # the DMs


def test_now_while_another_replica_sweeps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-used")
    path = _config(tmp_path)

    async def hold() -> None:
        store = await Store.open(f"sqlite:///{tmp_path}/cli.sqlite3")
        try:
            # Another replica's sweep holds the sweep's lease (it looks like us: no matter).
            assert await store.leases.take(LEASE_NAME, new_holder(), timedelta(minutes=5))
        finally:
            await store.close()

    asyncio.run(hold())
    assert main(["nudges", "--now", "--no-progress", "--config", str(path)]) == 1
    assert "another replica is sweeping now" in capsys.readouterr().err


def test_now_needs_a_slack_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert main(["nudges", "--now", "--config", str(_config(tmp_path))]) == 2
    # Checked with every other secret before anything starts: one line naming it.
    assert capsys.readouterr().err == (
        "config error: slack.bot_token: environment variable SLACK_BOT_TOKEN is not set\n"
    )


def test_progress_bar_on_a_terminal_redraws_one_line() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = ProgressBar(stream, width=10)
    summary = RunSummary("r", "manual", None, True, datetime.now(UTC))
    summary.due, summary.settled, summary.scanned = 4, 1, 40
    bar.update(summary)
    summary.settled = 4
    bar.finish(summary)
    text: Any = stream.getvalue()
    assert text.startswith("\r[██░░░░░░░░] 1/4 due settled")
    assert "\r[██████████] 4/4 due settled · 40 expiring users scanned" in text
    assert text.endswith("\n") and text.count("\n") == 1


@pytest.mark.parametrize("mode", ["--dry-run", "--now"])
def test_a_directory_that_does_not_answer_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    monkeypatch.setenv("OKTA_API_TOKEN", "okta-test-token-0000")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-used")
    okta = {"kind": "okta", "org_url": "https://127.0.0.1:1", "max_attempts": 1,
            "connect_timeout": 2, "api_token": {"env": "OKTA_API_TOKEN"}}
    cfg = {"database_url": f"sqlite:///{tmp_path}/cli.sqlite3", "log_level": "ERROR",
           "slack": {"api_base_url": "http://127.0.0.1:9/api/"},
           "connectors": {"okta": okta}, "capabilities": {"password_expiry": "okta"},
           "nudges": {"it_channel": ""}}
    path = tmp_path / "helpdesk.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["nudges", mode, "--no-progress", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    # One line for the operator; the rest of stderr is the log's JSON lines.
    *logs, line = err.splitlines()
    assert line.startswith("nudges: could not run: okta: ") and "did not answer" in line
    assert all(json.loads(log)["level"] in ("warning", "error") for log in logs)
