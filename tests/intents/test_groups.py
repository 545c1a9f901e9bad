"""Finding catalogue groups in free text: forgiving, and honest about ambiguity."""

from __future__ import annotations

import pytest

from bot.intents.config import ExamplesConfig
from bot.intents.router import IntentRouter
from bot.intents.types import GroupChoice, Intent


def top(router: IntentRouter, text: str) -> str | None:
    found = router.match_groups(text)
    return found[0][0] if found else None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("FIGMA!!", "figma-editors"),
        ("figma-editors", "figma-editors"),
        ("Figma Editors", "figma-editors"),
        ("git hub", "github-org"),
        ("GitHub Enterprise", "github-org"),
        ("sales force", "salesforce-sales"),
        ("data dog", "datadog"),
        ("1 password", "1password-team"),
        ("amazon web services", "aws-prod-readonly"),
        ("the company wiki", "confluence"),
        ("sfdc", "salesforce-sales"),
        ("globalprotect", "vpn-users"),
        ("photoshop", "adobe-creative-cloud"),
        ("the design tool", "figma-editors"),
    ],
)
def test_names_aliases_spacing_and_descriptions(router: IntentRouter, text: str, key: str) -> None:
    assert top(router, text) == key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("figam", "figma-editors"),
        ("fgima", "figma-editors"),
        ("githb", "github-org"),
        ("confluance", "confluence"),
        ("tablaeu", "tableau-viewers"),
        ("salesforse", "salesforce-sales"),
        ("snowflak", "snowflake-analysts"),
        ("datadgo", "datadog"),
        ("jirra", "jira-software"),
        ("photshop", "adobe-creative-cloud"),
    ],
)
def test_close_spellings(router: IntentRouter, text: str, key: str) -> None:
    found = router.match_groups(text)
    assert found and found[0][0] == key
    assert 0.5 < found[0][1] < 1.0


@pytest.mark.parametrize(
    ("text", "key"),
    [("vpnn", "vpn-users"), ("vppn", "vpn-users"), ("awss", "aws-prod-readonly")],
)
def test_a_doubled_letter_in_a_short_name(router: IntentRouter, text: str, key: str) -> None:
    """Three letters allow no edit; a doubled key press is still read (with a penalty)."""
    found = router.match_groups(text)
    assert found and found[0][0] == key and found[0][1] < 1.0


@pytest.mark.parametrize("text", ["vvpnn", "vpm", "vp"])
def test_short_names_take_no_other_typo(router: IntentRouter, text: str) -> None:
    assert top(router, text) != "vpn-users"


def test_can_i_get_on_the_vpnn(router: IntentRouter) -> None:
    found = router.classify("can i get on the vpnn")
    assert found.intent is Intent.GROUP_ACCESS and found.group == "vpn-users"


@pytest.mark.parametrize(
    "text",
    ["room", "my password", "pasword", "locked out", "I need a new phone", "lunch", "nation"],
)
def test_ordinary_words_are_not_groups(router: IntentRouter, text: str) -> None:
    assert router.match_groups(text) == []


def test_ambiguous_name_returns_several(router: IntentRouter) -> None:
    keys = [key for key, _ in router.match_groups("atlassian")]
    assert set(keys[:2]) == {"jira-software", "confluence"}


def test_two_groups_named_gives_both_and_no_single_choice(router: IntentRouter) -> None:
    assert {k for k, _ in router.match_groups("jira and confluence")} >= {
        "jira-software",
        "confluence",
    }
    result = router.classify("please add me to jira and confluence")
    assert result.intent is Intent.GROUP_ACCESS
    assert result.group is None


def test_shared_alias_is_ambiguous(examples: ExamplesConfig) -> None:
    catalogue = [
        GroupChoice("aws-prod-readonly", "AWS production (read-only)", ("aws prod",), ""),
        GroupChoice("aws-dev-admin", "AWS development (admin)", ("aws dev",), ""),
    ]
    router = IntentRouter.build(examples, catalogue)
    found = router.match_groups("aws")
    assert {k for k, _ in found} == {"aws-prod-readonly", "aws-dev-admin"}
    assert found[0][1] == found[1][1]
    assert router.classify("I need aws access").group is None
    assert router.classify("I need aws dev access").group == "aws-dev-admin"


def test_scores_are_ranked_and_bounded(router: IntentRouter) -> None:
    found = router.match_groups("dashboards")
    assert found[0][0] == "tableau-viewers"
    assert all(0 < score <= 1 for _, score in found)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("can I get edit rights in figma", "figma-editors"),
        ("i need access to confluance", "confluence"),
        ("please add me to the 1password team vault", "1password-team"),
        ("can you add me to a group?", None),
        ("I need access to something for my project", None),
    ],
)
def test_group_in_classification(router: IntentRouter, text: str, group: str | None) -> None:
    result = router.classify(text)
    assert result.intent is Intent.GROUP_ACCESS
    assert result.group == group


def test_group_is_only_reported_for_group_access(router: IntentRouter) -> None:
    result = router.classify("zoom keeps crashing when I share my screen")
    assert result.intent is not Intent.GROUP_ACCESS
    assert result.group is None


def test_empty_catalogue_still_classifies(examples: ExamplesConfig) -> None:
    router = IntentRouter.build(examples, [])
    assert router.match_groups("figma") == []
    result = router.classify("can I get edit rights in figma")
    assert result.intent is Intent.GROUP_ACCESS
    assert result.group is None
