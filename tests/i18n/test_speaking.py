"""The language of a turn, translation with placeholders and plurals, dates in the locale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.slack.listeners.commands import COMMAND_ACK, command_ack
from bot.views.text import human_duration, in_days, when
from config.i18n import choose, current, language_of, speak, speaking, t, tn


def test_the_first_supported_language_wins() -> None:
    assert language_of("es-ES") == "es" and language_of("pt_BR") == "pt"
    assert language_of("ja-JP") is None and language_of(None) is None
    assert choose(None, "ja-JP", "de-DE", "fr") == "de"
    assert choose(None, "") == "en"


def test_speaking_is_undone_after_the_turn_even_after_speak() -> None:
    assert current() == "en"
    with speaking("fr-FR", "de"):
        assert current() == "fr"
        speak("pt")  # a flow's stored language
        assert current() == "pt"
        speak("xx")  # not supported: unchanged
        assert current() == "pt"
    assert current() == "en"


def test_texts_placeholders_and_plurals_in_each_language() -> None:
    with speaking("de"):
        assert t("Your {label} password never expires.", label="Okta") == (
            "Ihr Okta-Passwort läuft nie ab."
        )
        assert tn("in {count} day", "in {count} days", 1) == "in 1 Tag"
        assert in_days(8) == "in 8 Tagen" and in_days(1) == "morgen"
        assert human_duration(timedelta(days=7)) == "1 Woche"
    with speaking("es"):
        assert human_duration(timedelta(hours=12)) == "12 horas"
        # Numbers are written as the language writes them.
        assert tn("{count} day", "{count} days", 1234) == "1.234 días"
    # English is the source: no catalogue, the text itself.
    assert t("Your {label} password never expires.", label="Okta") == (
        "Your Okta password never expires."
    )


def test_the_slash_commands_ack_in_each_language() -> None:
    """The ack speaks the organisation's language (a code or a locale), else English."""
    assert command_ack("en") == command_ack(None) == command_ack("ja-JP") == COMMAND_ACK
    assert command_ack("es-ES") == "Me pongo con ello: te respondo por mensaje directo."
    assert command_ack("de") == "Wird erledigt: Ich antworte Ihnen per Direktnachricht."
    acks = {command_ack(language) for language in ("en", "es", "fr", "de", "pt")}
    assert len(acks) == 5  # none left in English
    assert current() == "en"  # translating it does not change the turn's language


def _shown(token: str) -> tuple[str, str]:
    """A Slack date token's words beside the time, and its fallback text."""
    head, fallback = token.removeprefix("<!date^").removesuffix(">").split("|")
    return head.split("{time} ", 1)[1], fallback


def test_dates_follow_the_language() -> None:
    moment = datetime(2026, 12, 13, 9, 40, tzinfo=UTC)
    assert _shown(when(moment)) == ("your time", "Sun 13 Dec 2026, 09:40 UTC")
    with speaking("es"):
        assert _shown(when(moment)) == ("tu hora", "dom, 13 dic 2026, 9:40 UTC")
    with speaking("de"):
        assert _shown(when(moment)) == ("Ihre Ortszeit", "So., 13. Dez. 2026, 09:40 UTC")
    with speaking("fr"):
        assert _shown(when(moment)) == ("votre heure", "dim. 13 déc. 2026, 09:40 UTC")
    with speaking("pt"):
        assert _shown(when(moment)) == ("seu horário", "dom., 13 de dez. de 2026, 09:40 UTC")
