"""Configuration: the packaged file is valid, and every problem is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.configuration import load_config, validate_config
from config import settings
from config.durations import parse_duration
from config.secrets import MissingSecret, SecretRef
from config.settings import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_packaged_config_is_valid() -> None:
    cfg = load_config(ROOT / "config" / "helpdesk.yaml", environ={})
    assert cfg.capabilities["password_reset"] == "okta"
    assert cfg.limits.mfa_reset.count == 1


def test_database_url_from_environment() -> None:
    cfg = load_config(
        ROOT / "config" / "helpdesk.yaml", environ={"DATABASE_URL": "postgresql://x/y"}
    )
    # The file names a database explicitly, which wins over the environment.
    assert cfg.database_url.startswith("sqlite")
    raw = {"connectors": {"m": {"kind": "memory"}}}
    assert validate_config(raw, environ={"DATABASE_URL": "postgresql://x/y"}).database_url == (
        "postgresql://x/y"
    )


def test_every_problem_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "connectors:\n"
        "  m: {kind: memory, bogus: 1}\n"
        "  z: {kind: zorg}\n"
        "capabilities: {unlock: nowhere, teleport: m}\n"
        "limits: {unlock: {count: -1, per: 1h}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    problems = info.value.problems
    assert any("connectors.z.kind" in p and "unknown connector kind" in p for p in problems)
    assert any("limits.unlock.count" in p for p in problems)
    assert all(p.startswith(str(path)) for p in problems)


def test_second_stage_problems(tmp_path: Path) -> None:
    raw = {
        "connectors": {"m": {"kind": "memory", "bogus": 1}},
        "capabilities": {"unlock": "nowhere", "teleport": "m"},
        "catalogue": [{"key": "a", "display_name": "A", "provider_group": "a", "provider": "x"}],
    }
    with pytest.raises(ConfigError) as info:
        validate_config(raw, "f.yaml", {})
    text = "\n".join(info.value.problems)
    assert "f.yaml: connectors.m.bogus: unknown key `bogus`; the keys here are" in text
    assert "f.yaml: capabilities.unlock: no connector named 'nowhere'" in text
    assert "f.yaml: capabilities.teleport: unknown capability" in text
    assert "f.yaml: catalogue.0.provider: no connector named 'x'" in text


class _Kinds:
    """A kinds checker knowing one kind, ``x``, whose block takes no ``depth``."""

    def names(self) -> list[str]:
        return ["x"]

    def check(
        self, kind: str, options: Mapping[str, Any]
    ) -> list[tuple[tuple[int | str, ...], str]]:
        return [(("depth", 0), "too deep")] if "depth" in options else []


def test_connector_blocks_are_checked_by_the_kinds_given() -> None:
    """``config`` knows no kind: the checker it is given decides, in the usual format."""
    unknown = {"connectors": {"a": {"kind": "y"}}}
    with pytest.raises(ConfigError) as info:
        settings.validate_config(unknown, "f.yaml", {}, kinds=_Kinds())
    assert info.value.problems == [
        "f.yaml: connectors.a.kind: Value error, unknown connector kind 'y'; one of x"
    ]
    deep = {"connectors": {"a": {"kind": "x", "depth": [1]}}, "capabilities": {"unlock": "b"}}
    with pytest.raises(ConfigError) as info:
        settings.validate_config(deep, "f.yaml", {}, kinds=_Kinds())
    assert info.value.problems == [
        "f.yaml: connectors.a.depth.0: too deep",
        "f.yaml: capabilities.unlock: no connector named 'b' (configured: a)",
    ]
    # Without a checker nothing about the blocks is known, so nothing is refused.
    assert settings.validate_config(unknown, "f.yaml", {}).connectors["a"].kind == "y"


def test_secrets_are_references_not_values() -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(
            {"connectors": {"m": {"kind": "memory"}}, "slack": {"bot_token": "xoxb-123"}},
            "f.yaml",
            {},
        )
    assert any("slack.bot_token" in p for p in info.value.problems)
    with pytest.raises(MissingSecret) as missing:
        SecretRef(env="NOPE_NOT_SET").resolve({})
    assert "NOPE_NOT_SET" in str(missing.value)
    assert SecretRef(env="T").resolve({"T": "abc123"}).reveal() == "abc123"


def test_durations() -> None:
    assert parse_duration("15m").total_seconds() == 900
    assert parse_duration("2d").days == 2
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_cli_bad_config_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("connectors: {m: {kind: zorg}}\nlog_level: LOUD\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "doctor", "--config", str(path)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("config error: ") for line in lines)
    assert "Traceback" not in proc.stderr


def test_cli_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    broken = tmp_path / "broken.yaml"
    broken.write_text("connectors: [unclosed\n")
    for target in (tmp_path / "missing.yaml", broken):
        proc = subprocess.run(
            [sys.executable, "-m", "bot.cli", "doctor", "--config", str(target)],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1


def test_problems_of_every_kind_come_in_one_run() -> None:
    raw = {
        "organisation": {"it_chanel": "#it"},
        "connectors": {"m": {"kind": "memory", "bogus": 1}},
        "capabilities": {"unlock": "nowhere"},
        "catalogue": [{"key": "a", "display_name": "A", "provider_group": "a", "provider": "x"},
                      {"key": "b"}],
    }
    with pytest.raises(ConfigError) as info:
        validate_config(raw, "f.yaml", {})
    text = "\n".join(info.value.problems)
    assert "organisation.it_chanel: unknown key `it_chanel`; did you mean `it_channel`?" in text
    assert "connectors.m.bogus: unknown key" in text
    assert "capabilities.unlock: no connector named 'nowhere'" in text
    assert "catalogue.0.provider: no connector named 'x'" in text
    assert "catalogue.1.provider_group: required, and missing" in text


def test_a_bad_log_level_in_the_environment_is_named_as_the_environments() -> None:
    raw = {"connectors": {"m": {"kind": "memory"}}, "organisation": {"it_chanel": "#it"}}
    with pytest.raises(ConfigError) as info:
        validate_config(raw, "f.yaml", {"HELPDESK_LOG_LEVEL": "verbose"})
    assert info.value.problems[0] == (
        "HELPDESK_LOG_LEVEL: 'verbose' is not a log level; use DEBUG, INFO, WARNING, ERROR"
    )
    assert not any("f.yaml: log_level" in p for p in info.value.problems)
    assert any("did you mean `it_channel`?" in p for p in info.value.problems)  # same run
    assert validate_config(raw | {"organisation": {}}, "f.yaml",
                           {"HELPDESK_LOG_LEVEL": "debug"}).log_level == "DEBUG"
