"""A change notice names the time in the employee's own zone, else the organisation's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from actions.audit import Actor
from actions.notices.links import LinkSigner
from actions.notices.service import Change, ChangeNotices
from config.notices import NoticeSettings
from connectors.base import Capability, DirectoryUser, UserStatus
from store.db import Store

UTC_ZONE = ZoneInfo("UTC")
AT = datetime(2026, 12, 13, 8, 40, tzinfo=UTC)
USER = DirectoryUser("okta", "00u1", "ada@example.com", "ada@example.com", "Ada", UserStatus.ACTIVE)


def _notices(zone: ZoneInfo = UTC_ZONE) -> ChangeNotices:
    nothing = cast(Any, None)
    return ChangeNotices(NoticeSettings(), nothing, nothing, nothing, LinkSigner(b"k" * 32),
                         zone=zone)


def _change(tz: str | None) -> Change:
    actor = Actor("U0ADA00001", "ada@example.com", "Ada", tz=tz)
    return Change(actor, USER, "Okta", Capability.PASSWORD_RESET, "a push", AT)


def test_the_employees_own_zone() -> None:
    _, body = _notices().email_text(_change("Europe/Berlin"), None)
    assert "On 13 December 2026 at 09:40 CET," in body
    assert "on 13 December 2026 at 09:40 CET," in _notices().dm_text(_change("Europe/Berlin"), None)


def test_the_organisations_zone_without_one_and_utc_by_default() -> None:
    _, body = _notices(ZoneInfo("America/New_York")).email_text(_change(None), None)
    assert "On 13 December 2026 at 03:40 EST," in body
    _, body = _notices().email_text(_change("Not/AZone"), None)
    assert "On 13 December 2026 at 08:40 UTC," in body


class _Security:
    def __init__(self) -> None:
        self.notices: list[str] = []

    async def security_notice(self, text: str) -> None:
        self.notices.append(text)


class _DeadMailer:
    async def send(self, to: Sequence[str], subject: str, text: str) -> None:
        raise OSError("connection refused")


async def test_the_security_channel_reads_the_organisations_zone(tmp_path: Path) -> None:
    """Many people read the channel: the organisation's zone, named, not UTC."""
    store = await Store.open(f"sqlite:///{tmp_path}/s.sqlite3")
    security = _Security()
    try:
        notices = ChangeNotices(NoticeSettings(), store, cast(Any, None), security,
                                LinkSigner(b"k" * 32), mailer=_DeadMailer(),
                                zone=ZoneInfo("Europe/Berlin"))
        await notices.send(_change("America/New_York"))
    finally:
        await store.close()
    [alert] = security.notices
    assert "on 13 December 2026 at 09:40 CET failed (OSError)" in alert
