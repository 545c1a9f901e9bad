"""Start-up rules that depend on where the bot is deployed, not on what it does.

- ``ephemeral_sqlite``: inside the container image (``HELPDESK_IN_CONTAINER=1``, set by the
  Dockerfile) a SQLite database must sit on a mounted volume, or the audit trail and every
  pending approval go with the container. It returns the one-line reason to refuse, or None.
  ``HELPDESK_ALLOW_EPHEMERAL_SQLITE=1`` waives it for a throwaway trial.
- ``with_password_file``: ``DATABASE_PASSWORD_FILE`` names a file holding the PostgreSQL
  password (a Docker or Kubernetes secret), so the URL in the configuration carries none and
  one file serves both the database server and the bot.
- ``demo_missing``: the terminal demo's local servers need the ``[demo]`` extra.

Every function takes the environment as a mapping, and the mount table as text, so tests
pass their own.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from config.secrets import SecretRef

MOUNTINFO = Path("/proc/self/mountinfo")
# Filesystems whose content does not outlive the container (or the machine).
_VOLATILE = frozenset({"tmpfs", "ramfs", "overlay", "aufs"})
_DEMO_MODULES = ("trustme", "sandboxes.okta")


def in_container(environ: Mapping[str, str]) -> bool:
    """Whether the process runs from the container image (the Dockerfile sets the flag)."""
    return environ.get("HELPDESK_IN_CONTAINER") == "1"


@dataclass(frozen=True)
class Mount:
    """One line of ``/proc/self/mountinfo``: where a filesystem is mounted, and its type."""

    point: PurePosixPath
    fstype: str


def _unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash in paths as \040-style octal.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts in ``/proc/self/mountinfo`` order (later lines stack over earlier ones).

    Format (proc(5)): ``id parent major:minor root mount-point options [optional...] -
    fstype source super-options``; malformed lines are skipped.
    """
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        dash = fields.index("-", 6)
        if len(fields) <= dash + 1:
            continue
        mounts.append(Mount(PurePosixPath(_unescape(fields[4])), fields[dash + 1]))
    return mounts


def mount_of(path: PurePosixPath, mounts: Iterable[Mount]) -> Mount | None:
    """The mount that holds ``path`` (absolute): the deepest mount point above it."""
    best: Mount | None = None
    for mount in mounts:
        holds = path == mount.point or mount.point in path.parents
        # ">=": of two mounts on one point, the later is the one in effect.
        if holds and (best is None or len(mount.point.parts) >= len(best.point.parts)):
            best = mount
    return best


def _sqlite_url(url: str) -> URL | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # not for this check to judge: the store reports a bad URL
    return parsed if parsed.get_backend_name() == "sqlite" else None


def ephemeral_sqlite(
    database_url: str,
    environ: Mapping[str, str],
    *,
    mountinfo: str | None = None,
    cwd: str | None = None,
) -> str | None:
    """Why the bot must not start on this SQLite database in the container, or None.

    None outside the container, for any other database, with the waiver, or when the
    file's folder is on a mounted volume that is not memory-backed. ``mountinfo`` defaults
    to this process's ``/proc/self/mountinfo``; ``cwd`` (for relative paths) to the
    current directory. A volume that Kubernetes deletes with the pod (``emptyDir``) looks
    like any other disk mount here and passes: that choice is the operator's.
    """
    if not in_container(environ) or environ.get("HELPDESK_ALLOW_EPHEMERAL_SQLITE") == "1":
        return None
    parsed = _sqlite_url(database_url)
    if parsed is None:
        return None
    waiver = "set HELPDESK_ALLOW_EPHEMERAL_SQLITE=1 for a throwaway trial"
    database = parsed.database or ""
    if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
        return (
            "refusing to start: the SQLite database is in memory, so the audit trail would "
            f"be lost on restart; use PostgreSQL (database_url) or {waiver}"
        )
    base = cwd if cwd is not None else os.getcwd()
    path = PurePosixPath(os.path.realpath(os.path.join(base, database)))
    text = mountinfo if mountinfo is not None else MOUNTINFO.read_text(encoding="utf-8")
    mount = mount_of(path, parse_mountinfo(text))
    if mount is None or str(mount.point) == "/":
        where = "not on a mounted volume"
    elif mount.fstype in _VOLATILE:
        where = f"on a {mount.fstype} mount (gone with the container)"
    else:
        return None
    return (
        f"refusing to start: SQLite at {path} is {where}, so the audit trail would be lost "
        f"with the container; mount a volume on {path.parent}, use PostgreSQL "
        f"(database_url), or {waiver}"
    )


def with_password_file(database_url: str, environ: Mapping[str, str]) -> str:
    """``database_url`` with the password read from ``DATABASE_PASSWORD_FILE``, if set.

    Raises ``config.secrets.MissingSecret`` when the file cannot be read or is empty, and
    ``ValueError`` when the URL is not PostgreSQL or already carries a password (two
    sources for one secret: the operator must pick one). The password is registered with
    the log redactor; shown URLs hide it.
    """
    name = environ.get("DATABASE_PASSWORD_FILE")
    if not name:
        return database_url
    try:
        parsed = make_url(database_url)
    except ArgumentError as exc:
        raise ValueError(f"database_url is not a URL: {exc}") from None
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("DATABASE_PASSWORD_FILE is set but database_url is not PostgreSQL")
    if parsed.password is not None:
        raise ValueError(
            "DATABASE_PASSWORD_FILE is set but database_url already has a password: keep one"
        )
    password = SecretRef(file=Path(name)).resolve(environ)
    return parsed.set(password=password.reveal()).render_as_string(hide_password=False)


def demo_missing() -> str | None:
    """What the terminal demo lacks (the ``[demo]`` extra), or None when it can run."""
    for module in _DEMO_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the parent package itself is absent
            found = False
        if not found:
            return (
                f"the demo needs {module.split('.')[0]!r}, from the [demo] extra: "
                "pip install 'helpdesk-bot[demo]' (make run installs it)"
            )
    return None
