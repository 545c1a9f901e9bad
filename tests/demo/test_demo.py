"""The terminal demo: a scripted conversation on the Okta sandbox, as `make run` would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=script, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )


def test_scripted_reset_through_run_without_slack_credentials() -> None:
    proc = _run("I forgot my password\n1\n", "run")
    assert proc.returncode == 0, proc.stderr
    assert "starting the local demo" in proc.stderr
    out = proc.stdout
    assert "you> I forgot my password" in out
    assert "Go ahead?" in out and "[1] Reset my password" in out
    assert "Here is your one-time Okta password reset link:\nhttps://127.0.0.1:" in out
    assert "Traceback" not in proc.stderr


def test_demo_flows_on_sandbox_users() -> None:
    script = "I'm locked out\nwhen does my password expire\nlost my phone, need to reset mfa\n1\n"
    proc = _run(script, "demo", "--as", "grace.hopper@example.com")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Your Okta account is unlocked" in out
    assert "Your Okta password expires in" in out
    assert "removes *all* 2 MFA factor(s)" in out
    assert "[security channel] MFA reset" in out
    assert "removed 2 MFA factor(s)" in out


def test_demo_protected_and_unknown_users() -> None:
    proc = _run("reset my password\n", "demo", "--as", "alan.turing@example.com")
    assert proc.returncode == 0 and "elevated access" in proc.stdout
    proc = _run("", "demo", "--as", "nobody@example.com")
    assert proc.returncode == 2 and "Unknown demo user" in proc.stdout
