"""``helpdesk classify``: JSON lines out, exit 2 with one line on a bad configuration."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.intents.cli import run_classify
from bot.intents.config import DEFAULT_INTENTS_FILE
from tests.intents.conftest import FIXTURE_CONFIG

ROOT = Path(__file__).resolve().parents[2]
#: The least a helpdesk.yaml needs to validate.
CONNECTORS = "connectors: {mem: {kind: memory}}\ncapabilities: {groups: mem}\n"


def classify(config: str | None, text: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_classify(config, io.StringIO(text), out, err)
    return code, out.getvalue(), err.getvalue()


def test_one_json_object_per_input_line() -> None:
    lines = [
        "forgot pwd again lol",
        "can I get edit rights in figma",
        "",
        "café ☕ wifi?",
        "se me olvidó la contraseña otra vez",
    ]
    code, out, err = classify(str(FIXTURE_CONFIG), "\n".join(lines) + "\n")
    assert code == 0
    assert err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in records] == lines
    for record in records:
        assert set(record) == {"text", "intent", "confidence", "group", "language"}
        assert 0.0 <= record["confidence"] <= 1.0
    assert records[0]["intent"] == "password_reset"
    assert records[0]["group"] is None
    assert records[0]["language"] == "en"
    assert records[1] == {**records[1], "intent": "group_access", "group": "figma-editors"}
    assert records[4] == {**records[4], "intent": "password_reset", "language": "es"}


def test_locale_decides_for_short_lines() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run_classify(str(FIXTURE_CONFIG), io.StringIO("ok\n"), out, err, locale="de-DE")
    assert code == 0
    assert json.loads(out.getvalue())["language"] == "de"


def test_windows_line_endings_and_no_trailing_newline() -> None:
    code, out, _ = classify(str(FIXTURE_CONFIG), "hello\r\nlocked out")
    assert code == 0
    assert [json.loads(x)["text"] for x in out.splitlines()] == ["hello", "locked out"]


def test_intents_file_from_config(tmp_path: Path) -> None:
    own = tmp_path / "intents.yaml"
    own.write_text(DEFAULT_INTENTS_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    config = tmp_path / "helpdesk.yaml"
    config.write_text(
        f"{CONNECTORS}intents_file: {own.name}\ncatalogue:\n"
        "  - {key: notion, display_name: Notion, provider_group: notion, auto_approve: true}\n",
        encoding="utf-8",
    )
    code, out, _ = classify(str(config), "add me to notion please\n")
    assert code == 0
    assert json.loads(out)["group"] == "notion"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "cannot read"),
        ("catalogue: [\n", "not valid YAML"),
        (CONNECTORS + "catalogue:\n  - display_name: Figma\n", "catalogue.0.key"),
        ("catalogue: []\n", "connectors"),
        ("- just\n- a list\n", "expected a mapping"),
        (CONNECTORS + "intents_file: missing-intents.yaml\n", "cannot read"),
        (CONNECTORS + "intents_file: bad-intents.yaml\n", "unknown top-level key"),
    ],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, content: str | None, fragment: str
) -> None:
    (tmp_path / "bad-intents.yaml").write_text("intents: {}\nextra: 1\n", encoding="utf-8")
    config = tmp_path / "helpdesk.yaml"
    if content is not None:
        config.write_text(content, encoding="utf-8")
    code, out, err = classify(str(config), "hello\n")
    assert code == 2
    assert out == ""
    # One line per problem (a catalogue entry missing two keys is two lines).
    assert err.endswith("\n") and all(
        line.startswith("helpdesk classify: ") for line in err.splitlines()
    )
    assert fragment in err
    assert "Traceback" not in err


def test_module_entry_point_exit_code(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "bot.intents.cli", "--config", str(missing)],
        input="hello\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
