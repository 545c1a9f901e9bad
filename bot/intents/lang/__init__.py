"""The languages the router understands, each with its own words and stemmer.

``LANGUAGES`` lists them (ISO 639-1, English first); ``language(code)``
returns a ``Language``: stop words, everyday words the speller must not
"correct", negation rules, question openers and a stemmer. Text is folded to
ASCII before any of these apply, so the word lists are written without
accents. A message in another language still gets the English rules merged
in (``Language.negation``), because people mix in English words ("mi account
está locked").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import Stemmer  # PyStemmer: the Snowball stemmers, compiled

from bot.intents import lexicon
from bot.intents.features import OPENERS, SKIP_AT_START
from bot.intents.lang import de, es, fr, pt
from bot.intents.negation import ENGLISH, NegationRules
from bot.intents.text import stem as english_stem
from bot.intents.text import words

LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "pt")

_SNOWBALL = {"es": "spanish", "fr": "french", "de": "german", "pt": "portuguese"}
#: German written without umlauts ("zuruecksetzen") reads like the folded form.
_GERMAN_UMLAUTS = (("ae", "a"), ("oe", "o"), ("ue", "u"))


@dataclass(frozen=True, slots=True)
class Language:
    """What the pipeline needs to know about one language."""

    code: str
    stopwords: frozenset[str]
    common: frozenset[str]
    negation: NegationRules
    openers: frozenset[str]
    skip_at_start: frozenset[str]
    stem: Callable[[str], str]
    request_words: frozenset[str] = frozenset()

    @property
    def known(self) -> frozenset[str]:
        """Words that are right as they are: stop, everyday, negation and request words."""
        rules = self.negation
        listed = (
            rules.cues
            | rules.post_cues
            | rules.fillers
            | rules.ability
            | rules.desire
            | rules.symptoms
            | rules.backward
            | rules.fine
            | rules.copula
            | rules.know
        )
        return self.stopwords | self.common | listed | self.request_words


def _snowball(code: str) -> Callable[[str], str]:
    stemmer = Stemmer.Stemmer(_SNOWBALL[code])

    @functools.lru_cache(maxsize=65536)
    def stem(word: str) -> str:
        if word.isdigit():
            return english_stem(word)
        if not word.isalpha() or len(word) <= 3:
            return word
        if code == "de":
            for written, folded in _GERMAN_UMLAUTS:
                word = word.replace(written, folded)
        return str(stemmer.stemWord(word))

    return stem


#: Words that ask for a thing ("I need X", "can I have X").
_ENGLISH_REQUESTS = words(
    "need needs needed want wanted like get getting got have request requesting give add access use"
)


def _build(code: str) -> Language:
    if code == "en":
        return Language(
            "en",
            lexicon.STOPWORDS,
            lexicon.COMMON_WORDS,
            ENGLISH,
            OPENERS,
            SKIP_AT_START,
            english_stem,
            _ENGLISH_REQUESTS,
        )
    module = {"es": es, "fr": fr, "de": de, "pt": pt}[code]
    return Language(
        code,
        module.STOPWORDS,
        module.COMMON_WORDS,
        module.NEGATION.merged(ENGLISH),
        module.OPENERS | OPENERS,
        module.SKIP_AT_START | SKIP_AT_START,
        _snowball(code),
        module.REQUEST_WORDS | _ENGLISH_REQUESTS,
    )


_REGISTRY: dict[str, Language] = {code: _build(code) for code in LANGUAGES}


def language(code: str) -> Language:
    """The ``Language`` for an ISO 639-1 code of ``LANGUAGES``; ``KeyError`` otherwise."""
    return _REGISTRY[code]


def from_locale(locale: str | None) -> str | None:
    """``"es-ES"``, ``"pt_BR"`` or ``"de"`` -> the supported language code, else ``None``."""
    if not locale:
        return None
    code = locale.replace("_", "-").split("-", 1)[0].strip().lower()
    return code if code in _REGISTRY else None
