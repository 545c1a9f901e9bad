"""Stored Slack profiles and DM channels, on SQLite and PostgreSQL, shared by replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.slack.client import web_client
from bot.slack.directory import SlackDirectory
from sandboxes.slack import SlackState, Workspace, run_slack_fake
from store.db import Store
from store.slack_directory import SlackDirectoryStore, StoredProfile

PEOPLE = [f"U0P{i:07d}" for i in range(6)]


@pytest.fixture
async def replicas(url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database, as two replicas have."""
    one = await Store.open(url)
    two = await Store.open(url)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


def _profile(user_id: str, updated: int, **changes: object) -> StoredProfile:
    base = StoredProfile(
        user_id=user_id, team_id="T0ACME0001", enterprise_id="", email="ada@example.com",
        email_confirmed=True, real_name="Ada", deleted=False, is_bot=False,
        is_restricted=False, is_ultra_restricted=False, is_external=False,
        tz="Europe/Madrid", locale="en-GB", updated=updated,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_a_profile_is_only_replaced_by_a_newer_one(
    replicas: tuple[Store, Store],
) -> None:
    one = SlackDirectoryStore(replicas[0].engine)
    two = SlackDirectoryStore(replicas[1].engine)
    await one.save_profiles([_profile("U0ADA00001", 100)])
    # The deactivation (an event, newer) wins over a users.list page read before it.
    await two.save_profiles([_profile("U0ADA00001", 200, deleted=True)])
    await one.save_profiles([_profile("U0ADA00001", 150, email="old@example.com")])
    stored = await one.profile("U0ADA00001")
    assert stored is not None
    assert stored.deleted and stored.email == "ada@example.com" and stored.updated == 200
    assert stored.tz == "Europe/Madrid" and stored.locale == "en-GB"
    assert await two.profile("U0NOBODY01") is None


async def test_one_conversations_open_per_person_across_replicas(
    replicas: tuple[Store, Store],
) -> None:
    state = SlackState(
        Workspace.from_dict({
            "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
            "users": [{"id": uid, "name": uid.lower()} for uid in PEOPLE],
        })
    )
    async with run_slack_fake(state) as fake:
        directories = [
            SlackDirectory(
                web_client(fake.token, fake.base_url, None), SlackDirectoryStore(s.engine),
                wait_step=0.02,
            )
            for s in replicas
        ]
        # Every person asked for by both replicas at once, several times over.
        asks = [(d, uid) for uid in PEOPLE for d in directories for _ in range(3)]
        channels = await asyncio.gather(*(d.dm_channel(uid) for d, uid in asks))
        opened = state.calls("conversations.open")
        assert sorted(str(c.params.get("users")) for c in opened) == sorted(PEOPLE)
        for (_, uid), channel in zip(asks, channels, strict=True):
            assert state.dm_owner(channel) == uid
        # A replica started later (nothing in memory) reads it from the store.
        late = SlackDirectory(
            web_client(fake.token, fake.base_url, None), SlackDirectoryStore(replicas[1].engine)
        )
        assert await late.dm_channel(PEOPLE[0]) == state.dm_id(PEOPLE[0])
        assert len(state.calls("conversations.open")) == len(PEOPLE)


async def test_a_failed_open_is_tried_again_and_a_stale_claim_taken_over(
    replicas: tuple[Store, Store],
) -> None:
    store = SlackDirectoryStore(replicas[0].engine)
    assert await store.claim_dm("U0ADA00001", timedelta(seconds=30))
    # Another replica's claim is live: not taken; once stale (its holder died), taken over.
    assert not await store.claim_dm("U0ADA00001", timedelta(seconds=30))
    assert await store.claim_dm("U0ADA00001", timedelta(0))
    await store.release_dm("U0ADA00001")
    assert await store.dm_channel("U0ADA00001") is None
    assert await store.claim_dm("U0ADA00001", timedelta(seconds=30))
    await store.remember_dm("U0ADA00001", "D0ADA00001")
    assert await store.dm_channel("U0ADA00001") == "D0ADA00001"
    assert not await store.claim_dm("U0ADA00001", timedelta(0))


async def test_a_dm_channels_person_is_read_once_and_an_unknown_one_again_later(
    replicas: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    one, two = (SlackDirectoryStore(s.engine) for s in replicas)
    reads: list[str] = []
    real = one.dm_owner

    async def counted(channel: str) -> str | None:
        reads.append(channel)
        return await real(channel)

    monkeypatch.setattr(one, "dm_owner", counted)
    directory = SlackDirectory(web_client("xoxb-unused", "http://127.0.0.1:9/api/", None), one,
                               ttl=30.0, clock=lambda: now[0])
    await two.remember_dm("U0ADA00001", "D0ADA00001")
    for _ in range(3):
        assert await directory.dm_owner("D0ADA00001") == "U0ADA00001"
    assert reads == ["D0ADA00001"]  # a DM channel is its person's for good
    # Nobody known yet: asked again once the directory's ttl has passed, not before.
    assert await directory.dm_owner("D0BOB00001") is None
    await two.remember_dm("U0BOB00001", "D0BOB00001")
    assert await directory.dm_owner("D0BOB00001") is None
    now[0] += 31.0
    assert await directory.dm_owner("D0BOB00001") == "U0BOB00001"
    assert reads == ["D0ADA00001", "D0BOB00001", "D0BOB00001"]
