"""Every subcommand turns an operator's mistake into one clear line and exit 2, never a traceback.

The faults: a missing secret, an unreadable file, a bad configuration and an unreachable
server, each given to every subcommand it can reach. ``helpdesk doctor`` is the command
that diagnoses secrets and servers: for those two it prints its report and exits 1
("problems found"), still without a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = str(ROOT / "config" / "helpdesk.yaml")
SLACK = {"SLACK_BOT_TOKEN": "xoxb-test-000000", "SLACK_SIGNING_SECRET": "signing-test-000"}

BAD = (
    "connectors: {m: {kind: memory}}\n"
    "password_reset: {delivry: link}\n"
    "slack: {bot_token: xoxb-pasted-here}\n"
)
UNREACHABLE = (
    "database_url: postgresql://postgres@127.0.0.1:1/nowhere\n"
    "connectors: {m: {kind: memory}}\n"
    "capabilities: {password_expiry: m, password_reset: m}\n"
)

# (command line, extra environment) per subcommand; {config} is replaced by the file.
COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "run": (["run", "--config", "{config}"], SLACK),
    "nudges": (["nudges", "--dry-run", "--no-progress", "--config", "{config}"], {}),
    "doctor": (["doctor", "--no-slack", "--timeout", "10", "--config", "{config}"], {}),
    "audit": (["audit", "list", "--config", "{config}"], {}),
    "classify": (["classify", "--config", "{config}"], {}),
    "demo": (["demo"], {"HELPDESK_CONFIG": "{config}"}),
    "migrate": (["migrate", "--config", "{config}"], {}),
    "config": (["config", "check", "--secrets", "{config}"], {}),
}
# Which faults reach which subcommand (classify and the demo read no secret and no server).
FAULTS = {
    "missing_secret": ["run", "nudges", "doctor", "audit", "migrate", "config"],
    "unreadable_file": list(COMMANDS),
    "bad_config": list(COMMANDS),
    "unreachable_server": ["run", "nudges", "doctor", "audit", "migrate"],
}
CASES = [(fault, command) for fault, commands in FAULTS.items() for command in commands]


def _environ(extra: dict[str, str]) -> dict[str, str]:
    prefixes = ("HELPDESK_", "SLACK_", "OKTA_", "DATABASE_", "OTEL_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
        env=_environ(env), cwd=cwd, timeout=120, stdin=subprocess.DEVNULL,
    )


def _fault(fault: str, command: str, tmp: Path) -> tuple[str, dict[str, str]]:
    """The configuration file and environment that make ``fault`` for ``command``."""
    if fault == "unreadable_file":
        return str(tmp / "no-such-helpdesk.yaml"), {}
    if fault == "bad_config":
        path = tmp / "bad.yaml"
        path.write_text(BAD)
        return str(path), {}
    if fault == "unreachable_server":
        path = tmp / "unreachable.yaml"
        path.write_text(UNREACHABLE)
        return str(path), {}
    # A missing secret: the packaged file's Okta token, or the database password file.
    if command in ("run", "nudges", "doctor", "config"):
        return PACKAGED, {}
    path = tmp / "pg.yaml"
    path.write_text(UNREACHABLE)
    return str(path), {"DATABASE_PASSWORD_FILE": str(tmp / "no-such-password")}


@pytest.mark.parametrize(("fault", "command"), CASES)
def test_a_fault_is_one_clear_line_and_exit_2(fault: str, command: str, tmp_path: Path) -> None:
    config, env = _fault(fault, command, tmp_path)
    args, extra = COMMANDS[command]
    args = [a.replace("{config}", config) for a in args]
    env = {**{k: v.replace("{config}", config) for k, v in extra.items()}, **env}
    proc = _run(args, env, tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    if command == "doctor" and fault in ("missing_secret", "unreachable_server"):
        assert proc.returncode == 1 and "FAIL" in proc.stdout
        return
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3, lines
    assert all(len(line) < 400 for line in lines)
    if fault == "bad_config":
        assert any("did you mean `delivery`?" in line for line in lines)
        assert "xoxb-pasted-here" not in proc.stderr
    # Nothing was written: no store was opened before the fault was found.
    assert not (tmp_path / "var").exists()


def test_half_a_slack_configuration_is_exit_2(tmp_path: Path) -> None:
    token_only = _run(["run"], {"SLACK_BOT_TOKEN": "xoxb-test-000000", "OKTA_API_TOKEN": "x" * 8},
                      tmp_path)
    assert token_only.returncode == 2
    assert token_only.stderr.strip().splitlines() == [
        "config error: slack.signing_secret: environment variable SLACK_SIGNING_SECRET is not "
        "set (half a Slack configuration: slack.bot_token is set)"
    ]
    secret_only = _run(["run"], {"SLACK_SIGNING_SECRET": "signing-test-000"}, tmp_path)
    assert secret_only.returncode == 2 and "SLACK_BOT_TOKEN is not set" in secret_only.stderr
    stray = _run(["run"], {**SLACK, "SLACK_APP_TOKEN": "xapp-test-000000",
                           "OKTA_API_TOKEN": "x" * 8}, tmp_path)
    assert stray.returncode == 2
    assert "SLACK_APP_TOKEN is set but slack.app_token is not configured" in stray.stderr
    assert not (tmp_path / "var").exists()


def test_run_reads_every_secret_before_the_store(tmp_path: Path) -> None:
    """The first deployment mistake: Slack set, the connector's token not; no migration."""
    proc = _run(["run"], SLACK, tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "config error: connectors.okta.api_token: environment variable OKTA_API_TOKEN is not set"
    ]
    assert not (tmp_path / "var").exists()
