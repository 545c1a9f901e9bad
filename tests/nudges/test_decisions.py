"""Who is due which nudge: days left, thresholds, keys, settings, and the DM's wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from actions.nudges import (
    Nudge,
    NudgeSource,
    SkipReason,
    assess,
    days_until,
    due_threshold,
    password_version,
    sources_for,
    window_end,
)
from bot.configuration import validate_config
from bot.nudges import render_nudge, render_summary
from config.nudges import NudgeSettings
from config.settings import ConfigError
from connectors.base import DirectoryUser, ExpiringUser, PasswordStatus, UserStatus
from connectors.memory import MemoryDirectory
from store.nudges import NudgeKey
from tests.nudges.helpers import config, providers

LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")
USER = DirectoryUser("okta", "00u1", "ada@example.com", "ada", "Ada", UserStatus.ACTIVE)


@pytest.mark.parametrize(
    ("days_left", "due"),
    [(15, None), (14, 14), (8, 14), (7, 7), (4, 7), (3, 3), (2, 3), (1, 1), (0, 1)],
)
def test_due_threshold_is_the_smallest_reached(days_left: int, due: int | None) -> None:
    assert due_threshold(days_left, (14, 7, 3, 1)) == due


def test_days_left_are_calendar_days_in_the_zone() -> None:
    # 23:30 in London on 1 March; the password expires at 00:30 on 2 March: one day.
    now = datetime(2025, 3, 1, 23, 30, tzinfo=LONDON)
    assert days_until(datetime(2025, 3, 2, 0, 30, tzinfo=LONDON), now, LONDON) == 1
    # The same instants in Tokyo (9 hours ahead) are both on 2 March: today.
    assert days_until(datetime(2025, 3, 2, 0, 30, tzinfo=LONDON), now, TOKYO) == 0
    # Across the spring-forward night (30 March 2025) days still count as days.
    assert days_until(datetime(2025, 3, 31, 9, tzinfo=LONDON), now, LONDON) == 30


def test_window_covers_the_largest_threshold_day() -> None:
    now = datetime(2025, 3, 3, 9, 0, tzinfo=LONDON)
    end = window_end(now, LONDON, 14)
    assert end == datetime(2025, 3, 18, 0, 0, tzinfo=LONDON).astimezone(UTC)
    assert days_until(end - timedelta(microseconds=1), now, LONDON) == 14


def test_password_version_is_the_change_time() -> None:
    changed = datetime(2025, 1, 2, 3, 4, 5, 600, tzinfo=UTC)
    status = PasswordStatus(changed, changed + timedelta(days=90), never_expires=False)
    assert password_version(status) == "2025-01-02T03:04:05.000600+00:00"
    unknown = PasswordStatus(None, changed, never_expires=False)
    assert password_version(unknown) == "expires:2025-01-02T03:04:05+00:00"


def _source(**extra: Any) -> NudgeSource:
    return NudgeSource("okta", "okta", "Okta", reporter=MemoryDirectory(), **extra)


def test_assess_skips_and_keys() -> None:
    settings = NudgeSettings(timezone="Europe/London")
    now = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    source = _source()
    changed = now - timedelta(days=85)
    row = ExpiringUser(USER, PasswordStatus(changed, changed + timedelta(days=90), False))
    nudge = assess(row, source, settings, now)
    assert isinstance(nudge, Nudge)
    assert nudge.days_left == 5 and nudge.key == NudgeKey(
        "okta", "00u1", password_version(row.status) or "", 7
    )
    never = ExpiringUser(USER, PasswordStatus(changed, None, True))
    assert assess(never, source, settings, now) is SkipReason.NEVER_EXPIRES
    gone = ExpiringUser(USER, PasswordStatus(changed, now - timedelta(hours=1), False))
    assert assess(gone, source, settings, now) is SkipReason.EXPIRED
    far = ExpiringUser(USER, PasswordStatus(changed, now + timedelta(days=40), False))
    assert assess(far, source, settings, now) is SkipReason.NOT_DUE


def test_settings_validate_schedule_zone_thresholds() -> None:
    settings = NudgeSettings(thresholds=(1, 7, 14, 3, 7), lease="90s", catch_up="2h")  # type: ignore[arg-type]
    assert settings.thresholds == (14, 7, 3, 1)
    assert settings.lease == timedelta(seconds=90) and settings.catch_up == timedelta(hours=2)
    for bad in ({"schedule": "every day"}, {"schedule": "0 9 * * * *"}, {"timezone": "Mars/Base"},
                {"thresholds": ()}, {"thresholds": (-1,)}, {"lease": "1s"}):
        with pytest.raises(ValueError):
            NudgeSettings(**bad)
    assert NudgeSettings().note_for("corp-ad", "ad") is not None
    assert NudgeSettings().note_for("okta", "okta") is None


def test_nudges_block_in_the_config_file() -> None:
    cfg = config("sqlite:///x.db", "http://slack.invalid/api/", schedule="30 8 * * 1-5",
                 rate_limits={"post_message": {"per_minute": 120, "burst": 10}})
    assert cfg.nudges.schedule == "30 8 * * 1-5"
    assert cfg.nudges.rate_limits.post_message.capacity == 10
    with pytest.raises(ConfigError) as exc:
        validate_config(
            {"connectors": {"m": {"kind": "memory"}}, "nudges": {"schedule": "nope"}}, "x.yaml", {}
        )
    assert any(p.startswith("x.yaml: nudges.schedule:") for p in exc.value.problems)


def test_sources_offer_the_button_only_where_resets_happen() -> None:
    cfg = validate_config(
        {
            "connectors": {"okta": {"kind": "memory"}, "corp": {"kind": "memory"}},
            "capabilities": {"password_reset": "okta", "password_expiry": "okta"},
            "nudges": {"machine_notes": {"corp": "Press Ctrl+Alt+Del."}},
        },
        "test",
        {},
    )
    found = sources_for(cfg, providers(cfg, MemoryDirectory("okta"), MemoryDirectory("corp")))
    by_name = {s.name: s for s in found}
    assert set(by_name) == {"okta", "corp"}  # every connector that reports expiry
    assert by_name["okta"].offer_reset and not by_name["corp"].offer_reset
    assert by_name["corp"].note == "Press Ctrl+Alt+Del." and by_name["okta"].note is None
    only = cfg.model_copy(update={"nudges": cfg.nudges.model_copy(update={"connectors": ("x",)})})
    with pytest.raises(ValueError, match="no connector named 'x'"):
        sources_for(only, providers(cfg, MemoryDirectory("okta")))


def test_ad_people_get_the_machine_note_and_no_button_without_resets() -> None:
    settings = NudgeSettings()
    nudge = Nudge(
        key=NudgeKey("corp", "guid-1", "v1", 3),
        user=USER,
        source="corp",
        label="Active Directory",
        kind="ad",
        expires_at=datetime(2025, 3, 5, 12, tzinfo=UTC),
        days_left=2,
        offer_reset=False,
        note=settings.note_for("corp", "ad"),
    )
    text, blocks = render_nudge(nudge, LONDON)
    assert text == (
        "Your Active Directory password expires in 2 days, on Wednesday 5 March 2025 at 12:00 GMT."
    )
    assert [b["type"] for b in blocks] == ["section", "context"]
    assert "Ctrl+Alt+Del" in blocks[1]["elements"][0]["text"]
    assert blocks[0]["block_id"] == "hd_nudge." + nudge.key.digest
    assert len(blocks[0]["block_id"]) <= 255


def test_summary_text_lists_reasons() -> None:
    from actions.nudges import RunSummary

    start = datetime(2025, 3, 3, 9, tzinfo=UTC)
    summary = RunSummary("r1", "schedule", start, False, start, start + timedelta(minutes=3))
    summary.status, summary.scanned, summary.nudged = "completed", 120, 100
    summary.skipped.update({"already_nudged": 15, "no_slack_account": 5})
    summary.failed.update({"slack_channel_not_found": 1})
    text, blocks = render_summary(summary, LONDON)
    assert text == (
        "Password-expiry nudges, scheduled run of Monday 3 March 2025 at 09:00 GMT: "
        "completed in 3m 00s."
    )
    body = blocks[0]["text"]["text"]
    assert "Scanned 120 · nudged 100 · skipped 20 · failed 1" in body
    assert "Skipped: already nudged 15, no slack account 5." in body
    assert "Failed: slack channel not found 1." in body
