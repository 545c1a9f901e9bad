"""What the bot says, in the employee's language: gettext catalogues read through Babel.

English is the source: every text is written in English in the code, wrapped in
``t()`` (``tn()`` when it depends on a count, ``N_()`` to mark a text translated
later). ``make messages`` extracts them into ``config/locales/helpdesk.pot`` and
updates ``config/locales/<lang>/LC_MESSAGES/helpdesk.po``; the catalogues are
compiled in memory the first time a language is spoken (nothing to build from a
clean clone). A message missing from a catalogue is shown in English.

The language of a turn is context, set where the turn starts (``speaking``):
the message's language, else the person's Slack locale, else the organisation's
default (``organisation.language``). Placeholders are ``str.format`` names
(``{label}``), filled after translation.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

#: Where the catalogues live: ``<lang>/LC_MESSAGES/helpdesk.po`` and the template.
LOCALES_DIR = Path(__file__).with_name("locales")
DOMAIN = "helpdesk"
#: The source language and the languages with a catalogue.
SOURCE = "en"
LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "pt")

_current: ContextVar[str | None] = ContextVar("helpdesk_language", default=None)


def language_of(locale: str | None) -> str | None:
    """The supported language of a locale (``es-ES``, ``pt_BR``, ``de``); None if none."""
    if not locale:
        return None
    code = locale.replace("_", "-").split("-", 1)[0].strip().lower()
    return code if code in LANGUAGES else None


def current() -> str:
    """The language of the current turn; English (the source) outside any turn."""
    return _current.get() or SOURCE


def choose(*candidates: str | None) -> str:
    """The first supported language among ``candidates`` (locales or codes), else English.

    Callers list the message's language, the person's locale, then the organisation's.
    """
    for candidate in candidates:
        found = language_of(candidate)
        if found is not None:
            return found
    return SOURCE


def accepted(header: str) -> list[str]:
    """A browser's ``Accept-Language`` (``es-ES,es;q=0.9,en;q=0.5``), most wanted first."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and weight > 0:
            ranked.append((-weight, index, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


@contextlib.contextmanager
def speaking(*candidates: str | None) -> Iterator[str]:
    """Speak the first supported of ``candidates`` (``choose``) inside the block."""
    language = choose(*candidates)
    token = _current.set(language)
    try:
        yield language
    finally:
        _current.reset(token)


def speak(language: str | None) -> None:
    """Switch the current turn to ``language`` when it is supported (a flow's stored language).

    Undone when the turn's ``speaking`` block ends.
    """
    found = language_of(language)
    if found is not None:
        _current.set(found)


@functools.cache
def translations(language: str) -> NullTranslations:
    """``language``'s catalogue, compiled in memory once; English (the source) has none."""
    po = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == SOURCE or not po.is_file():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue; it is translated where it is shown (``t(text)``)."""
    return message


def t(message: str, /, **values: Any) -> str:
    """``message`` in the current language, its ``{placeholders}`` filled with ``values``."""
    text = translations(current()).gettext(message)
    return text.format(**values) if values else text


def tn(singular: str, plural: str, count: int, /, **values: Any) -> str:
    """The singular or plural form for ``count`` in the current language; ``{count}`` is set."""
    text = translations(current()).ngettext(singular, plural, count)
    return text.format(count=format_number(count), **values)


def _locale() -> Locale:
    try:
        return Locale.parse(current())
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE)


def format_number(value: float) -> str:
    """``1,234`` / ``1.234`` / ``1 234`` as the current language writes it."""
    return babel_numbers.format_decimal(value, locale=_locale())


def format_date(day: date, form: str = "medium") -> str:
    """A date as the current language writes it (``Dec 13, 2026``, ``13 dic 2026``)."""
    return babel_dates.format_date(day, form, locale=_locale())


def format_skeleton(skeleton: str, moment: datetime | date, zone: tzinfo | None = None) -> str:
    """``moment`` by a CLDR skeleton (``MMMEd``, ``Hm``) in the current language."""
    if isinstance(moment, datetime):
        return babel_dates.format_skeleton(skeleton, moment, tzinfo=zone, locale=_locale())
    return babel_dates.format_skeleton(skeleton, moment, locale=_locale())


def duration_words(delta: timedelta, *, weeks: bool = True) -> str:
    """``1 week``, ``30 days``, ``12 hours``: the largest unit that divides ``delta`` exactly.

    In the current language; ``weeks=False`` counts a week in days.
    """
    seconds = int(delta.total_seconds())
    units = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60))
    for unit, size in units if weeks else units[1:]:
        if seconds >= size and seconds % size == 0:
            return _UNIT_WORDS[unit](seconds // size)
    return tn("{count} second", "{count} seconds", seconds)


_UNIT_WORDS: dict[str, Callable[[int], str]] = {
    "week": lambda n: tn("{count} week", "{count} weeks", n),
    "day": lambda n: tn("{count} day", "{count} days", n),
    "hour": lambda n: tn("{count} hour", "{count} hours", n),
    "minute": lambda n: tn("{count} minute", "{count} minutes", n),
}


__all__ = [
    "LANGUAGES",
    "LOCALES_DIR",
    "N_",
    "SOURCE",
    "accepted",
    "choose",
    "current",
    "duration_words",
    "format_date",
    "format_number",
    "format_skeleton",
    "language_of",
    "speak",
    "speaking",
    "t",
    "tn",
]
