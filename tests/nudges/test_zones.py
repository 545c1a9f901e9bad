"""Each person's days counted, and dates shown, in their own time zone (stored Slack profile).

And each nudge written in its recipient's language: their stored Slack locale, else the
organisation's.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from actions.nudges import Nudge, NudgeSource, assess, build_limiters
from bot.nudges import SlackApi, SlackNudgeTransport, render_nudge
from config.nudges import NudgeSettings
from connectors.base import DirectoryUser, ExpiringUser, PasswordStatus, UserStatus
from connectors.memory import MemoryDirectory
from store.db import Store
from store.slack_directory import SlackDirectoryStore, StoredProfile

NEW_YORK = ZoneInfo("America/New_York")
USER = DirectoryUser("okta", "00u1", "Ada@Example.com", "ada", "Ada", UserStatus.ACTIVE)
SOURCE = NudgeSource("okta", "okta", "Okta", reporter=MemoryDirectory())
# New York moves to daylight time on Sunday 8 March 2026, between these two moments.
NOW = datetime(2026, 3, 8, 4, 30, tzinfo=UTC)  # Sat 7 Mar 23:30 EST; Sun 8 Mar 04:30 in London
EXPIRES = datetime(2026, 3, 15, 23, 0, tzinfo=UTC)  # Sun 15 Mar 19:00 EDT; 23:00 in London


def test_days_are_calendar_days_in_the_persons_zone_across_a_dst_change() -> None:
    settings = NudgeSettings(timezone="Europe/London")
    row = ExpiringUser(USER, PasswordStatus(datetime(2026, 1, 1, tzinfo=UTC), EXPIRES, False))
    theirs = assess(row, SOURCE, settings, NOW, NEW_YORK)
    schedule = assess(row, SOURCE, settings, NOW)
    assert isinstance(theirs, Nudge) and isinstance(schedule, Nudge)
    # 7 Mar -> 15 Mar in New York (7 days 18.5 hours of elapsed time: a 24-hour count says 7).
    assert theirs.days_left == 8 and theirs.key.threshold == 14
    # 8 Mar -> 15 Mar in London: another day, another threshold.
    assert schedule.days_left == 7 and schedule.key.threshold == 7
    text, _ = render_nudge(theirs, settings.zone)
    assert "in 8 days" in text and "Sunday 15 March 2026 at 19:00 EDT" in text
    text, _ = render_nudge(schedule, settings.zone)
    assert "in 7 days" in text and "Sunday 15 March 2026 at 23:00 GMT" in text


def _profile(
    user_id: str, email: str, tz: str | None, *, deleted: bool = False, locale: str | None = None
) -> StoredProfile:
    return StoredProfile(
        user_id=user_id, team_id="T0ACME0001", enterprise_id="", email=email,
        email_confirmed=True, real_name=user_id, deleted=deleted, is_bot=False,
        is_restricted=False, is_ultra_restricted=False, is_external=False, tz=tz,
        locale=locale, updated=1,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(f"sqlite:///{tmp_path}/zones.sqlite3")
    try:
        yield s
    finally:
        await s.close()


async def test_the_sweep_reads_zones_from_the_stored_profiles(store: Store) -> None:
    profiles = SlackDirectoryStore(store.engine)
    await profiles.save_profiles([
        _profile("U0ADA00001", "ada@example.com", "America/New_York"),
        _profile("U0GONE0001", "gone@example.com", "Asia/Tokyo", deleted=True),
        _profile("U0NOZONE01", "nozone@example.com", None),
        _profile("U0BADZONE1", "bad@example.com", "Mars/Olympus"),
    ])
    settings = NudgeSettings(timezone="Europe/London")
    limiters = build_limiters(settings.rate_limits, ["okta"])
    transport = SlackNudgeTransport(
        SlackApi(None, limiters), settings, None, profiles=profiles  # type: ignore[arg-type]
    )
    await transport.prepare()
    assert transport.zone_for(USER.email) == NEW_YORK  # emails match whatever their case
    for email in ("gone@example.com", "nozone@example.com", "bad@example.com", "x@example.com"):
        assert transport.zone_for(email) is None


RESET_SOURCE = NudgeSource("okta", "okta", "Okta", reporter=MemoryDirectory(), offer_reset=True)
LATER = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)
LATER_EXPIRES = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)


def _user(email: str) -> DirectoryUser:
    return DirectoryUser("okta", email, email, email, email, UserStatus.ACTIVE)


def _nudge(email: str, settings: NudgeSettings) -> Nudge:
    """A nudge to ``email`` due 7 days before ``LATER_EXPIRES``, with "Change it now"."""
    row = ExpiringUser(_user(email), PasswordStatus(datetime(2026, 1, 1, tzinfo=UTC), LATER_EXPIRES,
                                                    False))
    nudge = assess(row, RESET_SOURCE, settings, LATER)
    assert isinstance(nudge, Nudge)
    return nudge


async def test_each_nudge_in_the_recipients_stored_locale(store: Store) -> None:
    profiles = SlackDirectoryStore(store.engine)
    await profiles.save_profiles([
        _profile("U0JOAO0001", "joao@example.com", None, locale="pt-BR"),
        _profile("U0ANNA0001", "anna@example.com", None, locale="de-DE"),
        _profile("U0KENJ0001", "kenji@example.com", None, locale="ja-JP"),
    ])
    settings = NudgeSettings(timezone="Europe/London")
    limiters = build_limiters(settings.rate_limits, ["okta"])
    transport = SlackNudgeTransport(
        SlackApi(None, limiters), settings, None, profiles=profiles,  # type: ignore[arg-type]
        language="fr",
    )
    await transport.prepare()
    text, blocks = transport.render(_nudge("Joao@Example.com", settings))
    assert text.startswith("Sua senha do Okta expira em 7 dias, em ")
    assert "Trocar agora" in json.dumps(blocks, ensure_ascii=False)
    assert blocks[-1]["elements"][0]["value"] == "password_reset:pt"
    text, _ = transport.render(_nudge("anna@example.com", settings))
    assert text == "Ihr Okta-Passwort läuft in 7 Tagen ab, am So., 15. März 2026 um 09:00 GMT."
    # A locale with no catalogue, or no stored profile: the organisation's language.
    for email in ("kenji@example.com", "nobody@example.com"):
        text, _ = transport.render(_nudge(email, settings))
        assert text.startswith("Votre mot de passe Okta expire dans 7 jours, le "), text
    # Without the organisation's language set, English (the source).
    transport.language = None
    text, _ = transport.render(_nudge("kenji@example.com", settings))
    assert text.startswith("Your Okta password expires in 7 days, on Sunday 15 March 2026")
