"""From raw message text to model features, with everything learnt on the way.

``Pipeline.build(cfg, groups)`` prepares the tools from the examples file and
the catalogue; ``Pipeline.analyse(text)`` then runs: tokenise -> find
catalogue groups (each replaced by a group placeholder) -> repair typos ->
rewrite synonyms -> mark negated words -> sparse features. Immutable after
build, so one pipeline serves any number of threads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.intents.config import ExamplesConfig
from bot.intents.features import GROUP_TOKEN, ConceptIndex, extract
from bot.intents.groups import GENERIC_WORDS, GroupMatcher, GroupSpan
from bot.intents.lexicon import COMMON_WORDS, STOPWORDS
from bot.intents.negation import negated_mask
from bot.intents.spelling import Rewriter, Speller
from bot.intents.text import BOUNDARY, stem, tokenize
from bot.intents.types import GroupChoice

#: Longer messages are cut to this many tokens (a Slack message can be 40k chars).
MAX_TOKENS = 200


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

    def asserted_stems(self) -> list[str]:
        """Stems of the words the user did not deny."""
        return [stem(t) for t, neg in zip(self.tokens, self.negated, strict=True) if not neg]


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(t for t in tokenize(text) if t != BOUNDARY)


def _vocabulary(cfg: ExamplesConfig, groups: Sequence[GroupChoice]) -> tuple[list[str], set[str]]:
    """Spelling targets (most useful first) and the synonym words."""
    concept_words = [w for _, terms in cfg.concepts for term in terms for w in _phrase(term)]
    synonym_words = {w for k, v in cfg.synonyms for w in (*_phrase(k), *_phrase(v))}
    ordinary = COMMON_WORDS | STOPWORDS | GENERIC_WORDS | set(concept_words)
    group_words = {
        w
        for g in groups
        for name in (g.key, g.display_name, *g.aliases)
        for w in _phrase(name)
        if w not in ordinary
    }
    counts = Counter(w for e in cfg.intents for x in e.examples for w in _phrase(x))
    ranked = [*concept_words, *sorted(synonym_words), *(w for w, _ in counts.most_common())]
    return [w for w in ranked if w not in group_words], synonym_words


class Pipeline:
    """Text normalisation, group spotting, negation and feature extraction."""

    def __init__(
        self, speller: Speller, rewriter: Rewriter, concepts: ConceptIndex, matcher: GroupMatcher
    ) -> None:
        self._speller = speller
        self._rewriter = rewriter
        self._concepts = concepts
        self.matcher = matcher

    @classmethod
    def build(cls, cfg: ExamplesConfig, groups: Iterable[GroupChoice]) -> Pipeline:
        """Prepare speller, synonyms, concepts and group matcher."""
        catalogue = tuple(groups)
        vocabulary, synonym_words = _vocabulary(cfg, catalogue)
        speller = Speller(vocabulary, COMMON_WORDS | STOPWORDS | synonym_words)
        rewriter = Rewriter({_phrase(k): _phrase(v) for k, v in cfg.synonyms if _phrase(k)})

        def prepare(term: str) -> list[str]:
            tokens = tokenize(term)
            return rewriter.rewrite(tokens, list(range(len(tokens))))[0]

        def near_domain(word: str) -> int | None:
            near = speller.nearest(word)
            return None if near is None else near[1]

        concepts = ConceptIndex(cfg.concepts, prepare)
        matcher = GroupMatcher(
            catalogue, speller.is_known, near_domain, ignore=concepts.single_stems
        )
        return cls(speller, rewriter, concepts, matcher)

    def tokens(self, text: str) -> list[str]:
        """Raw tokens of ``text`` (capped at ``MAX_TOKENS``)."""
        return tokenize(text)[:MAX_TOKENS]

    def analyse(self, text: str) -> Analysis:
        """Run the whole pipeline on one message."""
        raw = self.tokens(text)
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
            for fixed in self._speller.fix(raw[i]):
                tokens.append(fixed)
                sources.append(i)
            i += 1
        tokens, sources = self._rewriter.rewrite(tokens, sources)
        negated = negated_mask(tokens)
        denied_at = {src for src, flag in zip(sources, negated, strict=True) if flag}
        denied = frozenset(n for n, s in enumerate(spans) if s.start in denied_at)
        features = extract(tokens, negated, self._concepts, question="?" in text)
        return Analysis(tuple(tokens), tuple(negated), tuple(spans), denied, features)
