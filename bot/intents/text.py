"""Clean-up, tokenisation and stemming of chat text.

``tokenize`` turns raw Slack text into lower-case ASCII word tokens; runs of
punctuation become the clause marker ``BOUNDARY``; contractions are expanded
("don't" -> "do", "not") and French elisions split ("j'ai" -> "je", "ai").
``stem`` is a small English suffix stripper, enough to make "locked",
"locking" and "locks" one feature (other languages: ``bot.intents.lang``).
"""

from __future__ import annotations

import functools
import re
import unicodedata

BOUNDARY = "|"
NUMBER = "#"

_SLACK_MENTION = re.compile(r"<[@#!][^>]*>")
_SLACK_LINK = re.compile(r"<(?:https?|mailto):[^|>]*(?:\|([^>]*))?>")
_EMOJI = re.compile(r":[a-z0-9_+\-]+:")
_URL = re.compile(r"https?://\S+")
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_ABBREVIATIONS = (
    (re.compile(r"\bp/w\b"), " password "),
    (re.compile(r"\bw/o\b"), " without "),
    (re.compile(r"\bw/"), " with "),
    (re.compile(r"\bb/c\b"), " because "),
    (re.compile(r"\bn/a\b"), " "),
)
_WORD_JOINER = re.compile(r"(?<=\w)[-_/+.](?=\w)")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[.,;:!?()\[\]\-|>]+")
_QUOTES = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "`": "'",
        "\u00b4": "'",
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u201c": '"',
        "\u201d": '"',
        "\u00df": "ss",
        "\u0153": "oe",
        "\u0152": "oe",
        "\u00e6": "ae",
        "\u00c6": "ae",
        "\u00f8": "o",
        "\u00d8": "o",
    }
)
#: French elided words ("j'ai", "n'arrive", "l'acces") and what they stand for.
_ELIDED: dict[str, str] = {
    "j": "je",
    "n": "ne",
    "l": "le",
    "d": "de",
    "m": "me",
    "t": "te",
    "s": "se",
    "c": "ce",
    "qu": "que",
    "jusqu": "jusque",
    "lorsqu": "lorsque",
    "puisqu": "puisque",
}

_CONTRACTIONS: dict[str, tuple[str, ...]] = {
    "can't": ("can", "not"),
    "cant": ("can", "not"),
    "cannot": ("can", "not"),
    "won't": ("will", "not"),
    "wont": ("will", "not"),
    "ain't": ("is", "not"),
    "aint": ("is", "not"),
    "dont": ("do", "not"),
    "doesnt": ("does", "not"),
    "didnt": ("did", "not"),
    "isnt": ("is", "not"),
    "arent": ("are", "not"),
    "wasnt": ("was", "not"),
    "werent": ("were", "not"),
    "havent": ("have", "not"),
    "hasnt": ("has", "not"),
    "hadnt": ("had", "not"),
    "couldnt": ("could", "not"),
    "wouldnt": ("would", "not"),
    "shouldnt": ("should", "not"),
    "im": ("i", "am"),
    "ive": ("i", "have"),
    "whats": ("what", "is"),
    "whens": ("when", "is"),
    "thats": ("that", "is"),
    "theres": ("there", "is"),
    "let's": ("let", "us"),
    "wanna": ("want", "to"),
    "gonna": ("going", "to"),
    "gotta": ("have", "to"),
    "gimme": ("give", "me"),
    "lemme": ("let", "me"),
    "dunno": ("do", "not", "know"),
    "idk": ("i", "do", "not", "know"),
    "y'all": ("you",),
    "ya": ("you",),
}
_SUFFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("n't", ("not",)),
    ("'m", ("am",)),
    ("'re", ("are",)),
    ("'ve", ("have",)),
    ("'ll", ("will",)),
    ("'d", ("would",)),
    ("'s", ()),
)
_IRREGULAR: dict[str, str] = {
    "forgot": "forget",
    "forgotten": "forget",
    "forgetting": "forget",
    "forgets": "forget",
    "lost": "lose",
    "losing": "lose",
    "loses": "lose",
    "broke": "break",
    "broken": "break",
    "breaking": "break",
    "stole": "steal",
    "stolen": "steal",
    "got": "get",
    "gotten": "get",
    "getting": "get",
    "gets": "get",
    "gave": "give",
    "given": "give",
    "knew": "know",
    "known": "know",
    "ran": "run",
    "running": "run",
    "died": "die",
    "dead": "die",
    "dying": "die",
    "bought": "buy",
    "sent": "send",
    "went": "go",
    "gone": "go",
    "came": "come",
    "coming": "come",
    "made": "make",
    "took": "take",
    "taken": "take",
    "wrote": "write",
    "written": "write",
    "tries": "try",
    "tried": "try",
    "trying": "try",
    "expiry": "expir",
    "expiration": "expir",
    "expirations": "expir",
    "expired": "expired",
    "left": "leave",
    "said": "say",
    "says": "say",
    "saying": "say",
    "told": "tell",
}
_UNDOUBLE = re.compile(r"([bdfgkmnprt])\1$")


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of a literal block, as a set."""
    return frozenset(text.split())


def clean(text: str) -> str:
    """Lower-case ASCII text without Slack markup, URLs, accents or odd quotes."""
    text = _SLACK_LINK.sub(lambda m: f" {m.group(1) or ''} ", text)
    text = _SLACK_MENTION.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    text = _EMOJI.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    text = _WORD_JOINER.sub(" ", text)
    return _REPEATS.sub(r"\1\1", text)


def expand(token: str) -> tuple[str, ...]:
    """A word token with its contraction expanded (one or more tokens)."""
    fixed = _CONTRACTIONS.get(token)
    if fixed is not None:
        return fixed
    if "'" not in token:
        return (token,)
    head, _, rest = token.partition("'")
    if head in _ELIDED and rest:
        return (_ELIDED[head], *expand(rest))
    for suffix, tail in _SUFFIXES:
        if token.endswith(suffix):
            head = token[: -len(suffix)]
            if suffix == "n't":
                head = {"ca": "can", "wo": "will", "sha": "shall"}.get(head, head)
            return (head, *tail) if head else tail
    return (token.replace("'", ""),)


def tokenize(text: str) -> list[str]:
    """Word tokens of ``text``; punctuation runs collapse to one ``BOUNDARY``.

    Contractions are expanded ("can't" -> "can", "not").
    """
    tokens: list[str] = []
    for raw in _TOKEN.findall(clean(text)):
        if not raw[0].isalnum():
            if tokens and tokens[-1] != BOUNDARY:
                tokens.append(BOUNDARY)
            continue
        tokens.extend(expand(raw.strip("'")))
    while tokens and tokens[-1] == BOUNDARY:
        tokens.pop()
    return tokens


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude stem: plural, -ing, -ed, -ation and a final -e stripped; numbers -> ``NUMBER``."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.isdigit():
        return NUMBER
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix in ("ations", "ation"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = _UNDOUBLE.sub(r"\1", word[: -len(suffix)])
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word
