"""What a new employee notices first: expiry days that agree, offers that will be honoured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from actions.audit import Actor
from actions.nudges.decide import assess
from actions.nudges.model import Nudge, NudgeSource
from actions.self_service import SelfService
from bot.conversation import Conversation
from bot.replies import ActionId
from bot.slack.identity import SlackIdentity
from config.settings import HelpdeskConfig
from connectors.base import ExpiringUser, UserStatus
from connectors.memory import MemoryDirectory
from store.db import Store
from tests.bot.helpers import KeywordRouter, RecordingNotifier, make_config, providers_for

MAX_AGE = timedelta(days=90)


@dataclass
class Desk:
    cfg: HelpdeskConfig
    conv: Conversation
    directory: MemoryDirectory
    store: Store


async def _desk(tmp_path: Path, **overrides: Any) -> Desk:
    cfg = make_config(f"sqlite:///{tmp_path}/s.sqlite3", **overrides)
    store = await Store.open(cfg.database_url)
    directory = MemoryDirectory("mem", max_age=MAX_AGE)
    service = SelfService(cfg, providers_for(directory, cfg), store, RecordingNotifier())
    return Desk(cfg, Conversation(service, KeywordRouter(), store), directory, store)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    d = await _desk(tmp_path)
    yield d
    await d.store.close()


async def expiry_answer(d: Desk, expires_at: datetime, now: datetime, tz: str | None) -> str:
    email = f"p{len(d.directory.accounts)}@example.com"
    d.directory.add_user(email, password_changed=expires_at - MAX_AGE)
    d.conv.expiry.clock = lambda: now
    [reply] = await d.conv.on_message(Actor("U1", email, "P", tz), "when does it expire")
    return reply.text


async def test_the_issue_example_counts_calendar_days_not_whole_24_hours(desk: Desk) -> None:
    # Asked Sat 5 Dec 08:40; it expires Sun 13 Dec 07:00: 7 days 22 hours, 8 calendar days.
    now = datetime(2026, 12, 5, 8, 40, tzinfo=UTC)
    text = await expiry_answer(desk, datetime(2026, 12, 13, 7, 0, tzinfo=UTC), now, "Europe/London")
    assert text == "Your mem password expires in 8 days, on Sun 13 Dec, 07:00 your time."


@pytest.mark.parametrize(
    ("tz", "days", "shown"),
    [
        # 23:00 on Fri 4 Dec in Los Angeles; it expires at 01:00 on Sun 6 Dec there.
        ("America/Los_Angeles", "in 2 days", "Sun 6 Dec, 01:00 your time"),
        # The same two instants in London: Sat 5 Dec 07:00 and Sun 6 Dec 09:00.
        ("Europe/London", "tomorrow", "Sun 6 Dec, 09:00 your time"),
        # Tokyo: Sat 5 Dec 16:00 and Sun 6 Dec 18:00.
        ("Asia/Tokyo", "tomorrow", "Sun 6 Dec, 18:00 your time"),
    ],
)
async def test_day_boundaries_are_the_employees_own(
    desk: Desk, tz: str, days: str, shown: str
) -> None:
    now = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    text = await expiry_answer(desk, datetime(2026, 12, 6, 9, 0, tzinfo=UTC), now, tz)
    assert text == f"Your mem password expires {days}, on {shown}."


async def test_one_minute_before_and_after_midnight(desk: Desk) -> None:
    madrid = ZoneInfo("Europe/Madrid")
    expires = datetime(2026, 12, 7, 0, 5, tzinfo=madrid)
    before = datetime(2026, 12, 5, 23, 59, tzinfo=madrid)
    after = datetime(2026, 12, 6, 0, 1, tzinfo=madrid)
    assert "expires in 2 days, on Mon 7 Dec, 00:05" in await expiry_answer(
        desk, expires, before, "Europe/Madrid"
    )
    assert "expires tomorrow, on Mon 7 Dec, 00:05" in await expiry_answer(
        desk, expires, after, "Europe/Madrid"
    )
    last_minute = datetime(2026, 12, 6, 23, 59, tzinfo=madrid)
    today = await expiry_answer(desk, last_minute, after, "Europe/Madrid")
    assert "expires today, on Sun 6 Dec, 23:59 your time" in today


async def test_across_the_end_of_summer_time(desk: Desk) -> None:
    # Madrid leaves summer time on Sun 25 Oct 2026: Sat 23:30 to Mon 00:30 is 26 hours
    # (floored: 1 day) and two calendar days.
    madrid = ZoneInfo("Europe/Madrid")
    now = datetime(2026, 10, 24, 23, 30, tzinfo=madrid)
    expires = datetime(2026, 10, 26, 0, 30, tzinfo=madrid)
    assert (expires - now) // timedelta(days=1) == 1
    text = await expiry_answer(desk, expires, now, "Europe/Madrid")
    assert text == "Your mem password expires in 2 days, on Mon 26 Oct, 00:30 your time."


async def test_without_a_profile_zone_the_organisations_default_is_named(tmp_path: Path) -> None:
    d = await _desk(tmp_path, organisation={"timezone": "Asia/Tokyo", "it_channel": "#it"})
    try:
        now = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)  # Sat 23:30 in Tokyo
        expires = datetime(2026, 12, 5, 15, 30, tzinfo=UTC)  # Sun 00:30 in Tokyo
        for tz in (None, "Not/AZone"):
            text = await expiry_answer(d, expires, now, tz)
            assert text == "Your mem password expires tomorrow, on Sun 6 Dec, 00:30 JST."
        assert d.cfg.nudges.timezone == "Asia/Tokyo"  # the sweep counts in the same zone
    finally:
        await d.store.close()


async def test_a_date_in_another_year_names_the_year(desk: Desk) -> None:
    now = datetime(2026, 12, 30, 12, 0, tzinfo=UTC)
    text = await expiry_answer(desk, datetime(2027, 1, 2, 12, 0, tzinfo=UTC), now, "UTC")
    assert text == "Your mem password expires in 3 days, on Sat 2 Jan 2027, 12:00 your time."


@pytest.mark.parametrize("hour", [0, 7, 8, 9, 23])
async def test_the_chat_answer_and_the_nudge_agree(tmp_path: Path, hour: int) -> None:
    d = await _desk(tmp_path, organisation={"timezone": "America/New_York", "it_channel": "#it"})
    try:
        now = datetime(2026, 12, 5, 8, 40, tzinfo=UTC)
        expires = datetime(2026, 12, 12, hour, 0, tzinfo=UTC)
        text = await expiry_answer(d, expires, now, None)
        user = next(iter(d.directory.accounts.values())).user
        row = ExpiringUser(user, await d.directory.password_status(user))
        source = NudgeSource("mem", "memory", "mem", d.directory, offer_reset=True)
        nudge = assess(row, source, d.cfg.nudges, now)
        assert isinstance(nudge, Nudge)
        assert f"expires in {nudge.days_left} days," in text
    finally:
        await d.store.close()


def test_the_slack_profile_zone_is_carried_on_the_actor() -> None:
    identity = SlackIdentity(None, "#it-help")  # type: ignore[arg-type]  # _check calls nothing
    user = {"id": "U7", "tz": "Europe/Madrid", "profile": {"email": "u7@example.com"}}
    assert identity._check(user).tz == "Europe/Madrid"
    assert identity._check({**user, "tz": None}).tz is None


# -- an account no self-service action can change -------------------------------------------


@pytest.mark.parametrize(
    ("status", "words"),
    [(UserStatus.SUSPENDED, "suspended"), (UserStatus.DEPROVISIONED, "deactivated")],
)
async def test_an_inactive_account_is_not_offered_what_would_be_refused(
    desk: Desk, status: UserStatus, words: str
) -> None:
    user = desk.directory.add_user("gone@example.com", status=status)
    me = Actor("U5", "gone@example.com", "Gone")
    for message in ("reset my password", "I'm locked out", "reset my mfa"):
        [reply] = await desk.conv.on_message(me, message)
        assert f"account is {words}" in reply.text and "#it-help" in reply.text, message
        assert not reply.buttons
    assert "start_password_reset" not in desk.directory.calls
    # An expired password on such an account: no "Reset my password" either.
    desk.directory.accounts[user.id].password_changed = datetime.now(UTC) - MAX_AGE * 2
    [expired] = await desk.conv.on_message(me, "when does my password expire")
    assert "expired on" in expired.text and words in expired.text and not expired.buttons
    rows = await desk.store.list_audit(actor="U5")
    assert {r.detail["reason"] for r in rows} == {"account_inactive"}


async def test_an_expired_password_on_an_active_account_is_offered_a_reset(desk: Desk) -> None:
    desk.directory.add_user("old@example.com", password_changed=datetime.now(UTC) - MAX_AGE * 2)
    [expired] = await desk.conv.on_message(Actor("U6", "old@example.com"), "expire?")
    assert [b.action for b in expired.buttons] == [ActionId.START]
