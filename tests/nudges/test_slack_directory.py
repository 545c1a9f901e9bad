"""The Slack directory kept between runs: reused while fresh, resumed where a pass stopped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from store.nudges import SlackDirectoryCache
from tests.nudges.helpers import NUDGED, make_world


async def test_a_second_run_reuses_the_listing_and_looks_up_only_the_missing(
    tmp_path: Path,
) -> None:
    async with make_world(tmp_path) as world:
        first = await world.runner().run()
        assert first is not None and first.stats["slack"]["users_list_pages"] == 1
        # Lou is nudged again for a new threshold; Gus (no Slack) is looked up, not listed.
        again = await world.runner(thresholds=(14, 7, 5, 3, 1)).run()
        assert again is not None and again.nudged == 1
        slack = again.stats["slack"]
        assert slack["users_list_pages"] == 0
        assert slack["cached_directory_entries"] >= 9
        assert slack["calls"].get("users.lookupByEmail", 0) <= 1


async def test_a_stale_directory_is_listed_again(tmp_path: Path) -> None:
    async with make_world(tmp_path, slack_directory_ttl="1s") as world:
        await world.runner().run()
        cache = SlackDirectoryCache(world.store.engine)
        state = await cache.listing()
        assert state is not None and state.completed_at is not None
        later = await world.runner(shift=timedelta(seconds=5), thresholds=(14, 7, 5, 3, 1)).run()
        assert later is not None and later.stats["slack"]["users_list_pages"] >= 1


async def test_an_unfinished_pass_continues_from_its_cursor(tmp_path: Path) -> None:
    async with make_world(tmp_path, slack_lookup="users_list", users_list_page_size=3) as world:
        # A run that was killed after reading the first page left this behind.
        client = AsyncWebClient(token=world.fake.token, base_url=world.fake.base_url)
        page = (await client.users_list(limit=3)).data
        assert isinstance(page, dict)
        cursor = page["response_metadata"]["next_cursor"]
        entries = [
            (m["profile"]["email"].lower(), m["id"]) for m in page["members"]
            if m["profile"].get("email")
        ]
        cache = SlackDirectoryCache(world.store.engine)
        now = datetime.now(UTC)
        await cache.remember(entries, now=now, cursor=cursor, pass_started=now)
        summary = await world.runner().run()
        assert summary is not None and summary.nudged == len(NUDGED)
        assert summary.stats["slack"]["users_list_pages"] == 3  # 10 members: pages 2 to 4
        state = await cache.listing()
        assert state is not None and state.cursor is None and state.completed_at is not None


async def test_a_refused_cursor_starts_the_pass_again(tmp_path: Path) -> None:
    async with make_world(tmp_path, slack_lookup="users_list", users_list_page_size=3) as world:
        cache = SlackDirectoryCache(world.store.engine)
        now = datetime.now(UTC)
        await cache.remember([], now=now, cursor="bm90LWEtY3Vyc29y", pass_started=now)
        summary = await world.runner().run()
        assert summary is not None and summary.nudged == len(NUDGED)
        assert summary.stats["slack"]["users_list_pages"] == 4
