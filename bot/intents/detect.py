"""Which of the router's languages a message is written in.

Read from the words the router itself knows per language, function words weighing
most: code-switched messages keep their own language's small words ("mi account está
locked") while their content words are often English, so an English content word
counts for every language in part (``BORROWED_WEIGHT``), and a word several languages
share counts for each of them in part. A one-letter typo of a known word still counts,
less (``TYPO_WEIGHT``). Nothing is loaded but those word lists. A statistical detector
(character n-gram models) measured beside them on the evaluation sets
(``bench/intents_bench.py``, 1,126 messages) changed no intent: without it 4 more
messages' language was right and 1 fewer, and every bot process is about 20 MB smaller.

Messages of fewer than ``MIN_WORDS`` words are only trusted when the words the router
knows belong to a single language ("gracias", "Hilfe"); then, as when the combined score
is below ``MIN_SCORE``, the caller's hint (the employee's locale) decides, then the
organisation default. The hint also breaks near ties (``HINT_MARGIN``) between languages
that share many words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rapidfuzz.distance import OSA

from bot.intents.lang import LANGUAGES, from_locale

#: Fewer words than this are too few to tell a language by.
MIN_WORDS = 3
#: Weight of the share of words that are one language's function words (split
#: between the languages that share a word).
FUNCTION_WORD_WEIGHT = 2.0
#: The same for every word the router knows in a language (everyday words, examples).
VOCABULARY_WEIGHT = 2.0
#: Share of its weight an English content word keeps: other languages borrow them
#: ("preciso do Sketch pro design"), their small words they keep.
BORROWED_WEIGHT = 0.5
#: Share of a vocabulary word's weight that a one-letter typo of it keeps ("contrasela").
TYPO_WEIGHT = 0.5
#: Words shorter than this are not read as typos of a known word.
TYPO_MIN_LENGTH = 6
#: A message whose locale's language scores within this of the best is read in it: Spanish
#: and Portuguese share many words ("me coloca como admin do github por favor"). On the
#: evaluation sets a wrong locale would move 0.4% of messages to it.
HINT_MARGIN = 0.3
#: Below this combined score the detector is unsure and the hint decides.
MIN_SCORE = 0.5


_ENGLISH_ONLY = ("en",)


def _deletions(word: str) -> set[str]:
    """``word`` and every string one letter shorter."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


def _claims(lists: Mapping[str, frozenset[str]]) -> dict[str, tuple[str, ...]]:
    """Word -> the languages whose list has it."""
    claims: dict[str, list[str]] = {}
    for code, words in lists.items():
        for word in words:
            claims.setdefault(word, []).append(code)
    return {word: tuple(codes) for word, codes in claims.items()}


class LanguageDetector:
    """Tells the language of a tokenised message; immutable and thread-safe after build.

    ``function_words`` and ``vocabulary`` map each language code to its
    (accent-folded) function words and to every word the router knows in it.
    """

    def __init__(
        self, function_words: Mapping[str, frozenset[str]], vocabulary: Mapping[str, frozenset[str]]
    ) -> None:
        self._codes = tuple(code for code in LANGUAGES if code in function_words)
        self._function = _claims(function_words)
        self._vocabulary = _claims(vocabulary)
        # A word and each of its one-letter deletions -> the known words they come from
        # (symmetric deletion: a typo one edit away shares a key with its word).
        deletions: dict[str, set[str]] = {}
        for word in self._vocabulary:
            if len(word) >= TYPO_MIN_LENGTH - 1:
                for key in _deletions(word):
                    deletions.setdefault(key, set()).add(word)
        self._deletions = {key: tuple(found) for key, found in deletions.items()}

    def _typo_of(self, word: str) -> tuple[str, ...]:
        """The languages of the known word ``word`` is one edit away from, if exactly one."""
        if len(word) < TYPO_MIN_LENGTH:
            return ()
        near = {
            known
            for key in _deletions(word)
            for known in self._deletions.get(key, ())
            if OSA.distance(word, known, score_cutoff=1) <= 1
        }
        return self._vocabulary[near.pop()] if len(near) == 1 else ()

    def scores(self, words: Sequence[str]) -> dict[str, float]:
        """The combined score of each language for a message's word tokens ``words``."""
        scores = dict.fromkeys(self._codes, 0.0)
        tables = ((self._function, FUNCTION_WORD_WEIGHT), (self._vocabulary, VOCABULARY_WEIGHT))
        for table, weight in tables:
            share = weight / max(1, len(words))
            for word in words:
                codes = table.get(word, ())
                if codes == _ENGLISH_ONLY and word not in self._function:
                    part = share * BORROWED_WEIGHT
                elif not codes and table is self._vocabulary:
                    codes = self._typo_of(word)
                    part = share * TYPO_WEIGHT / max(1, len(codes))
                else:
                    part = share / max(1, len(codes))
                for code in codes:
                    scores[code] += part
        return scores

    def detect(self, text: str, words: Sequence[str], hint: str | None = None) -> str | None:
        """The language of ``text`` (its word tokens ``words``), or ``None`` when unsure.

        ``hint`` (a language code) wins when its score is within ``HINT_MARGIN`` of the best.
        """
        if len(words) < MIN_WORDS:
            claims = {codes[0] for w in words if len(codes := self._vocabulary.get(w, ())) == 1}
            return claims.pop() if len(claims) == 1 else None
        scores = self.scores(words)
        best = max(self._codes, key=lambda c: scores[c])
        if hint in scores and scores[hint] >= max(MIN_SCORE, scores[best] - HINT_MARGIN):
            return hint
        return best if scores[best] >= MIN_SCORE else None

    def choose(self, text: str, words: Sequence[str], hint: str | None, default: str) -> str:
        """The language to read ``text`` in: ``detect``, else the hint's, else ``default``.

        ``hint`` is the employee's locale (``"es-ES"`` -> ``"es"``); it also breaks near ties.
        """
        hinted = from_locale(hint)
        return self.detect(text, words, hinted) or hinted or default
