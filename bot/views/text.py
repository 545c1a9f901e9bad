"""Small wording helpers shared by every view: times, durations, employee-written text."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def when(moment: datetime) -> str:
    """``moment`` in each reader's own time zone: ``Dec 5th, 14:10 your time`` in Slack.

    A Slack date token (https://api.slack.com/reference/surfaces/formatting#date-formatting):
    Slack renders it in the time zone of whoever reads it (an approver card in a
    channel, the App Home), in their 12/24-hour preference. Its fallback, for a
    client that cannot render it and for the terminal, is the time in UTC,
    ``Sat 05 Dec 2026, 14:10 UTC``. Use it only in mrkdwn, never in plain text.
    """
    fallback = moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}}, {{time}} your time|{fallback}>"


_DATE_TOKEN = re.compile(r"<!date\^(\d+)\^[^|>]*\|([^>]*)>")


def dates_as_text(text: str, tz: str | None = None) -> str:
    """Slack date tokens (``when``) as plain text, for the terminal demo.

    In the reader's zone (``tz``, a Slack profile's) as Slack would show them, else
    their fallback (UTC).
    """
    zone, theirs = person_zone(tz, ZoneInfo("UTC"))
    if not theirs:
        return _DATE_TOKEN.sub(lambda m: m.group(2), text)
    return _DATE_TOKEN.sub(
        lambda m: local_when(datetime.fromtimestamp(int(m.group(1)), UTC), zone, theirs=True),
        text,
    )


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``1 factor``, ``2 factors``, ``0 factors``."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def person_zone(tz: str | None, default: ZoneInfo) -> tuple[ZoneInfo, bool]:
    """The zone of a Slack profile's ``tz``, else ``default``; True when it is the person's."""
    if tz:
        try:
            return ZoneInfo(tz), True
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default, False


def in_days(days: int) -> str:
    """``today``, ``tomorrow``, ``in 8 days``: ``days`` are calendar days (``days_until``)."""
    if days <= 0:
        return "today"
    return "tomorrow" if days == 1 else f"in {days} days"


def local_when(moment: datetime, zone: ZoneInfo, *, theirs: bool, today: date | None = None) -> str:
    """``Sun 13 Dec, 09:40 your time`` (``theirs``), else ``Sun 13 Dec, 09:40 CET``.

    The year is added when it is not ``today``'s year.
    """
    local = moment.astimezone(zone)
    day = f"{local:%a} {local.day} {local:%b}"
    if today is not None and local.year != today.year:
        day += f" {local.year}"
    label = "your time" if theirs else (local.tzname() or str(zone))
    return f"{day}, {local:%H:%M} {label}"


def human_duration(delta: timedelta) -> str:
    """``1 week``, ``30 days``, ``12 hours``: the largest unit that divides it exactly."""
    seconds = int(delta.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
    return f"{seconds} seconds"


def escape(text: str) -> str:
    """Employee-written text shown in mrkdwn: no mentions, links or @channel smuggled in."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
