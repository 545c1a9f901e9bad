"""Finding catalogue groups named in free text.

A group is recognised by its key ("figma-editors"), display name, aliases,
their distinctive single words ("figma", "aws") and, more weakly, words of its
description ("design"). Matching ignores case, punctuation and spacing
("Git Hub", "sales force", "1 password") and tolerates close spellings of
unknown words ("confluance", "tablaeu"). Scores are 0..1: 1.0 for a full
name or alias, 0.9 for a distinctive word of one (0.6 if it is also an
everyday or domain word, like "okta" in "okta admins"), less per typo, and
at most 0.7 for description words (shared words are split between groups).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.intents.lexicon import STOPWORDS
from bot.intents.spelling import max_distance
from bot.intents.text import BOUNDARY, stem, tokenize, words
from bot.intents.types import GroupChoice

FULL_NAME = 1.0
NAME_WORD = 0.9
COMMON_NAME_WORD = 0.6
DESCRIPTION = 0.7
TYPO_PENALTY = 0.12
#: Matches at least this strong stand for the group in the text (see ``GroupSpan``).
SPAN_MIN = 0.75

GENERIC_WORDS = words(
    """
    access account accounts admin admins administrator all analyst analysts app apps basic
    business cloud company console corporate dev editor editors enterprise everyone general
    group groups internal licence license licensed member members org organisation organization
    plus premium pro prod production read readonly role ro rw sales software staff standard team
    teams tool tools user users view viewer viewers workspace write only new other and for the
    with web services service edit manager
    shared file files
    """
)


@dataclass(frozen=True, slots=True)
class GroupSpan:
    """A stretch of tokens ``[start, end)`` naming group ``key`` with ``score``."""

    start: int
    end: int
    key: str
    score: float


@dataclass(frozen=True, slots=True)
class _Form:
    key: str
    compact: str
    weight: float


def _compact(tokens: Sequence[str]) -> str:
    return "".join(tokens)


def _squeeze(text: str) -> str:
    """Runs of one letter made single: "vpnn" and "vppn" both read "vpn"."""
    return "".join(ch for i, ch in enumerate(text) if i == 0 or ch != text[i - 1])


def _words(text: str) -> list[str]:
    return [t for t in tokenize(text) if t != BOUNDARY]


class GroupMatcher:
    """Scores catalogue groups against tokenised text; immutable after build.

    ``is_known(word)`` tells everyday/domain words, which only match exactly;
    ``near_domain(word)`` gives the distance to the closest domain word, so a
    typo of "password" is not read as "1password". ``ignore`` holds stems that
    never count as description words (e.g. "password"). ``language`` adds the
    entries' aliases for that language.
    """

    def __init__(
        self,
        catalogue: Iterable[GroupChoice],
        is_known: Callable[[str], bool],
        near_domain: Callable[[str], int | None],
        ignore: Iterable[str] = (),
        language: str = "en",
    ) -> None:
        self._language = language
        self._is_known = is_known
        self._near_domain = near_domain
        exact: dict[str, dict[str, float]] = {}
        described: dict[str, set[str]] = {}
        ignored = frozenset(ignore) | {stem(w) for w in GENERIC_WORDS | STOPWORDS}
        self._ignored = ignored
        self.keys: tuple[str, ...] = ()
        keys: list[str] = []
        longest = 1
        for group in catalogue:
            keys.append(group.key)
            for name in group.names(language):
                longest = max(longest, len(_words(name)))
            for form, weight in self._forms(group):
                slot = exact.setdefault(form, {})
                slot[group.key] = max(weight, slot.get(group.key, 0.0))
            for word in _words(group.description):
                token = stem(word)
                if len(token) >= 3 and token not in ignored and not word.isdigit():
                    described.setdefault(token, set()).add(group.key)
        self.keys = tuple(keys)
        self._exact = exact
        self._window = min(4, longest + 1)
        self._fuzzy = tuple(f for f in exact if len(f) >= 4)
        # A doubled letter is the one typo short names (too short for edit distance) get.
        squeezed: dict[str, set[str]] = {}
        for form in exact:
            if len(form) >= 3:
                squeezed.setdefault(_squeeze(form), set()).add(form)
        self._squeezed = {k: next(iter(v)) for k, v in squeezed.items() if len(v) == 1}
        self._max_compact = max((len(f) for f in self._fuzzy), default=0)
        self._described = {
            token: {key: DESCRIPTION / math.sqrt(len(owners)) for key in owners}
            for token, owners in described.items()
        }

    def _word_weight(self, word: str) -> float:
        """How well one word of a longer name stands for the group on its own."""
        if len(word) < 2 or word in GENERIC_WORDS or stem(word) in self._ignored:
            return 0.0
        return COMMON_NAME_WORD if self._is_known(word) else NAME_WORD

    def _forms(self, group: GroupChoice) -> Iterable[tuple[str, float]]:
        for name in group.names(self._language):
            parts = _words(name)
            if not parts:
                continue
            yield _compact(parts), FULL_NAME
            if len(parts) > 1:
                for word in parts:
                    weight = self._word_weight(word)
                    if weight:
                        yield word, weight

    def _window_score(self, window: Sequence[str], has_unknown: bool) -> dict[str, float]:
        compact = _compact(window)
        found = self._exact.get(compact)
        if found is not None:
            return found
        if not has_unknown:
            return {}
        doubled = self._squeezed.get(_squeeze(compact))
        if doubled is not None and len(compact) == len(doubled) + 1:
            factor = 1.0 - TYPO_PENALTY
            return {key: weight * factor for key, weight in self._exact[doubled].items()}
        limit = max_distance(len(compact))
        if limit == 0 or len(compact) > self._max_compact + limit:
            return {}
        hit = process.extractOne(compact, self._fuzzy, scorer=OSA.distance, score_cutoff=limit)
        if hit is None:
            return {}
        form, dist = str(hit[0]), int(hit[1])
        if dist > max_distance(len(form)) or (dist > 1 and form[0] != compact[0]):
            return {}
        if len(window) == 1:
            domain = self._near_domain(window[0])
            if domain is not None and domain <= dist:
                return {}
        factor = 1.0 - TYPO_PENALTY * dist
        return {key: weight * factor for key, weight in self._exact[form].items()}

    def spans(self, tokens: Sequence[str]) -> list[GroupSpan]:
        """Every name/alias match (score >= ``SPAN_MIN``), longest and best first, no overlaps."""
        found: list[GroupSpan] = []
        unknown = [t.isalnum() and not self._is_known(t) for t in tokens]
        for size in range(self._window, 0, -1):
            for start in range(0, len(tokens) - size + 1):
                window = tokens[start : start + size]
                if BOUNDARY in window:
                    continue
                has_unknown = any(unknown[start : start + size])
                for key, score in self._window_score(window, has_unknown).items():
                    if score >= SPAN_MIN:
                        found.append(GroupSpan(start, start + size, key, score))
        found.sort(key=lambda s: (-(s.end - s.start), -s.score, s.start))
        taken: set[int] = set()
        chosen: list[GroupSpan] = []
        for span in found:
            cells = set(range(span.start, span.end))
            if cells & taken and not any(
                c.start == span.start and c.end == span.end for c in chosen
            ):
                continue
            taken |= cells
            chosen.append(span)
        return sorted(chosen, key=lambda s: (s.start, -s.score))

    def description_scores(self, stems: Iterable[str]) -> dict[str, float]:
        """Best description-word score per group for the given word stems."""
        scores: dict[str, float] = {}
        for token in stems:
            for key, score in self._described.get(token, {}).items():
                scores[key] = max(score, scores.get(key, 0.0))
        return scores

    def rank(self, tokens: Sequence[str], minimum: float = 0.3) -> list[tuple[str, float]]:
        """Groups named in ``tokens``, best first, as ``(key, score)``."""
        scores: dict[str, float] = {}
        for span in self.spans(tokens):
            scores[span.key] = max(span.score, scores.get(span.key, 0.0))
        for key, score in self.description_scores(stem(t) for t in tokens).items():
            scores[key] = max(score, scores.get(key, 0.0))
        ranked = [(k, round(min(1.0, s), 4)) for k, s in scores.items() if s >= minimum]
        ranked.sort(key=lambda item: (-item[1], item[0]))
        return ranked


#: Roles a catalogue entry may be named with, and the words (any language) that say them.
ROLES: dict[str, frozenset[str]] = {
    "admin": words(
        """
        admin admins administrator administrators administration administrador administradores
        administradora administrateur administrateurs administratrice adminrechte
        administratorrechte verwaltung owner owners
        """
    ),
    "editor": words(
        "editor editors edit editing editeur editeurs bearbeiter bearbeiten edicao edicion"
    ),
    "viewer": words(
        """
        viewer viewers view read readonly lecture lectura leitura lesezugriff lesen leserechte
        visualizador lecteur
        """
    ),
    "analyst": words("analyst analysts analista analistas analyste analystes"),
}
_ROLE_OF = {word: role for role, names in ROLES.items() for word in names}
#: How much naming an entry's role moves it against its siblings (same product).
ROLE_BONUS = 0.15


class QualifierIndex:
    """Prefers the entry whose role the user names among entries of one product.

    "I need admin on our GitHub org" picks ``github-admins`` over
    ``github-org``; plain "I need GitHub" keeps ``github-org``, since an entry
    named with a role the user did not say loses against a sibling without it.
    Siblings are entries that share a distinctive name word ("github").
    """

    def __init__(self, catalogue: Iterable[GroupChoice]) -> None:
        roles: dict[str, frozenset[str]] = {}
        product: dict[str, frozenset[str]] = {}
        for group in catalogue:
            names = (group.key, group.display_name, *group.aliases)
            parts = {w for name in names for w in _words(name)}
            roles[group.key] = frozenset(_ROLE_OF[w] for w in parts if w in _ROLE_OF)
            product[group.key] = frozenset(
                w for w in parts if len(w) >= 2 and w not in _ROLE_OF and w not in GENERIC_WORDS
            )
        self._roles = roles
        self._product = product

    def _siblings(self, key: str, others: Iterable[str]) -> list[str]:
        mine = self._product.get(key, frozenset())
        return [k for k in others if k != key and mine & self._product.get(k, frozenset())]

    def adjust(self, scores: dict[str, float], words_said: Iterable[str]) -> dict[str, float]:
        """``scores`` with role-named siblings moved up (role said) or down (not said)."""
        said = {_ROLE_OF[w] for w in words_said if w in _ROLE_OF}
        if not scores or not any(self._roles.values()):
            return scores
        out = dict(scores)
        for key, roles in self._roles.items():
            if not roles:
                continue
            siblings = self._siblings(key, scores)
            if roles & said and (key in scores or siblings):
                best = max([scores.get(key, 0.0), *(scores[k] for k in siblings)])
                out[key] = best + ROLE_BONUS
            elif key in scores and any(not self._roles[k] & roles for k in siblings):
                out[key] = scores[key] - ROLE_BONUS
        return out
