"""Fixes from user testing: unknown products, "my manager said", admin entries, one Intent."""

from __future__ import annotations

import pytest

from bot.intents.config import ExamplesConfig
from bot.intents.router import IntentRouter
from bot.intents.types import GroupChoice, Intent


@pytest.fixture(scope="module")
def small_catalogue_router(
    examples: ExamplesConfig, catalogue: tuple[GroupChoice, ...]
) -> IntentRouter:
    """A deployment whose catalogue has neither Adobe nor Salesforce."""
    kept = [g for g in catalogue if g.key not in {"adobe-creative-cloud", "salesforce-sales"}]
    return IntentRouter.build(examples, kept)


@pytest.mark.parametrize(
    "text",
    [
        "I need photoshop",
        "can I get access to salesforce",
        "I need Sketch",
        "could I get a loom license",
        "can I have zeplin?",
        "necesito Jamf",
        "je voudrais Photoshop",
        "ich hätte gern Photoshop",
        "preciso do Photoshop",
        "il me faudrait Sketch pour le design",
        "ich bräuchte Sketch für das Design",
        "preciso do Sketch pro design",
        "any chance of getting a Miro seat?",
        "me gustaría tener Canva para las presentaciones",
        "gostaria de ter o Miro",
    ],
)
def test_a_thing_the_catalogue_lacks_is_a_group_request_without_a_group(
    small_catalogue_router: IntentRouter, text: str
) -> None:
    result = small_catalogue_router.classify(text)
    assert result.intent is Intent.GROUP_ACCESS
    assert result.group is None
    assert not result.needs_clarification  # the conversation answers with the catalogue


@pytest.fixture(scope="module")
def common_word_router(
    examples: ExamplesConfig, catalogue: tuple[GroupChoice, ...]
) -> IntentRouter:
    """A catalogue with products named by everyday words (Loom, Sketch, Box, Monday)."""
    extra = (
        GroupChoice("loom", "Loom", (), "Screen recordings with Loom."),
        GroupChoice("sketch", "Sketch", ("sketch app",), "Design files in Sketch."),
        GroupChoice("box", "Box", (), "File sharing in Box."),
        GroupChoice("monday", "Monday", ("monday.com",), "Project boards."),
    )
    return IntentRouter.build(examples, (*catalogue, *extra))


@pytest.mark.parametrize(
    "text",
    [
        "I'll sketch the architecture on the whiteboard later",
        "can you sketch out the onboarding plan for me",
        "I did a quick sketch of the new logo",
        "a storm is looming over the office party plans",
        "the loom in the lobby is broken, who fixes it?",
        "the box with my new keyboard never arrived",
        "can we move the team lunch to monday",
        "I have no notion what's going on with the coffee machine",
        "I'll zoom in on the chart during the meeting",
        "the loom video from marketing won't play on my tv at home",
        "hice un sketch del logo, ¿quién lo revisa?",
        "je fais un sketch pour la fête de fin d'année",
    ],
)
def test_a_product_named_by_an_everyday_word_is_not_read_into_unrelated_sentences(
    common_word_router: IntentRouter, text: str
) -> None:
    result = common_word_router.classify(text)
    assert result.intent is Intent.OUT_OF_SCOPE
    assert not result.needs_clarification  # no "did you mean" buttons


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("my laptop is in a box, when does my password expire", Intent.PASSWORD_EXPIRY),
        ("the deadline looms and I can't log in, my account is locked", Intent.ACCOUNT_UNLOCK),
    ],
)
def test_an_everyday_product_word_does_not_pull_a_request_towards_access(
    common_word_router: IntentRouter, text: str, intent: Intent
) -> None:
    result = common_word_router.classify(text)
    assert (result.intent, result.group, result.needs_clarification) == (intent, None, False)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("I need loom", "loom"),
        ("could I get sketch", "sketch"),
        ("necesito acceso a loom", "loom"),
        ("ich brauche Zugriff auf Box", "box"),
    ],
)
def test_an_everyday_product_word_still_names_the_product_when_asked_for(
    common_word_router: IntentRouter, text: str, key: str
) -> None:
    result = common_word_router.classify(text)
    assert (result.intent, result.group) == (Intent.GROUP_ACCESS, key)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("my manager said I should be in the vpn group", "vpn-users"),
        ("my boss told me to get added to datadog", "datadog"),
        ("mi jefe dice que me metáis en el grupo de la VPN", "vpn-users"),
    ],
)
def test_someone_else_said_i_should_have_it(router: IntentRouter, text: str, key: str) -> None:
    result = router.classify(text)
    assert (result.intent, result.group) == (Intent.GROUP_ACCESS, key)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("I need admin on our GitHub org", "github-admins"),
        ("make me a github administrator please", "github-admins"),
        ("necesito ser administrador en GitHub", "github-admins"),
        ("I need access to our GitHub org", "github-org"),
        ("add me to github", "github-org"),
        ("I need write access to the github repo", "github-org"),
    ],
)
def test_an_admin_entry_is_preferred_when_admin_is_said(
    router: IntentRouter, text: str, key: str
) -> None:
    result = router.classify(text)
    assert (result.intent, result.group) == (Intent.GROUP_ACCESS, key)


def test_one_intent_enum() -> None:
    from bot import routing
    from bot.intents import types

    assert routing.Intent is types.Intent
    assert routing.Intent("thanks") is types.Intent.THANKS


def test_the_conversation_seam_carries_the_language(router: IntentRouter) -> None:
    from bot.routing import _IntentsAdapter

    adapter = _IntentsAdapter(router)
    routed = adapter.classify("hola", locale="es-ES")
    assert (routed.intent, routed.language) == (Intent.GREETING, "es")
    assert adapter.classify("ok", locale="de-DE").language == "de"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("preciso do Sketch pro design", "pt"),
        ("necesito Miro para el taller", "es"),
        ("il me faudrait Sketch pour le design", "fr"),
        ("ich brauche Canva für Präsentationen", "de"),
        ("can I get Canva for presentations", "en"),
    ],
)
def test_an_english_product_name_does_not_make_the_message_english(
    router: IntentRouter, text: str, code: str
) -> None:
    assert router.classify(text).language == code
