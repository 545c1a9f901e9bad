"""``helpdesk config check|schema|reference`` and the problems they report.

The reference (docs/configuration.md) is generated from the settings models: it fails
here when it is out of date or when a key has no sentence. A bad file is reported in one
run, one line per problem, in words that say what to write instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.cli import main
from bot.config_cli import REFERENCE, kind_docs, reference_text
from config.reference import undocumented
from config.settings import DEFAULT_CONFIG, HelpdeskConfig

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_reference_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference_text(), (
        "docs/configuration.md is out of date: run "
        "`helpdesk config reference -o docs/configuration.md`"
    )


def test_every_key_has_a_sentence() -> None:
    assert undocumented(HelpdeskConfig, kind_docs()) == []


def test_the_reference_lists_every_section_and_kind() -> None:
    text = reference_text()
    for heading in ("## nudges.rate_limits", "## catalogue[]", "## access", "## audit",
                    "### `kind: okta` (Okta)", "### `kind: ad` (Active Directory)",
                    "### `kind: onelogin` (OneLogin)", "## Environment variables"):
        assert heading in text, heading
    assert "| `nudges.schedule` | text | `0 9 * * 1-5` |" in text
    assert "| `access.request_ttl` | duration" in text and "| `3d` |" in text


def test_the_schema_accepts_the_packaged_configuration_and_checks_connector_blocks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    packaged = yaml.safe_load(DEFAULT_CONFIG.read_text())
    jsonschema.validate(packaged, schema)
    wrong = {**packaged, "connectors": {"okta": {"kind": "okta", "org_url": "https://a.okta.com",
                                                 "api_tokn": {"env": "X"}}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, schema)


def test_check_accepts_a_good_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(DEFAULT_CONFIG)]) == 0
    assert "valid" in capsys.readouterr().out


BAD = """
organisation:
  nmae: Acme
slack:
  bot_token: xoxb-not-a-reference
password_reset:
  delivry: link
connectors:
  okta:
    kind: okta
    org_url: https://acme.okta.com
    api_tokn: {env: OKTA_API_TOKEN}
capabilities:
  password_reset: okta
"""


def test_check_reports_every_problem_in_one_run_in_plain_words(tmp_path: Path) -> None:
    path = tmp_path / "helpdesk.yaml"
    path.write_text(BAD)
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "config", "check", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert all(line.startswith(f"config error: {path}: ") for line in lines), lines
    text = proc.stderr
    assert "organisation.nmae: unknown key `nmae`; did you mean `name`?" in text
    assert "password_reset.delivry: unknown key `delivry`; did you mean `delivery`?" in text
    assert ("slack.bot_token: secrets must be `{env: NAME}` or `{file: PATH}`, never the value "
            "itself") in text
    # The connector block's problem is in the same run as the others.
    assert "connectors.okta.api_tokn: unknown key `api_tokn`; did you mean `api_token`?" in text
    assert "xoxb-not-a-reference" not in text  # a secret written as a value is not echoed
    assert "Extra inputs are not permitted" not in text


def test_check_on_a_missing_file_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "config", "check", str(tmp_path / "none.yaml")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot read" in proc.stderr


def test_the_log_level_can_come_from_the_environment() -> None:
    from bot.configuration import load_config

    assert load_config(DEFAULT_CONFIG, {"HELPDESK_LOG_LEVEL": "debug"}).log_level == "DEBUG"
