"""Durations as people write them in configuration: ``90s``, ``15m``, ``1h``, ``2d``, ``1w``."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import TypeAdapter, ValidationError

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_TIMEDELTA = TypeAdapter(timedelta)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``2d``, ``1w`` (or seconds as a number) -> timedelta."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    match = _DURATION.match(str(text))
    if match:
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        # ISO 8601 (PT15M), which is also how a dumped config writes durations back.
        return _TIMEDELTA.validate_python(text)
    except ValidationError:
        raise ValueError(f"{text!r} is not a duration like 15m, 1h, 2d") from None


def format_duration(value: timedelta) -> str:
    """The shortest way to write ``value`` as ``parse_duration`` reads it (``15m``, ``3d``)."""
    seconds = int(value.total_seconds())
    if seconds != value.total_seconds():
        return f"{value.total_seconds():g}s"
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
