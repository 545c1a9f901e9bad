"""From raw message text to model features, with everything learnt on the way.

``build_pipelines(cfg, groups)`` prepares one ``Pipeline`` per language from
the examples file and the catalogue; ``Pipeline.analyse(text)`` then runs:
tokenise -> find catalogue groups (each replaced by a group placeholder) ->
repair typos -> rewrite synonyms -> mark negated words -> sparse features.
A pipeline knows its own language and English, because people mix English
words into theirs ("mi account está locked"): English synonyms and concept
terms apply too, and an English word is stemmed the English way, so it meets
the same features as in an English message. Immutable after build, so one
pipeline serves any number of threads.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.intents.config import ExamplesConfig
from bot.intents.features import GROUP_TOKEN, ConceptIndex, FeatureWords, extract
from bot.intents.groups import GENERIC_WORDS, GroupMatcher, GroupSpan
from bot.intents.lang import LANGUAGES, Language, language
from bot.intents.negation import negated_mask
from bot.intents.spelling import Rewriter, Speller
from bot.intents.text import BOUNDARY, stem, tokenize
from bot.intents.types import GroupChoice

#: Longer messages are cut to this many tokens (a Slack message can be 40k chars).
MAX_TOKENS = 200
#: Letters a German compound may carry between its parts ("Anmeldungs|versuch").
_LINKING = {"de": ("s",)}
#: A capitalised word inside a sentence ("I need Sketch", "necesito Jamf").
_PROPER = re.compile(r"(?<![.!?]\s)(?<=\s)[A-Z][a-z0-9]+\b")


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the pipeline made of one message.

    ``tokens`` are normalised words (groups replaced by ``GROUP_TOKEN``),
    ``negated`` flags denied words, ``spans`` are group mentions in raw-token
    positions, ``denied_spans`` indexes the spans the user denied.
    """

    tokens: tuple[str, ...]
    negated: tuple[bool, ...]
    spans: tuple[GroupSpan, ...]
    denied_spans: frozenset[int]
    features: Mapping[str, float]
    language: str = "en"

    def asserted_words(self) -> list[str]:
        """The words the user did not deny, as normalised."""
        return [t for t, neg in zip(self.tokens, self.negated, strict=True) if not neg]

    def asserted_stems(self) -> list[str]:
        """English stems of the words the user did not deny (descriptions are English)."""
        return [stem(t) for t, neg in zip(self.tokens, self.negated, strict=True) if not neg]


@functools.lru_cache(maxsize=16384)
def _phrase(text: str) -> tuple[str, ...]:
    return tuple(t for t in tokenize(text) if t != BOUNDARY)


@dataclass(frozen=True, slots=True)
class _Words:
    """One language's share of the examples file, tokenised once."""

    concepts: tuple[tuple[str, tuple[str, ...]], ...]
    concept_words: tuple[str, ...]
    synonyms: tuple[tuple[str, str], ...]
    synonym_words: frozenset[str]
    example_counts: Counter[str]

    @property
    def everything(self) -> frozenset[str]:
        return frozenset(self.concept_words) | self.synonym_words | set(self.example_counts)


def _gather(cfg: ExamplesConfig, code: str) -> _Words:
    concepts = tuple((c.name, c.terms) for c in cfg.concepts if c.language == code)
    synonyms = tuple((k, v) for lang, k, v in cfg.synonyms if lang == code)
    return _Words(
        concepts=concepts,
        concept_words=tuple(w for _, terms in concepts for term in terms for w in _phrase(term)),
        synonyms=synonyms,
        synonym_words=frozenset(w for k, v in synonyms for w in (*_phrase(k), *_phrase(v))),
        example_counts=Counter(w for e in cfg.intents for x in e.texts(code) for w in _phrase(x)),
    )


def _group_words(groups: Sequence[GroupChoice], code: str, ordinary: frozenset[str]) -> set[str]:
    return {w for g in groups for name in g.names(code) for w in _phrase(name) if w not in ordinary}


class Pipeline:
    """Text normalisation, group spotting, negation and feature extraction for one language."""

    def __init__(
        self,
        lang: Language,
        speller: Speller,
        rewriter: Rewriter,
        concepts: ConceptIndex,
        matcher: GroupMatcher,
        words: FeatureWords,
    ) -> None:
        self.language = lang
        self._speller = speller
        self._rewriter = rewriter
        self._concepts = concepts
        self.matcher = matcher
        self.words = words

    @classmethod
    def build(
        cls,
        cfg: ExamplesConfig,
        groups: Iterable[GroupChoice],
        code: str = "en",
        gathered: Mapping[str, _Words] | None = None,
    ) -> Pipeline:
        """Prepare speller, synonyms, concepts and group matcher for language ``code``."""
        catalogue = tuple(groups)
        lang = language(code)
        found = dict(gathered) if gathered is not None else {}
        for needed in {"en", code}:
            if needed not in found:
                found[needed] = _gather(cfg, needed)
        english, own = found["en"], found[code]
        base_known = language("en").known
        if code == "en":
            stemmer: Callable[[str], str] = stem
            sources = [english]
            concepts = list(english.concepts)
            synonyms = list(english.synonyms)
            stop_stems = frozenset(stem(w) for w in lang.stopwords)
        else:
            base_known = base_known | lang.known
            stemmer = _mixed_stemmer(lang, own, english)
            sources = [own, english]
            # An English one-word term that is a function word here ("die" in German) is not one.
            concepts = list(own.concepts) + [
                (name, tuple(t for t in terms if t not in lang.stopwords))
                for name, terms in english.concepts
            ]
            synonyms = [(k, v) for k, v in english.synonyms if k not in lang.stopwords]
            synonyms += list(own.synonyms)
            stop_stems = frozenset(stemmer(w) for w in lang.stopwords | language("en").stopwords)
        concept_words = [w for s in sources for w in s.concept_words]
        synonym_words = {w for s in sources for w in s.synonym_words}
        ordinary = base_known | GENERIC_WORDS | set(concept_words)
        group_words = _group_words(catalogue, code, frozenset(ordinary))
        ranked = [
            *concept_words,
            *sorted(synonym_words),
            *(w for s in sources for w, _ in s.example_counts.most_common()),
        ]
        vocabulary = [w for w in ranked if w not in group_words]
        speller = Speller(vocabulary, base_known | synonym_words, stemmer, _LINKING.get(code, ()))
        rewriter = Rewriter({_phrase(k): _phrase(v) for k, v in synonyms if _phrase(k)})

        def prepare(term: str) -> list[str]:
            tokens = tokenize(term)
            return rewriter.rewrite(tokens, list(range(len(tokens))))[0]

        def near_domain(word: str) -> int | None:
            near = speller.nearest(word)
            return None if near is None else near[1]

        index = ConceptIndex(concepts, prepare, stemmer)
        matcher = GroupMatcher(
            catalogue, speller.is_known, near_domain, ignore=index.single_stems, language=code
        )
        # Example words do not count: a product named in one example ("miro") must read
        # like one the examples never named ("hubspot").
        listed = frozenset(base_known | synonym_words | set(concept_words) | GENERIC_WORDS)
        listed_stems = frozenset(stemmer(w) for w in listed)

        def name_like(word: str) -> bool:
            return (
                len(word) >= 3
                and word.isalpha()
                and word not in listed
                and stemmer(word) not in listed_stems
            )

        words = FeatureWords(
            stemmer, stop_stems, lang.openers, lang.skip_at_start, name_like, lang.request_words
        )
        return cls(lang, speller, rewriter, index, matcher, words)

    def tokens(self, text: str) -> list[str]:
        """Raw tokens of ``text`` (capped at ``MAX_TOKENS``)."""
        return tokenize(text)[:MAX_TOKENS]

    def analyse(self, text: str) -> Analysis:
        """Run the whole pipeline on one message."""
        raw = self.tokens(text)
        # A capitalised unknown word is a name, not a typo of a word we know.
        names = {m.group(0).lower() for m in _PROPER.finditer(text)}
        spans = self.matcher.spans(raw)
        ends = {s.start: s.end for s in sorted(spans, key=lambda s: s.end)}
        tokens: list[str] = []
        sources: list[int] = []
        i = 0
        while i < len(raw):
            if i in ends:
                tokens.append(GROUP_TOKEN)
                sources.append(i)
                i = ends[i]
                continue
            fixes = (raw[i],) if raw[i] in names else self._speller.fix(raw[i])
            for fixed in fixes:
                tokens.append(fixed)
                sources.append(i)
            i += 1
        tokens, sources = self._rewriter.rewrite(tokens, sources)
        negated = negated_mask(tokens, self.language.negation)
        denied_at = {src for src, flag in zip(sources, negated, strict=True) if flag}
        denied = frozenset(n for n, s in enumerate(spans) if s.start in denied_at)
        features = extract(tokens, negated, self._concepts, "?" in text, self.words)
        return Analysis(
            tuple(tokens), tuple(negated), tuple(spans), denied, features, self.language.code
        )


def _mixed_stemmer(lang: Language, own: _Words, english: _Words) -> Callable[[str], str]:
    """The language's stemmer, except for words only English has."""
    own_words = lang.known | own.everything
    english_words = language("en").known | english.everything

    @functools.lru_cache(maxsize=65536)
    def stem_of(word: str) -> str:
        if word in english_words and word not in own_words:
            return stem(word)
        return lang.stem(word)

    return stem_of


def build_pipelines(
    cfg: ExamplesConfig, groups: Iterable[GroupChoice]
) -> tuple[dict[str, Pipeline], dict[str, frozenset[str]]]:
    """One pipeline per language of ``LANGUAGES``, and every word known in each language.

    English concept lists name foreign greetings ("hola"), so English's known
    words are its everyday words, synonyms and examples only.
    """
    catalogue = tuple(groups)
    gathered = {code: _gather(cfg, code) for code in LANGUAGES}
    pipelines = {code: Pipeline.build(cfg, catalogue, code, gathered) for code in LANGUAGES}
    known: dict[str, frozenset[str]] = {}
    for code, own in gathered.items():
        extra = own.synonym_words | set(own.example_counts)
        if code != "en":
            extra |= own.everything
        known[code] = language(code).known | extra
    return pipelines, known
