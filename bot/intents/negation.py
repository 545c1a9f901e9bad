"""Which words of a message the user is *denying* or *taking back*.

``negated_mask(tokens)`` returns one flag per token; flagged tokens describe
what the user does **not** want ("I don't need a new password, I'm locked
out" flags "need a new password"). Rules, in order:

* corrections ("never mind", "scratch that", "wait no", "i meant") take back
  everything before them; a lone "no" between clauses takes back the one
  before it ("locked out? no, I forgot my password");
* "not"/"never" followed by a desire ("need", "want", "asking"), a determiner
  or a state ("locked", "expired") flag the words up to the end of the clause;
  followed by a symptom ("not working", "can't log in", "never arrives") they
  describe the problem and flag nothing;
* "X is not needed/the problem", "X is fine", "I know my password" flag X;
* "no need to", "instead of", "rather than" flag what follows; "no X needed"
  flags X.

Tokens are those of ``text.tokenize`` after normalisation (surface words).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.intents.text import BOUNDARY, words

MAX_SCOPE = 8

_CUES = frozenset({"not", "never"})
_FILLERS = words(
    """
    really even actually exactly just quite totally so that longer at all currently anymore yet
    """
)
_ABILITY = frozenset({"can", "could", "unable"})
_DESIRE = words(
    """
    need needing want wanting require wish mean asking ask looking interested talking about
    after for trying request requesting
    """
)
_DETERMINERS = words(
    """
    a an the my our this your any anything related some
    """
)
_SYMPTOMS = words(
    """
    work works worked working accept accepts accepted accepting arrive arrives arrived arriving
    come comes coming came get gets getting got receive receives received receiving show shows
    showing showed shown load loads loading loaded let lets letting allow allows allowing
    allowed able sure remember remembering recall recognise recognize recognised recognized know
    knowing have has had login log logging sign signing access accessing open opens opening
    connect connects connecting respond responding send sends sending sent go goes going find
    finding see seeing happen happening appear appears appearing sync syncing transfer
    transferred match matching pop popping display displaying exist exists use using type typing
    enter entering pass passing push pushing verify verifying approve approving complete
    completing prompt prompting trigger ring buzz seem seems do doing recieve recieving reach
    reaching valid correct right possible
    """
)
_BACKWARD = words(
    """
    needed required necessary wanted problem issue relevant broken
    """
)
_FINE = words(
    """
    fine ok okay good correct right alright
    """
)
_COPULA = words(
    """
    is are was works work seems seem looks be
    """
)
_KNOW = frozenset({"know", "knows", "remember", "remembered"})
_SECRET = frozenset({"password", "passwords", "pin", "passphrase", "credentials"})
_SCOPE_END = {BOUNDARY} | words(
    """
    but just only instead actually rather because since though however i we it so and although
    cause cuz please
    """
)
_FORWARD_PHRASES: tuple[tuple[str, ...], ...] = (
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
)
_CORRECTIONS: tuple[tuple[str, ...], ...] = (
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
)


def _starts(tokens: Sequence[str], i: int, phrase: tuple[str, ...]) -> bool:
    return tuple(tokens[i : i + len(phrase)]) == phrase


def _flag_forward(tokens: Sequence[str], mask: list[bool], start: int) -> None:
    for j in range(start, min(len(tokens), start + MAX_SCOPE)):
        if tokens[j] in _SCOPE_END:
            break
        mask[j] = True


def _clause_start(tokens: Sequence[str], i: int) -> int:
    j = i
    while j > 0 and tokens[j - 1] not in _SCOPE_END:
        j -= 1
    return j


def _flag_backward(tokens: Sequence[str], mask: list[bool], cue: int) -> None:
    for j in range(_clause_start(tokens, cue), cue + 1):
        mask[j] = True


def _answered_no(tokens: Sequence[str], mask: list[bool]) -> None:
    """``"locked out? no, I forgot it"``: a lone "no" takes back the clause before it."""
    for i in range(2, len(tokens) - 1):
        if tokens[i] == "no" and tokens[i - 1] == BOUNDARY and tokens[i + 1] == BOUNDARY:
            for j in range(_clause_start(tokens, i - 1), i + 1):
                mask[j] = True


def _corrections(tokens: Sequence[str], mask: list[bool]) -> None:
    for i in range(len(tokens) - 1, 0, -1):
        for phrase in _CORRECTIONS:
            if _starts(tokens, i, phrase) or (
                phrase[-1] == BOUNDARY and tuple(tokens[i:]) == phrase[:-1]
            ):
                for j in range(0, i + len(phrase)):
                    if j < len(mask):
                        mask[j] = True
                return


def _negators(tokens: Sequence[str], mask: list[bool]) -> None:
    for i, token in enumerate(tokens):
        if token not in _CUES:
            continue
        if i > 0 and tokens[i - 1] in _ABILITY:
            continue
        j = i + 1
        while j < len(tokens) and tokens[j] in _FILLERS:
            j += 1
        if j >= len(tokens):
            continue
        nxt = tokens[j]
        after = tokens[j + 1] if j + 1 < len(tokens) else ""
        if nxt in _BACKWARD or (nxt in _DETERMINERS and after in _BACKWARD):
            _flag_backward(tokens, mask, i)
        elif nxt in _DESIRE or nxt in _DETERMINERS:
            mask[i] = True
            _flag_forward(tokens, mask, j)
        elif nxt in _SYMPTOMS:
            continue
        else:
            mask[i] = True
            _flag_forward(tokens, mask, j)


def _phrases(tokens: Sequence[str], mask: list[bool]) -> None:
    for i, token in enumerate(tokens):
        if token == "no":
            for j in range(i + 1, min(len(tokens), i + 4)):
                if tokens[j] in _SCOPE_END:
                    break
                if tokens[j] in _BACKWARD:
                    for k in range(i, j + 1):
                        mask[k] = True
                    break
        for phrase in _FORWARD_PHRASES:
            if _starts(tokens, i, phrase):
                for j in range(i, i + len(phrase)):
                    mask[j] = True
                _flag_forward(tokens, mask, i + len(phrase))


def _fine_and_known(tokens: Sequence[str], mask: list[bool]) -> None:
    for i, token in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in _COPULA and nxt in _FINE and i > 0:
            _flag_backward(tokens, mask, i + 1)
        elif token in _KNOW and not any(t in _CUES for t in tokens[max(0, i - 2) : i]):
            window = tokens[i + 1 : i + 4]
            if any(t in _SECRET for t in window):
                for j in range(i, min(len(tokens), i + 4)):
                    if tokens[j] in _SCOPE_END:
                        break
                    mask[j] = True


def negated_mask(tokens: Sequence[str]) -> list[bool]:
    """One flag per token: True where the user denies or takes the words back."""
    mask = [False] * len(tokens)
    _corrections(tokens, mask)
    _answered_no(tokens, mask)
    _negators(tokens, mask)
    _phrases(tokens, mask)
    _fine_and_known(tokens, mask)
    return mask
