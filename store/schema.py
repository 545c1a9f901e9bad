"""Where a database's schema stands against this version's migrations, read without alembic.

A running bot asks this at every start (is there anything to migrate?) and at every
readiness check; alembic (with mako and pygments) is about 10 MB of memory and is only
needed to migrate, which ``helpdesk run`` does in a short-lived process of its own
(:mod:`store.migrate`). So the revisions are read here from the migration files
themselves: each declares ``revision`` and ``down_revision`` as literals, as alembic's
template writes them (``tests/store`` checks this reading against alembic's own), and the
database's from the ``alembic_version`` table.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

VERSIONS = Path(__file__).with_name("migrations") / "versions"
VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class SchemaState:
    """The revisions stamped in a database next to this version's heads."""

    current: tuple[str, ...]  # empty: never migrated (or no database yet)
    heads: tuple[str, ...]
    unknown: tuple[str, ...] = ()  # stamped by a newer version of the bot

    @property
    def at_head(self) -> bool:
        return set(self.current) == set(self.heads)

    def describe(self) -> str:
        """One line: at head, behind (from what to what), or ahead of this version."""
        now = ", ".join(self.current) or "empty"
        head = ", ".join(self.heads)
        if self.unknown:
            return (
                f"the database is at {now}, which this version does not know (a newer "
                f"version migrated it; this version's head is {head})"
            )
        if self.at_head:
            return f"at head ({head})"
        return f"behind: at {now}, head is {head}"


def _declared(path: Path) -> tuple[str, tuple[str, ...]]:
    """A migration file's ``revision`` and the revisions it follows (``down_revision``)."""
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            values[target.id] = ast.literal_eval(value)
    revision, down = values.get("revision"), values.get("down_revision")
    if not isinstance(revision, str):
        raise ValueError(f"{path.name}: no literal `revision`")
    if down is None:
        return revision, ()
    if isinstance(down, str):
        return revision, (down,)
    if isinstance(down, tuple | list) and all(isinstance(d, str) for d in down):
        return revision, tuple(str(d) for d in down)
    raise ValueError(f"{path.name}: `down_revision` is not a literal revision or tuple of them")


@functools.cache
def revision_graph() -> dict[str, tuple[str, ...]]:
    """Every revision of this version's migrations -> the revisions it follows."""
    graph: dict[str, tuple[str, ...]] = {}
    for path in sorted(VERSIONS.glob("*.py")):
        if path.name != "__init__.py":
            revision, down = _declared(path)
            graph[revision] = down
    return graph


def heads() -> tuple[str, ...]:
    """The revisions no other follows: where ``upgrade head`` leads."""
    graph = revision_graph()
    followed = {down for downs in graph.values() for down in downs}
    return tuple(sorted(rev for rev in graph if rev not in followed))


def state_of(current: tuple[str, ...]) -> SchemaState:
    """The state of a database stamped with ``current``."""
    graph = revision_graph()
    return SchemaState(current, heads(), tuple(rev for rev in current if rev not in graph))


def read_current(sync_conn: Connection) -> tuple[str, ...]:
    """The revisions stamped in the database (none when it was never migrated)."""
    if not inspect(sync_conn).has_table(VERSION_TABLE):
        return ()
    rows = sync_conn.execute(text("SELECT version_num FROM alembic_version"))
    return tuple(sorted(str(row[0]) for row in rows))


async def engine_state(engine: AsyncEngine) -> SchemaState:
    """The schema's state over an engine already open (start-up, readiness checks)."""
    async with engine.connect() as conn:
        current = await conn.run_sync(read_current)
    return state_of(current)
