"""Tokenising, stemming and typo repair."""

from __future__ import annotations

import pytest

from bot.intents.config import ExamplesConfig
from bot.intents.features import GROUP_TOKEN
from bot.intents.pipeline import Pipeline
from bot.intents.text import BOUNDARY, NUMBER, stem, tokenize
from bot.intents.types import GroupChoice


def test_tokenize_expands_contractions_and_marks_clauses() -> None:
    assert " ".join(tokenize("I don't need it, I'm LOCKED out!!")) == (
        f"i do not need it {BOUNDARY} i am locked out"
    )
    assert " ".join(tokenize("cant login, wont work")) == f"can not login {BOUNDARY} will not work"


def test_tokenize_cleans_slack_markup_accents_and_hyphens() -> None:
    text = "<@U1> re-enroll my Authentificatór :pray: <https://x.example|link> 2-factor"
    assert tokenize(text) == ["re", "enroll", "my", "authentificator", "link", "2", "factor"]


@pytest.mark.parametrize(
    ("words", "same"),
    [
        (["locked", "locking", "locks", "lock"], True),
        (["expires", "expiring", "expire", "expiry", "expiration"], True),
        (["resetting", "reset", "resets"], True),
        (["phones", "phone"], True),
        (["expired", "expire"], False),
    ],
)
def test_stem_groups_inflections(words: list[str], same: bool) -> None:
    assert (len({stem(w) for w in words}) == 1) is same


def test_numbers_stem_to_one_token() -> None:
    assert stem("40") == stem("3") == NUMBER


@pytest.fixture(scope="module")
def pipeline(examples: ExamplesConfig, catalogue: tuple[GroupChoice, ...]) -> Pipeline:
    return Pipeline.build(examples, catalogue)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("passwrod", "password"),
        ("pasword forgoten", "password forgotten"),
        ("unlok acount", "unlock account"),
        ("lockd out", "locked out"),
        ("authentificator", "authenticator"),
        ("pwd", "password"),
        ("2fa", "mfa"),
        ("two factor", "mfa"),
        ("plz", "please"),
        ("heyyy", "hey"),
        ("hiiii", "hi"),
    ],
)
def test_typos_and_synonyms(pipeline: Pipeline, text: str, expected: str) -> None:
    assert " ".join(pipeline.analyse(text).tokens) == expected


@pytest.mark.parametrize("word", ["passport", "locker", "clock", "room", "notion", "joined"])
def test_real_words_are_not_corrected(pipeline: Pipeline, word: str) -> None:
    tokens = pipeline.analyse(f"the {word}").tokens
    assert tokens[-1] in (word, GROUP_TOKEN)
