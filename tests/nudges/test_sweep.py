"""A run end to end: the directory sweep, Slack lookups, the DMs, the summary, exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from actions.nudges import GroupMemberLister
from bot.nudges import SlackNudgeTransport
from connectors.base import DirectoryGroup, UserStatus
from connectors.memory import MemoryDirectory
from store.nudges import SENT
from tests.nudges.helpers import (
    IT_CHANNEL,
    NUDGED,
    PEOPLE,
    ZONE,
    changed_for,
    make_world,
    today,
)

SLACK_OF = {p.key: p.slack for p in PEOPLE if p.slack is not None}


async def test_first_run_nudges_the_expected_people_once(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        summary = await world.runner().run()
        assert summary is not None and summary.status == "completed", summary
        nudged = {m.channel for m in world.all_nudges()}
        assert {world.slack.dm_id(SLACK_OF[k]) for k in NUDGED} == nudged
        assert summary.nudged == len(NUDGED) == len(world.all_nudges())
        # Fay never expires and Eve's expiry is past the window: the directory skips both.
        assert summary.scanned == 8
        assert dict(summary.skipped) == {"excluded_group": 1, "no_slack_account": 2}
        assert summary.failed_total == 0
        rows = await world.nudges.records()
        assert sorted((r.user_id, r.threshold, r.state) for r in rows) == sorted(
            (world.user(k).id, t, SENT)
            for k, t in (("ada", 14), ("bob", 7), ("cy", 3), ("dee", 1), ("lou", 7))
        )
        assert all(r.ts and r.channel for r in rows)


async def test_the_dm_says_when_how_long_and_offers_the_change(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        await world.runner().run()
        [message] = world.nudges_to(SLACK_OF["bob"])
        assert message.text.startswith("Your mem password expires in 6 days, on ")
        assert message.blocks is not None
        body = message.blocks[0]["text"]["text"]
        assert "expires in 6 days*" in body and "<!date^" in body
        [actions] = [b for b in message.blocks if b["type"] == "actions"]
        [button] = actions["elements"]
        assert button["action_id"] == "hd_start.0" and button["value"] == "password_reset:en"
        assert button["text"]["text"] == "Change it now"
        [day_before] = world.nudges_to(SLACK_OF["dee"])
        assert "expires tomorrow" in day_before.text


async def test_second_run_sends_nothing_new(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        await world.runner().run()
        again = await world.runner().run()
        assert again is not None and again.nudged == 0
        assert again.skipped["already_nudged"] == len(NUDGED)
        assert len(world.all_nudges()) == len(NUDGED)


async def test_each_threshold_once_and_a_new_password_ends_them(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        await world.runner().run()
        # Bob changes his password; four days later Ada (6 days left) is due her 7-day
        # nudge and Lou (1 day left) his 1-day one. Cy's and Dee's passwords expired.
        bob = world.user("bob")
        world.directory.accounts[bob.id].password_changed = changed_for(80)
        # 09:00 four days from now, so the result does not depend on the hour the test runs.
        nine = datetime.combine(today() + timedelta(days=4), time(9), tzinfo=ZONE)
        shift = nine - datetime.now(UTC)
        later = await world.runner(shift=shift).run()
        assert later is not None and later.nudged == 2
        assert [len(world.nudges_to(SLACK_OF[k])) for k in ("ada", "lou", "bob")] == [2, 2, 1]
        assert later.skipped["already_expired"] == 3  # Cy, Dee, and Hal (no Slack anyway)
        rows = {(r.user_id, r.threshold) for r in await world.nudges.records()}
        assert (world.user("ada").id, 7) in rows and (world.user("lou").id, 1) in rows
        # The same day again: nothing new.
        again = await world.runner(shift=shift).run()
        assert again is not None and again.nudged == 0


async def test_same_password_next_threshold(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        first = await world.runner().run()
        assert first is not None
        # Same password (same change time), and the 7-day threshold already used: Lou
        # (5 days left) is not nudged again; thresholds reached later are new keys.
        again = await world.runner(thresholds=(14, 7, 5, 3, 1)).run()
        assert again is not None and again.nudged == 1  # Lou, for the new 5-day threshold
        assert len(world.nudges_to(SLACK_OF["lou"])) == 2


async def test_summary_goes_to_the_it_channel(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        await world.runner().run()
        [summary] = world.slack.messages_to(IT_CHANNEL)
        assert "Password-expiry nudges, manual run: completed" in summary.text
        body = summary.visible_text
        assert "Scanned 8 · nudged 5 · skipped 3 · failed 0" in body
        assert "no slack account 2" in body and "excluded group 1" in body


async def test_without_quiet_mode_no_slack_is_a_failure(tmp_path: Path) -> None:
    async with make_world(tmp_path, quiet_without_slack=False) as world:
        summary = await world.runner().run()
        assert summary is not None
        assert summary.failed == {"no_slack_account": 2}
        assert "no_slack_account" not in summary.skipped


async def test_each_lookup_strategy_finds_the_same_people(tmp_path: Path) -> None:
    for strategy in ("users_list", "lookup_by_email", "auto"):
        async with make_world(tmp_path / strategy, slack_lookup=strategy) as world:
            summary = await world.runner().run()
            assert summary is not None and summary.nudged == len(NUDGED), strategy
            assert summary.skipped["no_slack_account"] == 2
            calls = summary.stats["slack"]["calls"]
            if strategy == "users_list":
                assert "users.lookupByEmail" not in calls
            if strategy == "lookup_by_email":
                assert "users.list" not in calls
                assert calls["users.lookupByEmail"] == 7  # each due person, once


async def test_locked_out_people_are_nudged_and_deactivated_slack_skipped(
    tmp_path: Path,
) -> None:
    async with make_world(tmp_path) as world:
        assert world.user("lou").status is UserStatus.LOCKED_OUT
        await world.runner().run()
        assert len(world.nudges_to(SLACK_OF["lou"])) == 1
        assert world.nudges_to(SLACK_OF["hal"]) == []


async def test_transport_is_per_run_and_closed(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        runner = world.runner()
        made: list[SlackNudgeTransport] = []
        factory = runner.transport_factory

        def track() -> SlackNudgeTransport:
            transport = factory()
            assert isinstance(transport, SlackNudgeTransport)
            made.append(transport)
            return transport

        runner.transport_factory = track
        await runner.run()
        await runner.run()
        assert len(made) == 2 and made[0] is not made[1]
        assert all(not t.recipients._tasks for t in made)


async def test_prune_forgets_old_records(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        await world.runner().run()
        rows = await world.nudges.records()
        newest = max(r.claimed_at for r in rows)
        assert await world.nudges.prune(older_than=newest + timedelta(seconds=1)) == len(rows)


class ListingDirectory(MemoryDirectory):
    """A memory directory that can list a group's members (the optional role)."""

    async def iter_group_member_ids(self, group: DirectoryGroup) -> AsyncIterator[list[str]]:
        self.calls.append("iter_group_member_ids")
        yield sorted(self.members[group.id])


async def test_group_members_are_listed_once_when_the_connector_can(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        lister = ListingDirectory("mem", max_age=world.directory.max_age, page_size=3)
        lister.accounts, lister.groups = world.directory.accounts, world.directory.groups
        lister.members = world.directory.members
        assert isinstance(lister, GroupMemberLister)
        world.providers.connectors["mem"] = lister
        summary = await world.runner().run()
        assert summary is not None and summary.skipped["excluded_group"] == 1
        assert lister.calls.count("iter_group_member_ids") == 1
        assert "is_member" not in lister.calls


async def test_membership_is_checked_per_person_otherwise(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        summary = await world.runner().run()
        assert summary is not None and summary.skipped["excluded_group"] == 1
        assert world.directory.calls.count("is_member") == 8  # each person due


async def test_a_missing_exclude_group_is_reported(tmp_path: Path) -> None:
    async with make_world(tmp_path, exclude_groups=["no-nudge", "typo-group"]) as world:
        summary = await world.runner().run()
        assert summary is not None and summary.status == "completed"
        assert summary.errors == ["mem: no group named 'typo-group' to exclude"]
        [message] = world.slack.messages_to(IT_CHANNEL)
        assert "Problem: mem: no group named 'typo-group' to exclude" in message.visible_text
