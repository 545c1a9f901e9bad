"""Sparse features of a normalised, negation-marked message.

Feature names and what they capture:

* ``w:STEM`` - a word the user asserts (negated words are left out);
* ``b:STEM_STEM`` - two neighbouring asserted words within a clause;
* ``c:CONCEPT`` / ``n:CONCEPT`` - a configured concept asserted / denied;
* ``cc:A+B`` - two concepts asserted together ("expiry" with "password");
* ``neg`` - the message denies or takes back something;
* ``f:WORD`` / ``q`` - the question word the message opens with / it is a question;
* ``ood:N`` - bucket of content words outside every concept (off-topic talk);
* ``w:<name>`` / ``b:STEM_<name>`` - a word no word list knows (a product the
  catalogue lacks: "I need hubspot"), and the word before it;
* ``r:ask`` - a request word shortly before such a word or a catalogue group
  ("can I have zeplin", "necesito Jamf").

Words equal to ``GROUP_TOKEN`` stand for a catalogue group named in the text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.intents.lexicon import STOPWORDS
from bot.intents.text import BOUNDARY, stem, words

GROUP_TOKEN = "<group>"
NAME_TOKEN = "<name>"
REQUEST = "r:ask"
#: Feature vectors are scaled to this Euclidean length, so long messages do not
#: drown the model in small pieces of evidence.
NORM = 2.5
STOP_STEMS = frozenset(stem(w) for w in STOPWORDS)
OPENERS = words(
    """
    when how what why where who which is are am will has have did does do can could would should
    """
)
SKIP_AT_START = words(
    """
    hi hello hey hiya yo ok okay so um uh please quick question
    """
)


@dataclass(frozen=True, slots=True)
class FeatureWords:
    """A language's part in feature extraction: stemmer, stop stems, question openers."""

    stem: Callable[[str], str] = stem
    stop_stems: frozenset[str] = STOP_STEMS
    openers: frozenset[str] = OPENERS
    skip_at_start: frozenset[str] = SKIP_AT_START
    name_like: Callable[[str], bool] | None = None
    request_words: frozenset[str] = frozenset()


ENGLISH_WORDS = FeatureWords()


class ConceptIndex:
    """Maps stemmed word sequences to concept names.

    ``prepare`` turns a configured term into the same normalised surface
    tokens a message would get, so typos and synonyms line up; ``stemmer``
    is the one the messages get.
    """

    def __init__(
        self,
        concepts: Iterable[tuple[str, Iterable[str]]],
        prepare: Callable[[str], list[str]],
        stemmer: Callable[[str], str] = stem,
    ) -> None:
        table: dict[tuple[str, ...], set[str]] = {}
        singles: set[str] = set()
        for name, terms in concepts:
            for term in terms:
                stems = tuple(stemmer(t) for t in prepare(term) if t != BOUNDARY)
                if stems:
                    table.setdefault(stems, set()).add(name)
                if len(stems) == 1:
                    singles.add(stems[0])
        self._table = {k: frozenset(v) for k, v in table.items()}
        self._longest = max((len(k) for k in self._table), default=0)
        self.stems: frozenset[str] = frozenset(s for k in self._table for s in k)
        self.single_stems: frozenset[str] = frozenset(singles)

    def find(self, stems: Sequence[str]) -> list[tuple[str, int, int]]:
        """Every ``(concept, start, end)`` whose term occurs in ``stems``."""
        hits: list[tuple[str, int, int]] = []
        for start in range(len(stems)):
            for size in range(1, min(self._longest, len(stems) - start) + 1):
                names = self._table.get(tuple(stems[start : start + size]))
                if names:
                    hits.extend((name, start, start + size) for name in names)
        return hits


def _bucket(count: int, edges: tuple[int, ...]) -> str:
    for edge in edges:
        if count <= edge:
            return str(edge)
    return f"{edges[-1]}+"


def _opener(tokens: Sequence[str], lang: FeatureWords) -> str | None:
    for token in tokens:
        if token == BOUNDARY or token in lang.skip_at_start:
            continue
        return token if token in lang.openers else None
    return None


#: How far after a request word the thing asked for may come ("need a license for X").
_REQUEST_REACH = 4


def _asks_for_a_thing(tokens: Sequence[str], negated: Sequence[bool], lang: FeatureWords) -> bool:
    for i, token in enumerate(tokens):
        if token not in lang.request_words or negated[i]:
            continue
        for j in range(i + 1, min(len(tokens), i + 1 + _REQUEST_REACH)):
            if tokens[j] == BOUNDARY:
                break
            named = lang.name_like is not None and lang.name_like(tokens[j])
            if tokens[j] == GROUP_TOKEN or named:
                return True
    return False


def extract(
    tokens: Sequence[str],
    negated: Sequence[bool],
    concepts: ConceptIndex,
    question: bool = False,
    lang: FeatureWords = ENGLISH_WORDS,
) -> dict[str, float]:
    """Feature name -> value for one message; values scaled to length ``NORM``.

    ``question`` tells that the raw text contained a question mark; ``lang``
    the message language's words (English by default).
    """
    stems = [t if t in (BOUNDARY, GROUP_TOKEN) else lang.stem(t) for t in tokens]
    feats: dict[str, float] = {}
    previous: str | None = None
    off_topic = 0
    for i, token in enumerate(stems):
        if token == BOUNDARY or negated[i]:
            previous = None
            continue
        feats["w:" + token] = 1.0
        if previous is not None:
            feats[f"b:{previous}_{token}"] = 1.0
        if lang.name_like is not None and lang.name_like(tokens[i]):
            feats["w:" + NAME_TOKEN] = 1.0
            if previous is not None:
                feats[f"b:{previous}_{NAME_TOKEN}"] = 1.0
        previous = token
        if token not in lang.stop_stems and token not in concepts.stems and token != GROUP_TOKEN:
            off_topic += 1
    asserted: set[str] = set()
    for name, start, end in concepts.find(stems):
        denied = any(negated[start:end])
        feats[("n:" if denied else "c:") + name] = 1.0
        if not denied:
            asserted.add(name)
    if lang.request_words and _asks_for_a_thing(tokens, negated, lang):
        feats[REQUEST] = 1.0
    ordered = sorted(asserted)
    for n, first in enumerate(ordered):
        for second in ordered[n + 1 :]:
            feats[f"cc:{first}+{second}"] = 1.0
    if any(negated):
        feats["neg"] = 1.0
    opener = _opener(tokens, lang)
    if opener is not None:
        feats["f:" + opener] = 1.0
    if question or opener is not None:
        feats["q"] = 1.0
    feats["ood:" + _bucket(off_topic, (0, 1, 2, 3))] = 1.0
    value = NORM / math.sqrt(len(feats))
    return dict.fromkeys(feats, value)
