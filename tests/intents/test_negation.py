"""Negations and corrections route to what the user actually wants."""

from __future__ import annotations

import pytest

from bot.intents.negation import negated_mask
from bot.intents.router import IntentRouter
from bot.intents.text import tokenize
from bot.intents.types import Intent


def denied(text: str) -> list[str]:
    tokens = tokenize(text)
    return [t for t, flag in zip(tokens, negated_mask(tokens), strict=True) if flag]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don't need a new password, I'm locked out", ["not", "need", "a", "new", "password"]),
        ("not a password reset, my account is locked", ["not", "a", "password", "reset"]),
        ("my account isn't locked", ["not", "locked"]),
        ("no need to unlock anything", ["no", "need", "to", "unlock", "anything"]),
        ("reset my password, scratch that", ["reset", "my", "password", "|", "scratch", "that"]),
        ("the password is not the problem", ["the", "password", "is", "not"]),
        ("password is fine but", ["password", "is", "fine"]),
        ("I know my password", ["know", "my", "password"]),
    ],
)
def test_denied_words(text: str, expected: list[str]) -> None:
    assert denied(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "my password is not working",
        "I can't remember my password",
        "I don't remember my password",
        "I don't have access to jira",
        "the code never arrives",
        "I can not log in",
        "I don't know my password",
        "my authenticator doesn't show codes",
    ],
)
def test_symptoms_are_not_negations(text: str) -> None:
    assert denied(text) == []


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I don't need a new password, I'm locked out", Intent.ACCOUNT_UNLOCK),
        ("I'm not locked out, I just can't remember my password", Intent.PASSWORD_RESET),
        ("not a password issue, my authenticator is empty", Intent.MFA_RESET),
        (
            "I don't want to change my password, I want to know when it expires",
            Intent.PASSWORD_EXPIRY,
        ),
        ("no need to reset anything, I just want access to figma", Intent.GROUP_ACCESS),
        ("reset my password. no wait, scratch that, I'm locked out", Intent.ACCOUNT_UNLOCK),
        ("unlock my account... never mind, I actually forgot my password", Intent.PASSWORD_RESET),
        ("my password works fine, it's the 2fa code that is broken", Intent.MFA_RESET),
        ("don't reset my password, just unlock me", Intent.ACCOUNT_UNLOCK),
        ("I'm not locked out, I need jira access", Intent.GROUP_ACCESS),
        ("my password is correct but it says my account is locked", Intent.ACCOUNT_UNLOCK),
    ],
)
def test_router_follows_what_the_user_wants(
    router: IntentRouter, text: str, intent: Intent
) -> None:
    assert router.classify(text).intent is intent


def test_denied_group_is_not_chosen(router: IntentRouter) -> None:
    result = router.classify("not jira, I need access to confluence")
    assert result.intent is Intent.GROUP_ACCESS
    assert result.group == "confluence"
