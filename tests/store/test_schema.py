"""The schema's state read without alembic, and migrations in a process of their own.

``store.schema`` reads the revision graph from the migration files: it must be alembic's
own. A store opened on a database at head imports no alembic; ``helpdesk run`` migrates
in a child first (``store.migrate``), on SQLite and PostgreSQL, and a failure there is
one line without the database's password.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

from store.db import MIGRATIONS, Store
from store.migrate import MigrationFailed, migrate_apart
from store.schema import engine_state, heads, revision_graph, state_of

ROOT = Path(__file__).resolve().parents[2]


def test_the_revision_graph_is_alembics() -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    theirs = {
        script.revision: tuple(sorted(script._normalized_down_revisions))
        for script in scripts.walk_revisions()
    }
    assert {rev: tuple(sorted(d)) for rev, d in revision_graph().items()} == theirs
    assert set(heads()) == set(scripts.get_heads())


def test_states() -> None:
    [head] = heads()
    assert state_of((head,)).at_head
    behind = state_of(("0001",))
    assert not behind.at_head and not behind.unknown and "behind" in behind.describe()
    newer = state_of(("9999_from_the_future",))
    assert newer.unknown == ("9999_from_the_future",) and "does not know" in newer.describe()
    assert state_of(()).describe() == f"behind: at empty, head is {head}"


async def test_migrated_apart_then_opened_without_alembic(url: str) -> None:
    await migrate_apart(url)
    store = await Store.open(url)  # at head: nothing left to do
    try:
        assert (await engine_state(store.engine)).at_head
    finally:
        await store.close()
    # A bot process opening it imports no alembic (mako, pygments) at all.
    code = (
        "import asyncio, sys\n"
        "from store.db import Store\n"
        "async def main():\n"
        "    store = await Store.open(sys.stdin.readline().strip())\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    out = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", code], input=url + "\n", cwd=ROOT,
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert out.stdout.strip() == "[]"
    # Once more, at head: the child is quick and changes nothing.
    await migrate_apart(url)


async def test_a_failed_migration_is_one_line_without_the_password() -> None:
    url = "postgresql://helpdesk:s3cret-pass-word@127.0.0.1:1/nowhere"
    with pytest.raises(MigrationFailed) as caught:
        await migrate_apart(url)
    message = str(caught.value)
    assert "\n" not in message and "s3cret-pass-word" not in message
    assert message.startswith("migrations failed: ") and "Connect" in message
