"""``helpdesk audit``: list, export (JSON lines, CSV) and prune, through the real CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.audit import Actor, Auditor
from bot.audit_cli import csv_cell, parse_when
from bot.cli import main
from config.secrets import Secret
from connectors.base import DirectoryUser, UserStatus
from store.db import Store
from store.models import AuditRecord

NOW = datetime.now(UTC)
SLACK_TOKEN_SHAPE = "xoxb-123456789-987654321-abcdefABCDEF"


def _config(tmp_path: Path, **extra: Any) -> Path:
    raw: dict[str, Any] = {
        "connectors": {"mem": {"kind": "memory"}},
        "capabilities": {"unlock": "mem"},
        "database_url": f"sqlite:///{tmp_path}/state.sqlite3",
    }
    raw.update(extra)
    path = tmp_path / "helpdesk.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _row(days: float, **kw: Any) -> AuditRecord:
    values: dict[str, Any] = {
        "at": NOW - timedelta(days=days),
        "correlation_id": f"c{days}",
        "actor": "U0ALICE001",
        "actor_email": "alice@example.com",
        "action": "unlock",
        "provider": "mem",
        "target_user_id": "u1",
        "target": "alice@example.com",
        "result": "success",
        "detail": {},
    }
    values.update(kw)
    return AuditRecord(**values)


async def _seed(tmp_path: Path, *rows: AuditRecord) -> None:
    store = await Store.open(f"sqlite:///{tmp_path}/state.sqlite3")
    try:
        for row in rows:
            await store.add_audit(row)
    finally:
        await store.close()


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    """A config whose store holds a few records (one a mock formula, one a leaked token)."""
    asyncio.run(
        _seed(
            tmp_path,
            _row(400),
            _row(30, action="password_reset", result="refused", detail={"reason": "protected"}),
            _row(
                2,
                actor="U0BOB00002",
                actor_email='=HYPERLINK("http://x")',
                target="bob@example.com",
            ),
            _row(1, detail={"note": f"token {SLACK_TOKEN_SHAPE} pasted"}),
        )
    )
    return _config(tmp_path)


def test_list_shows_the_latest_records(trail: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "list", "--config", str(trail), "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("time (UTC)")
    assert len(lines) == 3
    assert "bob@example.com" in lines[1] and "c1" in lines[2]
    assert main(["audit", "list", "--config", str(trail), "--user", "nobody@x.org"]) == 0
    assert "no audit records match" in capsys.readouterr().out


def test_filters_by_user_action_result_and_time(
    trail: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["audit", "list", "--config", str(trail), "--format", "jsonl"]
    assert main([*args, "--user", "ALICE@example.com", "--since", "90d"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["correlation_id"] for r in rows] == ["c30", "c1"]
    assert main([*args, "--action", "password_reset", "--result", "refused"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["detail"] == {"reason": "protected"}
    until = (NOW - timedelta(days=100)).date().isoformat()
    assert main([*args, "--until", until]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert main([*args, "--since", "1d", "--until", "3d"]) == 2
    assert "--since must be before --until" in capsys.readouterr().err
    assert main([*args, "--since", "last tuesday"]) == 2


def test_export_jsonl_to_an_owner_only_file(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export.jsonl"
    assert main(["audit", "export", "--config", str(trail), "-o", str(out)]) == 0
    assert "exported 4 record(s)" in capsys.readouterr().err
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["correlation_id"] for r in rows] == ["c400", "c30", "c2", "c1"]  # oldest first
    assert list(rows[0]) == [
        "id",
        "at",
        "correlation_id",
        "actor",
        "actor_email",
        "action",
        "provider",
        "target_user_id",
        "target",
        "result",
        "detail",
    ]
    assert rows[0]["at"].endswith("Z")
    # Defence in depth: a token that reached the trail is redacted on the way out.
    assert SLACK_TOKEN_SHAPE not in out.read_text()
    assert "[REDACTED]" in rows[3]["detail"]["note"]


def test_export_csv_neutralises_formulas(trail: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "export", "--config", str(trail), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert len(rows) == 4
    assert rows[2]["actor_email"].startswith("'=HYPERLINK")
    assert json.loads(rows[1]["detail"]) == {"reason": "protected"}
    assert SLACK_TOKEN_SHAPE not in captured.out
    assert csv_cell(None) == "" and csv_cell("-1") == "'-1" and csv_cell("ok") == "ok"


def test_prune_by_retention(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "prune", "--config", str(trail), "--dry-run"]) == 0
    assert "would prune 1 record(s)" in capsys.readouterr().out
    assert main(["audit", "prune", "--config", str(trail), "--older-than", "10d"]) == 0
    assert "pruned 2 record(s)" in capsys.readouterr().out
    assert main(["audit", "prune", "--config", str(trail)]) == 0
    assert "pruned 0 record(s)" in capsys.readouterr().out
    # Younger than a limit window: the limits are counted from these records.
    assert main(["audit", "prune", "--config", str(trail), "--older-than", "2h"]) == 2
    assert "longest limit window" in capsys.readouterr().err
    forever = _config(tmp_path, audit={"retention": "forever"})
    assert main(["audit", "prune", "--config", str(forever)]) == 0
    assert "nothing pruned" in capsys.readouterr().out


def test_no_database_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, database_url=f"sqlite:///{tmp_path}/absent/x.sqlite3")
    assert main(["audit", "list", "--config", str(config)]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "absent").exists()  # and none was created


async def test_the_auditor_never_stores_a_secret(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path}/state.sqlite3")
    try:
        secret = Secret("Temp-Pa55word-4U!")
        user = DirectoryUser("mem", "u1", "a@example.com", "a", "A", UserStatus.ACTIVE)
        await Auditor(store).record(
            Actor("U0ALICE001", "a@example.com"),
            "password_reset",
            "success",
            target=user,
            detail={
                "echo": f"gave {secret.reveal()}",
                "link": "https://x.okta.com/reset-password/abc",
            },
        )
        (row,) = await store.list_audit()
        text = json.dumps(row.detail)
        assert secret.reveal() not in text and "reset-password" not in text
    finally:
        await store.close()


def test_time_arguments() -> None:
    now = datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert parse_when("7d", now) == now - timedelta(days=7)
    assert parse_when("2024-05-01", now) == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_when("2024-05-01T10:00:00+02:00", now) == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert parse_when("2024-05-01T10:00:00Z", now) == datetime(2024, 5, 1, 10, tzinfo=UTC)
