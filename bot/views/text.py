"""Small wording helpers shared by every view: times, durations, employee-written text."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.i18n import SOURCE, current, duration_words, format_skeleton, t, tn


def when(moment: datetime) -> str:
    """``moment`` in each reader's own time zone: ``Dec 5th, 14:10 your time`` in Slack.

    A Slack date token (https://api.slack.com/reference/surfaces/formatting#date-formatting):
    Slack renders it in the time zone of whoever reads it (an approver card in a
    channel, the App Home), in their 12/24-hour preference. Its fallback, for a
    client that cannot render it and for the terminal, is the time in UTC in the
    language of the message: ``Sat 05 Dec 2026, 14:10 UTC``, ``sáb, 5 dic 2026, 14:10 UTC``.
    Use it only in mrkdwn, never in plain text.
    """
    if current() == SOURCE:
        fallback = moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")
    else:
        day, hour = format_skeleton("yMMMEd", moment, UTC), format_skeleton("Hm", moment, UTC)
        fallback = f"{day}, {hour} UTC"
    stamp = int(moment.timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}}, {{time}} {t('your time')}|{fallback}>"


_DATE_TOKEN = re.compile(r"<!date\^(\d+)\^([^|>]*)\|([^>]*)>")


def dates_as_text(text: str, tz: str | None = None) -> str:
    """Slack date tokens (``when``) as plain text, for the terminal demo.

    In the reader's zone (``tz``, a Slack profile's) as Slack would show them, else
    their fallback (UTC).
    """
    zone, theirs = person_zone(tz, ZoneInfo("UTC"))
    if not theirs:
        return _DATE_TOKEN.sub(lambda m: m.group(3), text)

    def shown(match: re.Match[str]) -> str:
        moment = datetime.fromtimestamp(int(match.group(1)), UTC)
        # The token's own words after ``{time}`` ("your time", "tu hora"): the message's language.
        label = match.group(2).rpartition("{time}")[2].strip()
        return local_when(moment, zone, theirs=True, label=label or None)

    return _DATE_TOKEN.sub(shown, text)


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
        return t("today")
    return t("tomorrow") if days == 1 else tn("in {count} day", "in {count} days", days)


def local_when(
    moment: datetime, zone: ZoneInfo, *, theirs: bool, today: date | None = None,
    label: str | None = None,
) -> str:
    """``Sun 13 Dec, 09:40 your time`` (``theirs``), else ``Sun 13 Dec, 09:40 CET``.

    The year is added when it is not ``today``'s year.
    """
    local = moment.astimezone(zone)
    other_year = today is not None and local.year != today.year
    if current() == SOURCE:
        day = f"{local:%a} {local.day} {local:%b}" + (f" {local.year}" if other_year else "")
    else:
        day = format_skeleton("yMMMEd" if other_year else "MMMEd", local, zone)
    if label is None:
        label = t("your time") if theirs else (local.tzname() or str(zone))
    return f"{day}, {local:%H:%M} {label}"


def human_duration(delta: timedelta) -> str:
    """``1 week``, ``30 days``, ``12 hours``: the largest unit that divides it exactly."""
    return duration_words(delta)


def escape(text: str) -> str:
    """Employee-written text shown in mrkdwn: no mentions, links or @channel smuggled in."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
