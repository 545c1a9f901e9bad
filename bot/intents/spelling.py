"""Typo repair and synonym rewriting of tokens.

``Speller.fix(token)`` leaves known words alone and maps an unknown word to
the closest vocabulary word (optimal-string-alignment distance 1 for short
words, 2 for words of six letters or more; transpositions count once), or
splits run-together words ("lockedout"). ``Rewriter`` then applies phrase
synonyms from the examples file ("pwd" -> "password", "two factor" -> "mfa").
Both are immutable after construction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.intents.text import BOUNDARY, stem

_DOUBLES = re.compile(r"([a-z])\1+")


def max_distance(length: int) -> int:
    """Edits tolerated for a word of ``length`` letters."""
    if length < 4:
        return 0
    return 1 if length < 6 else 2


class Speller:
    """Corrects unknown words towards a vocabulary.

    ``vocabulary`` is ordered by preference (earlier wins ties); ``known``
    holds words that are right as they are even if not in the vocabulary;
    ``stemmer`` tells inflections of known words. ``linking`` are letters a
    compound may carry between its parts (German "Anmeldungs|versuch").
    """

    def __init__(
        self,
        vocabulary: Iterable[str],
        known: Iterable[str],
        stemmer: Callable[[str], str] = stem,
        linking: tuple[str, ...] = (),
    ) -> None:
        ordered = list(dict.fromkeys(w for w in vocabulary if w.isalpha() and len(w) >= 3))
        self._vocabulary = frozenset(ordered)
        self._known = frozenset(known) | self._vocabulary
        self._stem = stemmer
        self._linking = linking
        self._known_stems = frozenset(stemmer(w) for w in self._known)
        by_length: dict[int, list[str]] = {}
        for word in ordered:
            by_length.setdefault(len(word), []).append(word)
        self._by_length = {n: tuple(words) for n, words in by_length.items()}

    def is_known(self, word: str) -> bool:
        """True for vocabulary and everyday words (or inflections of them)."""
        return word in self._known or self._stem(word) in self._known_stems

    def nearest(self, word: str) -> tuple[str, int] | None:
        """The closest vocabulary word and its distance, if close enough."""
        limit = max_distance(len(word))
        if limit == 0 or not word.isalpha():
            return None
        best: tuple[str, int] | None = None
        size = len(word)
        for n in sorted(range(size - limit, size + limit + 1), key=lambda n: (abs(n - size), -n)):
            candidates = self._by_length.get(n)
            if not candidates:
                continue
            found = process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=limit)
            if found is None:
                continue
            choice, dist = str(found[0]), int(found[1])
            if dist > 1 and choice[0] != word[0]:
                continue
            if best is None or dist < best[1]:
                best = (choice, dist)
        return best

    def _split(self, word: str) -> tuple[str, str] | None:
        best: tuple[str, str] | None = None
        for cut in range(2, len(word) - 1):
            tail = word[cut:]
            head = self._head(word[:cut])
            if tail not in self._vocabulary or head is None:
                continue
            if best is None or min(len(head), len(tail)) > min(len(best[0]), len(best[1])):
                best = (head, tail)
        return best

    def _head(self, head: str) -> str | None:
        """``head`` as a vocabulary word, without a linking letter; ``None`` if it is none."""
        if head in self._vocabulary:
            return head
        for link in self._linking:
            if head.endswith(link) and head[: -len(link)] in self._vocabulary:
                return head[: -len(link)]
        return None

    def fix(self, word: str) -> tuple[str, ...]:
        """``word`` corrected: itself, a vocabulary word, or two words."""
        if not word.isalpha() or self.is_known(word):
            return (word,)
        single = _DOUBLES.sub(r"\1", word)
        if single != word and single in self._known:
            return (single,)
        if len(word) < 4:
            return (word,)
        near = self.nearest(word)
        if near is not None:
            return (near[0],)
        split = self._split(word)
        if split is not None and len(word) >= 7:
            return split
        return (word,)


class Rewriter:
    """Replaces synonym phrases (token sequences) by their canonical words."""

    def __init__(self, synonyms: Mapping[tuple[str, ...], tuple[str, ...]]) -> None:
        self._table = dict(synonyms)
        self._longest = max((len(k) for k in self._table), default=0)

    def rewrite(self, tokens: Sequence[str], sources: Sequence[int]) -> tuple[list[str], list[int]]:
        """Tokens with synonyms replaced; ``sources`` (original positions) follow along."""
        out: list[str] = []
        out_src: list[int] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self._longest, len(tokens) - i), 0, -1):
                phrase = tuple(tokens[i : i + n])
                if BOUNDARY in phrase:
                    continue
                replacement = self._table.get(phrase)
                if replacement is not None:
                    out.extend(replacement)
                    out_src.extend([sources[i]] * len(replacement))
                    i += n
                    break
            else:
                out.append(tokens[i])
                out_src.append(sources[i])
                i += 1
        return out, out_src
