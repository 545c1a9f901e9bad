"""``helpdesk config schema|check|reference`` and docs/configuration.md kept current."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.cli import main
from bot.config_cli import kind_models, reference_text
from config.environment import NAMES
from config.reference import missing_descriptions
from config.settings import HelpdeskConfig

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"
CODE = ("bot", "config", "connectors", "store", "actions")
# Not the bot's settings: Python's own, and the placeholder of `{env: NAME}` in docstrings.
NOT_SETTINGS = {"PYTHONPATH", "NAME"}


def test_the_reference_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference_text(), (
        "docs/configuration.md is out of date: run "
        "`helpdesk config reference -o docs/configuration.md`"
    )


def test_every_setting_has_a_description() -> None:
    assert missing_descriptions(HelpdeskConfig, kind_models()) == []


def test_the_reference_names_every_key_with_its_default() -> None:
    text = reference_text()
    assert "| `delivery` | `link` \\| `temp_password` | `link` |" in text
    assert "| `schedule` | text | `0 9 * * 1-5` |" in text
    assert "| `hide_secret_after` | duration" in text and "`15m`" in text
    for kind in ("okta", "onelogin", "ad", "memory"):
        assert f"### `kind: {kind}`" in text
    assert "| `client_id` | text or null | `null` | OAuth service app" in text


def _variables_read_by_the_code() -> set[str]:
    patterns = [
        re.compile(r"environ(?:\.get)?[\[(]\s*\"([A-Z][A-Z0-9_]+)\""),
        re.compile(r"getenv\(\s*\"([A-Z][A-Z0-9_]+)\""),
        re.compile(r"SecretRef\(env=\"([A-Z][A-Z0-9_]+)\""),
        re.compile(r"^[A-Z_]*(?:ENV|VARIABLES)[A-Z_]* = \(?\"([A-Z][A-Z0-9_]+)\"", re.M),
    ]
    found: set[str] = set()
    for package in CODE:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in patterns:
                found.update(pattern.findall(text))
    found.update(re.findall(r"\{env: ([A-Z][A-Z0-9_]+)\}", (ROOT / "config" / "helpdesk.yaml")
                            .read_text(encoding="utf-8")))
    from config.tracing import ENDPOINT_VARIABLES

    return (found | set(ENDPOINT_VARIABLES)) - NOT_SETTINGS


def test_every_environment_variable_is_listed() -> None:
    read = _variables_read_by_the_code()
    assert {"HELPDESK_CONFIG", "DATABASE_URL", "SLACK_BOT_TOKEN", "OKTA_API_TOKEN"} <= read
    assert read - NAMES == set(), "add them to config/environment.py"
    assert "HELPDESK_LOG_LEVEL" in NAMES and "SLACK_APP_TOKEN" in NAMES


def test_readme_links_the_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/configuration.md" in readme


def test_schema_validates_the_packaged_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    packaged = yaml.safe_load((ROOT / "config" / "helpdesk.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(packaged, schema)
    kinds = {c["$ref"].rsplit("/", 1)[1] for c in schema["$defs"]["ConnectorBlock"]["oneOf"]}
    assert kinds == {"okta_connector", "onelogin_connector", "ad_connector", "memory_connector"}
    bad = {**packaged, "password_reset": {"delivry": "link"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_config_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(ROOT / "config" / "helpdesk.yaml")]) == 0
    assert capsys.readouterr().out.endswith("helpdesk.yaml: valid\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "connectors: {okta: {kind: okta, org_url: 'https://a.okta.com', api_tokn: {env: T}}}\n"
        "password_reset: {delivry: link}\n"
        "slack: {bot_token: xoxb-123456}\n"
    )
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{bad}: slack.bot_token: secrets must be `{{env: NAME}}` or `{{file: PATH}}`, "
        "never the value itself",
        f"{bad}: password_reset.delivry: unknown key `delivry`; did you mean `delivery`?",
        f"{bad}: connectors.okta.api_tokn: unknown key `api_tokn`; did you mean `api_token`?",
    ]
    assert main(["config", "check", str(tmp_path / "none.yaml")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_config_check_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("OKTA_API_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    packaged = str(ROOT / "config" / "helpdesk.yaml")
    assert main(["config", "check", "--secrets", packaged]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert f"{packaged}: connectors.okta.api_token: environment variable OKTA_API_TOKEN is " \
        "not set" in lines
    assert len(lines) == 3


def test_reference_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "configuration.md"
    assert main(["config", "reference", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == reference_text()


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
    assert "https://api.slack.com/docs/rate-limits" in nudges
    assert "https://developer.okta.com/docs/reference/rl-global-mgmt/" in nudges


def test_readme_lists_every_subcommand_once_and_the_first_week_answers() -> None:
    """The subcommands table matches the parser; nudges, log level, SQLite, OAuth are covered."""
    import argparse

    from bot.cli import build_parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sub = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    rows = re.findall(r"^\| `helpdesk (\w+)` \|", readme, re.M)
    assert sorted(rows) == sorted(sub.choices), "one README row per subcommand"
    assert "`.venv/bin`" in readme and "source .venv/bin/activate" in readme
    assert "HELPDESK_LOG_LEVEL" in readme
    assert "relative to the directory" in readme
    assert "### Password-expiry nudges" in readme
    for text in ("helpdesk nudges --dry-run", "helpdesk nudges --now", "thresholds:",
                 "schedule:", "it_channel:"):
        assert text in readme
    okta = readme.split("### Okta", 1)[1].split("### Active Directory", 1)[0]
    for key in ("client_id:", "private_key:", "key_id:", "scopes:"):
        assert key in okta
