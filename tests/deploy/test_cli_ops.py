"""``helpdesk --version``, ``helpdesk migrate [--check]`` and ``run``'s start-up refusals."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from tests.conftest import fresh_pg_database


def _config(tmp_path: Path, database_url: str) -> str:
    path = tmp_path / "helpdesk.yaml"
    path.write_text(yaml.safe_dump({
        "database_url": database_url,
        "slack": {"bot_token": {"env": "HD_TEST_NO_TOKEN"},
                  "signing_secret": {"env": "HD_TEST_NO_SECRET"}},
        "connectors": {"m": {"kind": "memory"}},
    }))
    return str(path)


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"helpdesk {version('helpdesk-bot')}"


def test_migrate_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "sub" / "helpdesk.sqlite3"
    config = _config(tmp_path, f"sqlite:///{db}")

    assert main(["migrate", "--check", "--config", config]) == 1
    assert "behind: at empty, head is" in capsys.readouterr().out
    assert not db.exists()  # a check creates nothing

    assert main(["migrate", "--config", config]) == 0
    assert "migrated from empty: at head" in capsys.readouterr().out
    assert main(["migrate", "--check", "--config", config]) == 0
    assert "at head" in capsys.readouterr().out
    assert main(["migrate", "--config", config]) == 0
    assert "already at head" in capsys.readouterr().out


def test_a_database_from_a_newer_version_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    db = tmp_path / "helpdesk.sqlite3"
    config = _config(tmp_path, f"sqlite:///{db}")
    assert main(["migrate", "--config", config]) == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    capsys.readouterr()
    assert main(["migrate", "--check", "--config", config]) == 1
    assert "9999_future, which this version does not know" in capsys.readouterr().out
    assert main(["migrate", "--config", config]) == 2
    assert "nothing done" in capsys.readouterr().err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("9999_future",)
        ]


async def test_migrate_on_postgresql_with_a_password_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fresh_pg_database() as url:
        # The server trusts local connections: the password is carried, not checked.
        secret = tmp_path / "database-password"
        secret.write_text("not-checked-here-42\n")
        monkeypatch.setenv("DATABASE_PASSWORD_FILE", str(secret))
        config = _config(tmp_path, url)
        assert await asyncio.to_thread(main, ["migrate", "--check", "--config", config]) == 1
        assert await asyncio.to_thread(main, ["migrate", "--config", config]) == 0
        assert await asyncio.to_thread(main, ["migrate", "--check", "--config", config]) == 0
        out = capsys.readouterr().out
        assert "migrated from empty: at head" in out
        assert "not-checked-here-42" not in out and "***" in out


def test_an_unreachable_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, "postgresql://helpdesk:hunter2hunter2@127.0.0.1:1/helpdesk")
    assert main(["migrate", "--check", "--config", config]) == 2
    err = capsys.readouterr().err
    assert err.startswith("migrate: cannot use the database at postgresql+asyncpg://helpdesk:***@")
    assert err.count("\n") == 1 and "hunter2" not in err


def test_a_password_file_for_sqlite_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw").write_text("whatever-secret")
    monkeypatch.setenv("DATABASE_PASSWORD_FILE", str(tmp_path / "pw"))
    with pytest.raises(SystemExit) as info:
        main(["migrate", "--config", _config(tmp_path, "sqlite:///x.sqlite3")])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "config error: DATABASE_PASSWORD_FILE: DATABASE_PASSWORD_FILE is set but "
        "database_url is not PostgreSQL\n"
    )


def test_run_in_the_container_refuses_sqlite_off_a_volume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_IN_CONTAINER", "1")
    monkeypatch.delenv("HELPDESK_ALLOW_EPHEMERAL_SQLITE", raising=False)
    # /dev/shm is a tmpfs wherever this runs; nothing is created there.
    config = _config(tmp_path, "sqlite:////dev/shm/helpdesk-test/helpdesk.sqlite3")
    assert main(["run", "--config", config]) == 2
    err = capsys.readouterr().err
    assert err.startswith("refusing to start: SQLite at /dev/shm/helpdesk-test/helpdesk.sqlite3")
    assert err.count("\n") == 1
    assert not Path("/dev/shm/helpdesk-test").exists()


def test_run_in_the_container_without_slack_credentials_does_not_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_IN_CONTAINER", "1")
    config = _config(tmp_path, "postgresql://helpdesk@127.0.0.1:1/helpdesk")
    assert main(["run", "--config", config]) == 2
    err = capsys.readouterr().err
    assert "HD_TEST_NO_TOKEN is not set" in err and "no demo: running in the container" in err
