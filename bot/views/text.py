"""Small wording helpers shared by every view: times, durations, employee-written text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def when(moment: datetime) -> str:
    """``Sat 05 Dec 2026, 14:10 UTC``."""
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


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
