"""Store round trips of one approval click: up to the group add, and for the whole decision.

Counts the SQL statements the store's engine sends (each one is a round trip to the
database; ``BEGIN``/``COMMIT`` are counted as the driver sends them) while an approver's
click is decided through the access workflow on the in-memory directory, and where the
group add happens among them.

    python bench/decision_trips.py [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from config.logging import configure_logging  # noqa: E402
from store.db import Store  # noqa: E402
from tests.access.helpers import (  # noqa: E402
    APPROVER_A,
    REQUESTER,
    Clock,
    access_directory,
    build_service,
)
from tests.conftest import fresh_pg_database  # noqa: E402


@contextlib.asynccontextmanager
async def _database(kind: str) -> AsyncIterator[str]:
    if kind == "postgresql":
        async with fresh_pg_database() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="helpdesk-trips-") as tmp:
            yield f"sqlite:///{tmp}/trips.sqlite3"


async def main(kind: str, requests: int = 5) -> dict[str, Any]:
    configure_logging("WARNING")
    async with _database(kind) as url:
        store = await Store.open(url)
        directory = access_directory()
        service, _ = build_service(store, directory, Clock())
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement.split(None, 1)[0].upper())

        at_add: list[int] = []
        add = directory.add_to_group

        async def counted_add(*args: Any, **kwargs: Any) -> Any:
            at_add.append(len(statements))
            return await add(*args, **kwargs)

        directory.add_to_group = counted_add  # type: ignore[method-assign]
        before, total = [], []
        try:
            for _ in range(requests):
                # One open request at a time: each is decided, then the membership undone.
                sub = await service.submit(REQUESTER, "figma-editors")
                statements.clear()
                at_add.clear()
                event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
                try:
                    await service.decide(APPROVER_A, sub.snapshot.request.id, approve=True)
                finally:
                    event.remove(store.engine.sync_engine, "before_cursor_execute", seen)
                before.append(at_add[0])
                total.append(len(statements))
                await directory.remove_from_group(
                    *await _member(directory, sub.snapshot.request.directory_user_id)
                )
        finally:
            await store.close()
    return {"bench": "decision_round_trips", "database": kind,
            "statements_before_add": max(before), "statements_per_decision": max(total)}


async def _member(directory: Any, user_id: str) -> tuple[Any, Any]:
    user = await directory.get_user(user_id)
    group = await directory.find_group("figma-editors")
    return user, group


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.database))))
