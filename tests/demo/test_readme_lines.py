"""The README's scripted demo lines work as printed: each runs to its end, as its comment says."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# ``printf '...' | make run   # comment`` and ``.venv/bin/helpdesk demo ...   # comment``
SCRIPTED = re.findall(r"^printf '([^']*)' \| make run\s+# (.*)$", README, re.MULTILINE)
COMMANDS = re.findall(r"^\.venv/bin/helpdesk (demo[^#\n]*?)\s+# (.*)$", README, re.MULTILINE)


def _run(args: list[str], script: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HELPDESK_"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], input=script, capture_output=True, text=True,
        env=env, cwd=ROOT, timeout=120,
    )


def _quoted(comment: str) -> list[str]:
    """The words a line's comment quotes: the output must show them."""
    return re.findall(r'"([^"]+)"', comment)


def test_the_readme_has_its_scripted_lines() -> None:
    assert len(SCRIPTED) >= 4 and len(COMMANDS) >= 2


@pytest.mark.parametrize(("script", "comment"), SCRIPTED)
def test_each_printf_line_runs_as_printed(script: str, comment: str) -> None:
    # printf's only escape in these lines is \n; the rest (é, ñ) is typed as it stands.
    typed = script.replace("\\n", "\n")
    proc = _run(["run"], typed)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    # Every number typed clicked a live button, or answered the phone's prompt in time.
    assert "No button has the number" not in proc.stdout
    assert "Please type a number" not in proc.stdout
    assert "wasn't answered in time" not in proc.stdout
    for words in _quoted(comment):
        assert words in proc.stdout, (words, proc.stdout[-2000:])


@pytest.mark.parametrize(("command", "comment"), COMMANDS)
def test_each_demo_command_runs_as_printed(command: str, comment: str) -> None:
    proc = _run(shlex.split(command), "hi\n")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout.strip()
