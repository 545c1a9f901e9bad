"""Migrations in a short-lived process: ``helpdesk run`` starts here, then opens its store.

Migrating needs alembic, mako and pygments (about 10 MB of memory that would stay in the
bot for its whole life after a few milliseconds of use). ``migrate_apart(url)`` runs
``python -m store.migrate`` (the same ``Store.open`` as always: the advisory lock on
PostgreSQL, so replicas starting together migrate once), and the bot's own ``Store.open``
then finds the database at head and imports none of it (:mod:`store.schema`).

The database URL, which may hold a password, goes to the child on its standard input,
never on its command line; the child reports a failure as one line on its standard error,
without the URL.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from config.logging import scrub_text
from config.secret_values import Secret
from store.db import Store

#: Seconds the migrations may take (a large table's new index on PostgreSQL, say).
MIGRATE_TIMEOUT = 600.0
_ROOT = str(Path(__file__).resolve().parents[1])  # where ``store`` is importable from


class MigrationFailed(RuntimeError):
    """The migration process failed; the message is its own one-line account."""


async def migrate_apart(url: str) -> None:
    """Bring the database at ``url`` to head in a process of its own.

    An in-memory SQLite database is another database in another process: nothing to do
    here (``Store.open`` migrates it). Raises ``MigrationFailed``.
    """
    if ":memory:" in url:
        return
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH", "")) if p)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "store.migrate",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env=env,
    )
    try:
        async with asyncio.timeout(MIGRATE_TIMEOUT):
            _, err = await proc.communicate(url.encode() + b"\n")
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise MigrationFailed(
            f"the migrations did not finish within {MIGRATE_TIMEOUT:g}s"
        ) from None
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise MigrationFailed(lines[-1] if lines else f"exit {proc.returncode}")


async def _upgrade(url: str) -> None:
    store = await Store.open(url)
    await store.close()


def main() -> int:
    url = sys.stdin.readline().strip()
    if not url:
        print("migrations: no database URL on standard input", file=sys.stderr)
        return 2
    from sqlalchemy.engine import make_url

    password = make_url(url).password
    if password:
        Secret(str(password))  # known to scrub_text from here on
    try:
        asyncio.run(_upgrade(url))
    except Exception as exc:  # one line, never the URL (it may hold a password)
        text = scrub_text(str(exc).replace(url, "<database url>")).splitlines()
        detail = text[0][:300] if text else ""
        print(f"migrations failed: {type(exc).__name__}: {detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
