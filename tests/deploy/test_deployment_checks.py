"""Start-up rules for the container image: SQLite only on a volume, the password file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.deployment import (
    demo_missing,
    ephemeral_sqlite,
    mount_of,
    parse_mountinfo,
    with_password_file,
)
from config.secrets import MissingSecret

# Lines as a container runtime leaves them: an overlay root, files bind-mounted from the
# host, a named volume on /data, a tmpfs, and a mount point with a space in its name.
MOUNTINFO = """\
612 540 0:58 / / rw,relatime master:300 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
613 612 0:61 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
619 612 254:0 /docker/containers/ab/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw
620 612 254:0 /docker/volumes/helpdesk-data/_data /data rw,relatime - ext4 /dev/vda rw
621 612 0:70 / /scratch rw,nosuid,nodev - tmpfs tmpfs rw,size=65536k
622 612 254:0 /docker/volumes/v2/_data /my\\040data rw,relatime - xfs /dev/vdb rw
"""
IN = {"HELPDESK_IN_CONTAINER": "1"}


def test_mountinfo_is_parsed_with_escapes() -> None:
    mounts = parse_mountinfo(MOUNTINFO + "garbage line\n")
    assert [str(m.point) for m in mounts] == [
        "/", "/proc", "/etc/hostname", "/data", "/scratch", "/my data",
    ]
    assert mounts[0].fstype == "overlay" and mounts[5].fstype == "xfs"


def test_the_deepest_and_latest_mount_holds_a_path() -> None:
    from pathlib import PurePosixPath as P

    mounts = parse_mountinfo(MOUNTINFO)
    assert str(mount_of(P("/data/db/helpdesk.sqlite3"), mounts).point) == "/data"  # type: ignore[union-attr]
    assert str(mount_of(P("/database.sqlite3"), mounts).point) == "/"  # type: ignore[union-attr]
    stacked = parse_mountinfo(MOUNTINFO + "700 620 0:80 / /data rw - tmpfs tmpfs rw\n")
    assert mount_of(P("/data/x"), stacked).fstype == "tmpfs"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("url", "cwd"),
    [
        ("sqlite:////data/helpdesk.sqlite3", "/"),
        ("sqlite+aiosqlite:////data/sub/dir/helpdesk.sqlite3", "/"),
        ("sqlite:///var/helpdesk.sqlite3", "/data"),  # relative to the working directory
        ("sqlite:////my data/h.sqlite3", "/"),
    ],
)
def test_sqlite_on_a_volume_starts(url: str, cwd: str) -> None:
    assert ephemeral_sqlite(url, IN, mountinfo=MOUNTINFO, cwd=cwd) is None


@pytest.mark.parametrize(
    ("url", "cwd", "said"),
    [
        ("sqlite:///var/helpdesk.sqlite3", "/app", "/app/var/helpdesk.sqlite3 is not on a mounted"),
        ("sqlite:////scratch/h.sqlite3", "/", "on a tmpfs mount (gone with the container)"),
        ("sqlite://", "/", "in memory"),
        ("sqlite+aiosqlite:///:memory:", "/", "in memory"),
    ],
)
def test_sqlite_off_a_volume_is_refused_in_one_line(url: str, cwd: str, said: str) -> None:
    reason = ephemeral_sqlite(url, IN, mountinfo=MOUNTINFO, cwd=cwd)
    assert reason is not None and said in reason
    assert "\n" not in reason and "HELPDESK_ALLOW_EPHEMERAL_SQLITE=1" in reason


def test_the_rule_applies_only_in_the_container_to_sqlite_and_can_be_waived() -> None:
    url = "sqlite:///var/helpdesk.sqlite3"
    assert ephemeral_sqlite(url, {}, mountinfo=MOUNTINFO, cwd="/app") is None
    waived = {**IN, "HELPDESK_ALLOW_EPHEMERAL_SQLITE": "1"}
    assert ephemeral_sqlite(url, waived, mountinfo=MOUNTINFO, cwd="/app") is None
    pg = "postgresql://helpdesk@db/helpdesk"
    assert ephemeral_sqlite(pg, IN, mountinfo=MOUNTINFO, cwd="/app") is None


def test_this_process_mount_table_is_readable() -> None:
    # The real /proc/self/mountinfo parses, and the root filesystem is in it.
    mounts = parse_mountinfo(Path("/proc/self/mountinfo").read_text())
    assert any(str(m.point) == "/" for m in mounts)


def test_password_file_completes_the_url(tmp_path: Path) -> None:
    secret = tmp_path / "database-password"
    secret.write_text("p@ss:w/rd%1\n")
    env = {"DATABASE_PASSWORD_FILE": str(secret)}
    url = with_password_file("postgresql://helpdesk@db:5432/helpdesk", env)
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    assert parsed.password == "p@ss:w/rd%1" and parsed.username == "helpdesk"
    assert parsed.host == "db" and parsed.database == "helpdesk"
    assert with_password_file("postgresql://h@db/h", {}) == "postgresql://h@db/h"


def test_password_file_problems_name_the_file_never_the_value(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2-hunter2")
    env = {"DATABASE_PASSWORD_FILE": str(secret)}
    with pytest.raises(ValueError, match="not PostgreSQL"):
        with_password_file("sqlite:///x.sqlite3", env)
    with pytest.raises(ValueError, match="already has a password") as info:
        with_password_file("postgresql://h:other@db/h", env)
    assert "other" not in str(info.value)
    with pytest.raises(MissingSecret, match="cannot read secret file"):
        with_password_file("postgresql://h@db/h", {"DATABASE_PASSWORD_FILE": str(tmp_path / "no")})


def test_the_demo_is_available_in_the_development_install() -> None:
    # make install puts the [demo] extra in; the image leaves it out.
    assert demo_missing() is None
