"""The documentation tells the truth: every environment variable, the README's commands.

The reference's variables come from one list (``config.reference.ENVIRONMENT``); the
code is scanned for the names it reads, so a new one cannot be left out.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from config.reference import ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
CODE = ("bot", "config", "connectors", "store", "actions")
# Not the bot's settings: Python's own, and the placeholder of `{env: NAME}` in docstrings.
NOT_SETTINGS = {"PYTHONPATH", "NAME"}
PATTERNS = (
    re.compile(r"environ(?:\.get)?[\[(]\s*\"([A-Z][A-Z0-9_]+)\""),
    re.compile(r"getenv\(\s*\"([A-Z][A-Z0-9_]+)\""),
    re.compile(r"SecretRef\(env=\"([A-Z][A-Z0-9_]+)\""),
    re.compile(r"^[A-Z_]*(?:ENV|VARIABLES)[A-Z_]* = \(?\"([A-Z][A-Z0-9_]+)\"", re.M),
)


def _variables_read_by_the_code() -> set[str]:
    found: set[str] = set()
    for package in CODE:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in PATTERNS:
                found.update(pattern.findall(text))
    packaged = (ROOT / "config" / "helpdesk.yaml").read_text(encoding="utf-8")
    found.update(re.findall(r"\{env: ([A-Z][A-Z0-9_]+)\}", packaged))
    from config.tracing import ENDPOINT_VARIABLES

    return (found | set(ENDPOINT_VARIABLES)) - NOT_SETTINGS


def test_every_environment_variable_the_code_reads_is_in_the_reference() -> None:
    read = _variables_read_by_the_code()
    assert {"HELPDESK_CONFIG", "DATABASE_URL", "SLACK_BOT_TOKEN", "OKTA_API_TOKEN",
            "SLACK_APP_TOKEN", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} <= read
    listed = {name for name, _ in ENVIRONMENT}
    assert read - listed == set(), "add them to config.reference.ENVIRONMENT"
    reference = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in reference for name in listed)


def test_sources_cite_public_pages_not_local_files() -> None:
    """Docstrings cite the vendors' pages, never a file outside the repository."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in (*CODE, "sandboxes", "bench", "docs")
        for path in (ROOT / package).rglob("*")
        if path.suffix in {".py", ".md", ".yaml"} and "/work/" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
    nudges = (ROOT / "config" / "nudges.py").read_text(encoding="utf-8")
    assert "https://developer.okta.com/docs/reference/rl-global-mgmt/" in nudges


def test_config_check_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("OKTA_API_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    packaged = str(ROOT / "config" / "helpdesk.yaml")
    assert main(["config", "check", packaged]) == 0
    capsys.readouterr()
    assert main(["config", "check", "--secrets", packaged]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert f"config error: {packaged}: connectors.okta.api_token: environment variable " \
        "OKTA_API_TOKEN is not set" in lines
    assert len(lines) == 3
    monkeypatch.setenv("OKTA_API_TOKEN", "00-okta-token")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-00-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-00")
    assert main(["config", "check", "--secrets", packaged]) == 0


def test_readme_lists_every_subcommand_once_and_the_first_week_answers() -> None:
    """The subcommands table matches the parser; nudges, log level, SQLite, OAuth are covered."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    rows = re.findall(r"^\| `helpdesk (\w+)` \|", readme, re.M)
    assert sorted(rows) == sorted(sub.choices), "one README row per subcommand"
    assert "`.venv/bin`" in readme and "source .venv/bin/activate" in readme
    assert "HELPDESK_LOG_LEVEL" in readme and "docs/configuration.md" in readme
    assert "relative to the directory" in readme
    assert "### Password-expiry nudges" in readme
    for text in ("helpdesk nudges --dry-run", "helpdesk nudges --now", "thresholds:",
                 "schedule:", "it_channel:"):
        assert text in readme
    okta = readme.split("### Okta", 1)[1].split("### Active Directory", 1)[0]
    for key in ("client_id:", "private_key:", "key_id:", "scopes:"):
        assert key in okta
