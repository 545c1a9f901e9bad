"""Router behaviour: confidence, clarification, alternatives, API and thread safety."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from bot.intents.config import DEFAULT_INTENTS_FILE, ExamplesConfig
from bot.intents.router import UNKNOWN_CONFIDENCE, IntentRouter
from bot.intents.types import ACTIONABLE, GroupChoice, Intent

BRIEF = [
    ("forgot pwd again lol", Intent.PASSWORD_RESET),
    ("new phone, authenticator is empty", Intent.MFA_RESET),
    ("can I get edit rights in figma", Intent.GROUP_ACCESS),
    ("hi! locked out again", Intent.ACCOUNT_UNLOCK),
    ("what's the guest wifi password", Intent.OUT_OF_SCOPE),
    ("how do I share a password with my team in 1password", Intent.OUT_OF_SCOPE),
    ("when does my password expire?", Intent.PASSWORD_EXPIRY),
    ("hello", Intent.GREETING),
    ("what can you do?", Intent.HELP),
]


@pytest.mark.parametrize(("text", "intent"), BRIEF)
def test_examples_from_the_brief(router: IntentRouter, text: str, intent: Intent) -> None:
    result = router.classify(text)
    assert result.intent is intent
    assert not result.needs_clarification


@pytest.mark.parametrize("text", ["hola", "bonjour!", "ciao", "hallo", "olá"])
def test_greetings_in_other_languages(router: IntentRouter, text: str) -> None:
    result = router.classify(text)
    assert result.intent is Intent.GREETING and not result.needs_clarification


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("thanks!", "en"),
        ("merci", "fr"),
        ("merci beaucoup", "fr"),
        ("gracias", "es"),
        ("danke", "de"),
        ("obrigado", "pt"),
        ("cheers, that did the trick", "en"),
    ],
)
def test_thanks_is_its_own_intent(router: IntentRouter, text: str, language: str) -> None:
    result = router.classify(text)
    assert result.intent is Intent.THANKS and not result.needs_clarification
    assert result.language == language


def test_a_foreign_greeting_does_not_hide_the_request(router: IntentRouter) -> None:
    assert router.classify("bonjour, my account is locked").intent is Intent.ACCOUNT_UNLOCK


@pytest.mark.parametrize("text", ["asdkjh qwe zzxc", "qwertyuiop", "blorf the snark", "", "???"])
def test_gibberish_gets_low_confidence_and_a_question(router: IntentRouter, text: str) -> None:
    result = router.classify(text)
    assert result.intent is Intent.OUT_OF_SCOPE
    assert result.confidence <= UNKNOWN_CONFIDENCE
    assert result.needs_clarification
    assert len(result.options()) == 3


@pytest.mark.parametrize("text", ["login problem", "can't get into my account"])
def test_vague_messages_ask(router: IntentRouter, text: str) -> None:
    result = router.classify(text)
    assert result.needs_clarification
    assert result.confidence < router.thresholds.ask_below
    assert result.options()


def test_alternatives_rank_every_intent(router: IntentRouter) -> None:
    result = router.classify("my account is locked")
    intents = [intent for intent, _ in result.alternatives]
    scores = [score for _, score in result.alternatives]
    assert sorted(intents) == sorted(Intent)
    assert scores == sorted(scores, reverse=True)
    assert math.isclose(sum(scores), 1.0, abs_tol=1e-3)
    assert result.alternatives[0] == (result.intent, result.confidence)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_options_are_actionable(router: IntentRouter) -> None:
    options = router.classify("hmm my password thing").options(limit=4)
    assert 0 < len(options) <= 4
    assert all(intent in ACTIONABLE for intent in options)


def test_confident_answer_does_not_ask(router: IntentRouter) -> None:
    result = router.classify("please unlock my account, I typed my password wrong too often")
    assert result.intent is Intent.ACCOUNT_UNLOCK
    assert result.confidence > 0.9
    assert not result.needs_clarification


def test_long_message_with_context(router: IntentRouter) -> None:
    text = (
        "Hi, sorry to bother you. I was on holiday for three weeks and when I came back my "
        "laptop asked me to update my password. I did, but now I can't remember what I chose "
        "and I have a customer meeting at 2pm. Could someone please help?"
    )
    assert router.classify(text).intent is Intent.PASSWORD_RESET


def test_very_long_input_is_handled(router: IntentRouter) -> None:
    result = router.classify("locked out " + "blah " * 20000)
    assert result.intent in set(Intent)


def test_slack_markup_is_ignored(router: IntentRouter) -> None:
    text = "<@U024BE7LH> hey :wave: I forgot my <https://okta.example.com|okta> password"
    assert router.classify(text).intent is Intent.PASSWORD_RESET


def test_build_from_raw_yaml_data(catalogue: tuple[GroupChoice, ...]) -> None:
    raw = yaml.safe_load(DEFAULT_INTENTS_FILE.read_text(encoding="utf-8"))
    router = IntentRouter.build(raw, catalogue)
    assert router.classify("need access to githb").group == "github-org"


def test_build_is_deterministic(
    examples: ExamplesConfig, router: IntentRouter, catalogue: tuple[GroupChoice, ...]
) -> None:
    again = IntentRouter.build(examples, catalogue)
    for text, _ in BRIEF:
        assert again.classify(text) == router.classify(text)


def test_thread_safe_after_build(router: IntentRouter) -> None:
    texts = [text for text, _ in BRIEF] * 30
    expected = [router.classify(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(router.classify, texts))
    assert got == expected


def test_labels_for_buttons(router: IntentRouter) -> None:
    assert set(router.labels) == set(Intent)
    assert router.labels[Intent.PASSWORD_RESET] == "Reset your password"
