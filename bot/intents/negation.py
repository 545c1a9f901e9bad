"""Which words of a message the user is *denying* or *taking back*.

``negated_mask(tokens, rules)`` returns one flag per token; flagged tokens
describe what the user does **not** want ("I don't need a new password, I'm
locked out" flags "need a new password"). ``NegationRules`` holds one
language's words; the rules, in order:

* corrections ("never mind", "scratch that", "wait no", "i meant") take back
  everything before them; a lone "no" between clauses takes back the one
  before it ("locked out? no, I forgot my password");
* a cue placed before the verb ("not", "never"; Spanish "no", French "ne")
  followed by a desire ("need", "want", "asking"), a determiner or a state
  ("locked", "expired") flags the words up to the end of the clause; followed
  by a symptom ("not working", "can't log in", "never arrives") it describes
  the problem and flags nothing;
* a cue placed after the verb (German "nicht"/"kein", informal French "pas")
  looks back at that verb the same way, then flags forward;
* "X is not needed/the problem", "X is fine", "I know my password" flag X;
* "no need to", "instead of", "rather than" flag what follows; "no X needed"
  flags X.

Tokens are those of ``text.tokenize`` after normalisation (surface words).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from bot.intents.text import BOUNDARY, words

MAX_SCOPE = 8

_Phrases = tuple[tuple[str, ...], ...]
_SET_FIELDS = (
    "cues",
    "fillers",
    "ability",
    "desire",
    "determiners",
    "symptoms",
    "backward",
    "fine",
    "copula",
    "know",
    "secret",
    "scope_end",
    "answers",
    "post_cues",
    "no_words",
    "auxiliaries",
)


@dataclass(frozen=True, slots=True)
class NegationRules:
    """One language's negation words; ``merged`` combines two for mixed-language text.

    ``cues`` come before the verb they negate, ``post_cues`` after it (German
    "nicht"; French "pas" when no "ne" came first); ``answers`` are the lone
    "no" of a reply; ``know``/``secret`` make "I know my password" a denial.
    ``auxiliaries`` ("have", French "ai") are skipped before a participle but
    mean possession, a symptom, before a determiner ("je n'ai plus l'appli").
    """

    cues: frozenset[str]
    fillers: frozenset[str]
    ability: frozenset[str]
    desire: frozenset[str]
    determiners: frozenset[str]
    symptoms: frozenset[str]
    backward: frozenset[str]
    fine: frozenset[str]
    copula: frozenset[str]
    know: frozenset[str]
    secret: frozenset[str]
    scope_end: frozenset[str]
    forward_phrases: _Phrases
    corrections: _Phrases
    answers: frozenset[str] = frozenset({"no"})
    post_cues: frozenset[str] = frozenset()
    no_words: frozenset[str] = frozenset({"no"})
    auxiliaries: frozenset[str] = frozenset()

    def merged(self, other: NegationRules) -> NegationRules:
        """Both languages' words (a Spanish message with English in it)."""
        sets = {name: getattr(self, name) | getattr(other, name) for name in _SET_FIELDS}
        return NegationRules(
            forward_phrases=tuple(dict.fromkeys(self.forward_phrases + other.forward_phrases)),
            corrections=tuple(dict.fromkeys(self.corrections + other.corrections)),
            **sets,
        )


def _starts(tokens: Sequence[str], i: int, phrase: tuple[str, ...]) -> bool:
    return tuple(tokens[i : i + len(phrase)]) == phrase


def _flag_forward(
    rules: NegationRules, tokens: Sequence[str], mask: list[bool], start: int
) -> None:
    for j in range(start, min(len(tokens), start + MAX_SCOPE)):
        if tokens[j] in rules.scope_end:
            break
        mask[j] = True


def _clause_start(rules: NegationRules, tokens: Sequence[str], i: int) -> int:
    j = i
    while j > 0 and tokens[j - 1] not in rules.scope_end:
        j -= 1
    return j


def _flag_backward(rules: NegationRules, tokens: Sequence[str], mask: list[bool], cue: int) -> None:
    for j in range(_clause_start(rules, tokens, cue), cue + 1):
        mask[j] = True


def _answered_no(rules: NegationRules, tokens: Sequence[str], mask: list[bool]) -> None:
    """``"locked out? no, I forgot it"``: a lone "no" takes back the clause before it."""
    for i in range(2, len(tokens) - 1):
        if tokens[i] in rules.answers and tokens[i - 1] == BOUNDARY and tokens[i + 1] == BOUNDARY:
            for j in range(_clause_start(rules, tokens, i - 1), i + 1):
                mask[j] = True


@functools.lru_cache(maxsize=64)
def _by_first_word(phrases: _Phrases) -> dict[str, _Phrases]:
    table: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        table.setdefault(phrase[0], []).append(phrase)
    return {word: tuple(found) for word, found in table.items()}


def _corrections(rules: NegationRules, tokens: Sequence[str], mask: list[bool]) -> None:
    starting = _by_first_word(rules.corrections)
    for i in range(len(tokens) - 1, 0, -1):
        for phrase in starting.get(tokens[i], ()):
            if _starts(tokens, i, phrase) or (
                phrase[-1] == BOUNDARY and tuple(tokens[i:]) == phrase[:-1]
            ):
                for j in range(0, i + len(phrase)):
                    if j < len(mask):
                        mask[j] = True
                return


def _past_auxiliary(rules: NegationRules, tokens: Sequence[str], at: int) -> tuple[str, int]:
    """The participle after the auxiliary at ``at``, or ``""`` when it means possession."""
    j = at + 1
    while j < len(tokens) and tokens[j] in rules.fillers and tokens[j] not in rules.determiners:
        j += 1
    if j >= len(tokens):
        return "", at
    nxt = tokens[j]
    if nxt in rules.determiners or nxt in rules.symptoms or nxt in rules.scope_end:
        return "", at
    return nxt, j


def _negators(rules: NegationRules, tokens: Sequence[str], mask: list[bool]) -> None:
    for i, token in enumerate(tokens):
        if token not in rules.cues:
            continue
        if i > 0 and tokens[i - 1] in rules.ability:
            continue
        j = i + 1
        while j < len(tokens) and tokens[j] in rules.fillers:
            j += 1
        if j >= len(tokens):
            continue
        nxt = tokens[j]
        if nxt in rules.auxiliaries:
            nxt, j = _past_auxiliary(rules, tokens, j)
            if not nxt:
                continue
        after = tokens[j + 1] if j + 1 < len(tokens) else ""
        if nxt in rules.backward or (nxt in rules.determiners and after in rules.backward):
            _flag_backward(rules, tokens, mask, i)
        elif nxt in rules.desire or nxt in rules.determiners:
            mask[i] = True
            _flag_forward(rules, tokens, mask, j)
        elif nxt in rules.symptoms or nxt in rules.ability:
            continue
        else:
            mask[i] = True
            _flag_forward(rules, tokens, mask, j)


def _post_negators(rules: NegationRules, tokens: Sequence[str], mask: list[bool]) -> None:
    """Cues after the verb: a symptom verb earlier in the clause flags nothing, else the clause.

    German puts the verb second and "nicht" late ("mein Passwort funktioniert
    seit heute nicht"), so the whole clause before the cue is searched. An
    auxiliary ("ist", "habe") followed by a participle after the cue is no
    symptom ("ich habe es nicht vergessen"); before "kein" it means possession.
    """
    for i, token in enumerate(tokens):
        if token not in rules.post_cues or mask[i]:
            continue
        start = _clause_start(rules, tokens, i)
        if any(t in rules.cues for t in tokens[start:i]):
            continue  # "ne ... pas": the cue before the verb has decided already
        j = i + 1
        while j < len(tokens) and tokens[j] in rules.fillers and tokens[j] not in rules.determiners:
            j += 1
        nxt = tokens[j] if j < len(tokens) and tokens[j] not in rules.scope_end else ""
        if nxt in rules.symptoms:
            continue  # "keine Ahnung", "pas accès"
        before = [t for t in tokens[start:i] if t in rules.symptoms or t in rules.ability]
        if before:
            verb = before[-1]
            participle = bool(nxt) and nxt not in rules.determiners
            if not (verb in rules.auxiliaries and participle and token not in rules.no_words):
                continue
        _flag_backward(rules, tokens, mask, i)
        _flag_forward(rules, tokens, mask, i + 1)


def _phrases(rules: NegationRules, tokens: Sequence[str], mask: list[bool]) -> None:
    forward = _by_first_word(rules.forward_phrases)
    for i, token in enumerate(tokens):
        if token in rules.no_words:
            for j in range(i + 1, min(len(tokens), i + 4)):
                if tokens[j] in rules.scope_end:
                    break
                if tokens[j] in rules.backward:
                    for k in range(i, j + 1):
                        mask[k] = True
                    break
        for phrase in forward.get(token, ()):
            if _starts(tokens, i, phrase):
                for j in range(i, i + len(phrase)):
                    mask[j] = True
                _flag_forward(rules, tokens, mask, i + len(phrase))


def _fine_and_known(rules: NegationRules, tokens: Sequence[str], mask: list[bool]) -> None:
    for i, token in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in rules.copula and nxt in rules.fine and i > 0:
            _flag_backward(rules, tokens, mask, i + 1)
        elif token in rules.know and not _know_denied(rules, tokens, i):
            window = tokens[i + 1 : i + 4]
            if any(t in rules.secret for t in window):
                for j in range(i, min(len(tokens), i + 4)):
                    if tokens[j] in rules.scope_end:
                        break
                    mask[j] = True


def _know_denied(rules: NegationRules, tokens: Sequence[str], i: int) -> bool:
    """The clause of the verb at ``i`` says it is not so: "I'm not able to remember my
    password", "ich weiß mein Passwort nicht mehr"."""
    before = tokens[_clause_start(rules, tokens, i) : i]
    if any(t in rules.cues or t in rules.post_cues for t in before):
        return True
    for token in tokens[i + 1 :]:
        if token in rules.scope_end:
            return False
        if token in rules.post_cues:
            return True
    return False


def negated_mask(tokens: Sequence[str], rules: NegationRules | None = None) -> list[bool]:
    """One flag per token: True where the user denies or takes the words back."""
    chosen = ENGLISH if rules is None else rules
    mask = [False] * len(tokens)
    _corrections(chosen, tokens, mask)
    _answered_no(chosen, tokens, mask)
    _negators(chosen, tokens, mask)
    if chosen.post_cues:
        _post_negators(chosen, tokens, mask)
    _phrases(chosen, tokens, mask)
    _fine_and_known(chosen, tokens, mask)
    return mask


ENGLISH = NegationRules(
    cues=frozenset({"not", "never"}),
    fillers=words(
        """
        really even actually exactly just quite totally so that longer at all currently anymore
        yet
        """
    ),
    ability=frozenset({"can", "could", "unable"}),
    desire=words(
        """
        need needing want wanting require wish mean asking ask looking interested talking about
        after for trying request requesting
        """
    ),
    determiners=words("a an the my our this your any anything related some"),
    symptoms=words(
        """
        work works worked working accept accepts accepted accepting arrive arrives arrived
        arriving come comes coming came get gets getting got receive receives received receiving
        show shows showing showed shown load loads loading loaded let lets letting allow allows
        allowing allowed able sure remember remembering recall recognise recognize recognised
        recognized know knowing have has had login log logging sign signing access accessing open
        opens opening connect connects connecting respond responding send sends sending sent go
        goes going find finding see seeing happen happening appear appears appearing sync syncing
        transfer transferred match matching pop popping display displaying exist exists use using
        type typing enter entering pass passing push pushing verify verifying approve approving
        complete completing prompt prompting trigger ring buzz seem seems do doing recieve
        recieving reach reaching valid correct right possible
        """
    ),
    backward=words("needed required necessary wanted problem issue relevant broken"),
    fine=words("fine ok okay good correct right alright"),
    copula=words("is are was works work seems seem looks be"),
    know=frozenset({"know", "knows", "remember", "remembered"}),
    secret=frozenset({"password", "passwords", "pin", "passphrase", "credentials"}),
    scope_end=frozenset({BOUNDARY})
    | words(
        """
        but just only instead actually rather because since though however i we it so and
        although cause cuz please
        """
    ),
    forward_phrases=(
        ("no", "need", "to"),
        ("no", "need", "for"),
        ("no", "longer", "need"),
        ("no", "longer", "want"),
        ("instead", "of"),
        ("rather", "than"),
        ("nothing", "wrong", "with"),
        ("no", "problem", "with"),
        ("no", "issue", "with"),
        ("no", "issues", "with"),
    ),
    corrections=(
        ("never", "mind"),
        ("nevermind",),
        ("scratch", "that"),
        ("ignore", "that"),
        ("wait", "no"),
        ("no", "wait"),
        ("actually", "no"),
        ("i", "meant"),
        ("correction",),
        ("forget", "that"),
        ("forget", "it", BOUNDARY),
        ("sorry", "i", "mean"),
    ),
)
