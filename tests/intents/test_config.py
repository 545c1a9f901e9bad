"""Loading and checking the examples file, and the catalogue as the router sees it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.intents.config import OPTIONAL_INTENTS, IntentConfigError, load_examples, parse_examples
from bot.intents.lang import LANGUAGES
from bot.intents.setup import groups_from_catalogue, intents_file_of
from bot.intents.types import Intent
from config.settings import ALIAS_LANGUAGES, ConfigError, load_config, validate_config
from tests.intents.conftest import FIXTURE_CONFIG

MINIMAL_CONFIG: dict[str, Any] = {
    "connectors": {"mem": {"kind": "memory"}},
    "capabilities": {"groups": "mem"},
}


def _doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"intents": {i.value: [f"example for {i.value}"] for i in Intent}}
    doc.update(overrides)
    return doc


def test_packaged_examples_cover_every_intent_in_every_language() -> None:
    cfg = load_examples()
    assert {e.intent for e in cfg.intents} == set(Intent)
    for entry in cfg.intents:
        assert len(entry.texts("en")) >= 20, entry.intent
        for code in LANGUAGES:
            assert len(entry.texts(code)) >= 5, (entry.intent, code)
    assert 0 < cfg.thresholds.ask_below < 1
    assert cfg.synonyms and cfg.concepts
    assert {c.language for c in cfg.concepts} == set(LANGUAGES)
    assert cfg.default_language == "en"


def test_minimal_document_is_accepted() -> None:
    cfg = parse_examples(_doc())
    assert cfg.labels()[Intent.HELP] == "help"
    assert cfg.thresholds.group_min_score == pytest.approx(0.65)
    assert all(x.language == "en" for _, x in cfg.examples())


def test_an_older_file_without_thanks_still_loads() -> None:
    intents = {i.value: ["x"] for i in Intent if i not in OPTIONAL_INTENTS}
    cfg = parse_examples({"intents": intents})
    assert Intent.THANKS not in cfg.labels()


def test_examples_concepts_and_synonyms_per_language() -> None:
    doc = _doc(
        languages={"default": "es"},
        concepts={"password": {"en": ["password"], "es": ["contraseña", "clave"]}, "x": ["y"]},
        synonyms={"pwd": "password", "fr": {"mdp": "mot de passe"}},
    )
    doc["intents"]["password_reset"] = {
        "label": "Reset",
        "examples": {"en": ["forgot my password"], "es": ["olvidé la clave"]},
    }
    cfg = parse_examples(doc)
    reset = next(e for e in cfg.intents if e.intent is Intent.PASSWORD_RESET)
    assert reset.texts("es") == ("olvidé la clave",)
    assert reset.texts() == ("forgot my password", "olvidé la clave")
    assert {(c.name, c.language) for c in cfg.concepts} == {
        ("password", "en"),
        ("password", "es"),
        ("x", "en"),
    }
    assert ("fr", "mdp", "mot de passe") in cfg.synonyms
    assert ("en", "pwd", "password") in cfg.synonyms
    assert cfg.default_language == "es"


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
        (
            _doc(intents={**_doc()["intents"], "help": {"examples": {"it": ["aiuto"]}}}),
            "intents.help.examples.it: unknown language",
        ),
        (
            _doc(intents={**_doc()["intents"], "help": {"examples": {"es": [["x"]]}}}),
            "intents.help.examples.es.0: expected a string",
        ),
        (_doc(concepts={"password": {"xx": ["pw"]}}), "concepts.password.xx: unknown language"),
        (_doc(synonyms={"it": {"pw": "password"}}), "synonyms.it: unknown language"),
        (_doc(languages={"default": "it"}), "languages.default: unknown language"),
        (_doc(languages={"fallback": "en"}), "languages: unknown setting 'fallback'"),
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


def test_router_languages_agree_with_the_configuration() -> None:
    assert tuple(LANGUAGES) == ALIAS_LANGUAGES


def test_catalogue_comes_from_the_validated_configuration() -> None:
    cfg = validate_config(
        {
            **MINIMAL_CONFIG,
            "catalogue": [
                {
                    "key": "notion",
                    "display_name": "notion",
                    "provider_group": "x",
                    "auto_approve": True,
                },
                {
                    "key": "vpn-users",
                    "display_name": "VPN",
                    "aliases": ["remote access"],
                    "aliases_by_language": {"es": ["escritorio remoto"]},
                    "description": "d",
                    "provider_group": "vpn",
                    "approvers": ["@it"],
                },
            ],
        },
        "helpdesk.yaml",
        {},
    )
    groups = groups_from_catalogue(cfg.catalogue)
    assert groups[0].aliases == ()
    assert groups[1].aliases == ("remote access",)
    assert groups[1].names("es")[-1] == "escritorio remoto"
    assert "escritorio remoto" not in groups[1].names("fr")


def test_alias_languages_are_checked() -> None:
    entry = {
        "key": "vpn-users",
        "display_name": "VPN",
        "aliases_by_language": {"it": ["accesso remoto"]},
        "provider_group": "vpn",
        "auto_approve": True,
    }
    with pytest.raises(ConfigError) as info:
        validate_config({**MINIMAL_CONFIG, "catalogue": [entry]}, "helpdesk.yaml", {})
    assert any(
        "catalogue.0.aliases_by_language" in p and "unknown language 'it'" in p
        for p in info.value.problems
    )


def test_fixture_catalogue() -> None:
    groups = groups_from_catalogue(load_config(FIXTURE_CONFIG, {}).catalogue)
    assert len(groups) == 16
    assert groups[0].key == "figma-editors"
    assert any(g.key == "github-admins" for g in groups)


def test_intents_file_is_resolved_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("intents: {}\n", encoding="utf-8")
    config = tmp_path / "helpdesk.yaml"
    config.write_text(
        "connectors: {mem: {kind: memory}}\nintents_file: mine.yaml\ncatalogue: []\n",
        encoding="utf-8",
    )
    cfg = load_config(config, {})
    assert intents_file_of(cfg) == tmp_path / "mine.yaml"
    assert cfg.catalogue == []
