"""Migration 0005 carries existing jobs and leases over, on SQLite and PostgreSQL, and back."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from store.db import MIGRATIONS, Store, normalise_url


async def _to(engine: AsyncEngine, revision: str, *, down: bool = False) -> None:
    def run(conn: Connection) -> None:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


OLD_ROWS = [
    "INSERT INTO access_requests (id, requester, requester_email, directory_user_id, group_key,"
    " group_name, provider, provider_group, provider_group_id, state, approvals_required,"
    " approvals, channels, correlation_id, created_at, updated_at, expires_at) VALUES"
    " ('r1', 'U1', 'a@example.com', 'u1', 'figma', 'Figma', 'mem', 'figma', 'g1', 'approved',"
    " 1, 1, '[]', 'c1', '2025-01-01 00:00:00', '2025-01-01 00:00:00', '2025-01-04 00:00:00')",
    "INSERT INTO jobs (kind, request_id, state, run_at, attempts, lease_owner, locked_until,"
    " created_at) VALUES ('fulfil', 'r1', 'queued', '2025-01-01 00:00:00', 1, 'old-owner',"
    " '2025-01-01 00:02:00', '2025-01-01 00:00:00')",
    "INSERT INTO action_leases (key, holder, expires_at) VALUES"
    " ('U1:mfa_reset', 'h1', '2025-01-01 00:05:00')",
    "INSERT INTO nudge_leases (name, holder, acquired_at, expires_at) VALUES"
    " ('password-nudges', 'host:1:x', '2025-01-01 00:00:00', '2025-01-01 00:01:00')",
]


async def test_jobs_and_leases_are_carried_over(url: str) -> None:
    engine = create_async_engine(normalise_url(url))
    try:
        await _to(engine, "0004")
        async with engine.begin() as conn:
            for statement in OLD_ROWS:
                await conn.execute(text(statement))
        store = await Store.open(url)  # migrates to the latest revision
        try:
            [job] = await store.jobs.of_request("r1")
            assert (job.key, job.kind, job.owner, job.attempts) == (
                "fulfil:r1", "fulfil", "old-owner", 1
            )
            lease = await store.leases.state("U1:mfa_reset")
            assert lease is not None and lease.holder == "h1" and not lease.live
        finally:
            await store.close()
        tables = await _tables(engine)
        assert {"leases", "jobs"} <= tables and not {"nudge_leases", "action_leases"} & tables
        # And back: the old schema, with the access job and the lease in it.
        await _to(engine, "0004", down=True)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT kind, lease_owner FROM jobs"))).all()
            assert [tuple(r) for r in rows] == [("fulfil", "old-owner")]
            keys = (await conn.execute(text("SELECT key FROM action_leases"))).scalars().all()
            assert list(keys) == ["U1:mfa_reset"]
        await _to(engine, "head")
    finally:
        await engine.dispose()
