"""Loading and checking the examples file and the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.intents.config import (
    IntentConfigError,
    load_catalogue,
    load_examples,
    load_helpdesk,
    parse_catalogue,
    parse_examples,
)
from bot.intents.types import Intent
from tests.intents.conftest import FIXTURE_CONFIG


def _doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"intents": {i.value: [f"example for {i.value}"] for i in Intent}}
    doc.update(overrides)
    return doc


def test_packaged_examples_cover_every_intent() -> None:
    cfg = load_examples()
    assert {e.intent for e in cfg.intents} == set(Intent)
    assert all(len(e.examples) >= 20 for e in cfg.intents)
    assert 0 < cfg.thresholds.ask_below < 1
    assert cfg.synonyms and cfg.concepts


def test_minimal_document_is_accepted() -> None:
    cfg = parse_examples(_doc())
    assert cfg.labels()[Intent.HELP] == "help"
    assert cfg.thresholds.group_min_score == pytest.approx(0.65)


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ("not a mapping", "expected a mapping"),
        ({"intnets": {}}, "intnets: unknown top-level key"),
        ({}, "intents: missing"),
        (_doc(intents={"password_reset": ["x"]}), "missing intent"),
        (_doc(intents={**_doc()["intents"], "pizza_order": ["x"]}), "intents.pizza_order"),
        (_doc(intents={**_doc()["intents"], "help": []}), "intents.help: needs at least one"),
        (_doc(intents={**_doc()["intents"], "help": {"examples": 3}}), "expected a list"),
        (_doc(thresholds={"ask_below": 2}), "thresholds.ask_below"),
        (_doc(thresholds={"ask_bellow": 0.5}), "unknown setting 'ask_bellow'"),
        (_doc(synonyms=["pwd"]), "synonyms: expected a mapping"),
    ],
)
def test_problems_are_reported_on_one_line(doc: Any, fragment: str) -> None:
    with pytest.raises(IntentConfigError) as info:
        parse_examples(doc, "intents.yaml")
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert message.startswith("intents.yaml")


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(IntentConfigError, match="cannot read"):
        load_examples(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("intents: [\n", encoding="utf-8")
    with pytest.raises(IntentConfigError, match="invalid YAML at line"):
        load_examples(broken)


def test_catalogue_ignores_extra_fields_and_defaults() -> None:
    groups = parse_catalogue(
        [
            {"key": "notion", "provider_group": "x", "approvers": ["a"]},
            {
                "key": "zoom-pro",
                "display_name": "Zoom Pro",
                "aliases": ["zoom"],
                "description": "d",
            },
        ]
    )
    assert groups[0].display_name == "notion"
    assert groups[0].aliases == ()
    assert groups[1].aliases == ("zoom",)


@pytest.mark.parametrize(
    ("entries", "fragment"),
    [
        ("figma", "expected a list of groups"),
        ([{"display_name": "x"}], "catalogue.0.key"),
        ([{"key": "a"}, {"key": "a"}], "duplicate key 'a'"),
        (
            [{"key": "a", "aliases": "b"}, {"key": "c", "aliases": [{"x": 1}]}],
            "catalogue.1.aliases.0",
        ),
    ],
)
def test_catalogue_problems(entries: Any, fragment: str) -> None:
    with pytest.raises(IntentConfigError, match=fragment):
        parse_catalogue(entries, "helpdesk.yaml")


def test_fixture_catalogue() -> None:
    groups = load_catalogue(FIXTURE_CONFIG)
    assert len(groups) == 15
    assert groups[0].key == "figma-editors"


def test_intents_file_is_resolved_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("intents: {}\n", encoding="utf-8")
    config = tmp_path / "helpdesk.yaml"
    config.write_text("intents_file: mine.yaml\ncatalogue: []\n", encoding="utf-8")
    settings = load_helpdesk(config)
    assert settings.intents_file == tmp_path / "mine.yaml"
    assert settings.catalogue == ()
