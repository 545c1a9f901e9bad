"""Shared fixtures: the packaged examples, the test catalogue and one built router."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.intents.config import ExamplesConfig, load_examples
from bot.intents.router import IntentRouter
from bot.intents.setup import groups_from_catalogue
from bot.intents.types import GroupChoice
from config.settings import load_config

HERE = Path(__file__).parent
FIXTURE_CONFIG = HERE / "fixtures" / "helpdesk.yaml"
EVAL_SET = HERE / "eval_set.jsonl"
HOLDOUT_SET = HERE / "holdout_set.jsonl"
#: Evaluation sets written per language (not translations of the training examples).
LANGUAGE_SETS = {code: HERE / f"eval_{code}.jsonl" for code in ("es", "fr", "de", "pt")}


def fixture_catalogue() -> tuple[GroupChoice, ...]:
    """The test catalogue, read through the bot's own configuration loader."""
    return groups_from_catalogue(load_config(FIXTURE_CONFIG, {}).catalogue)


@pytest.fixture(scope="session")
def examples() -> ExamplesConfig:
    return load_examples()


@pytest.fixture(scope="session")
def catalogue() -> tuple[GroupChoice, ...]:
    return fixture_catalogue()


@pytest.fixture(scope="session")
def router(examples: ExamplesConfig, catalogue: tuple[GroupChoice, ...]) -> IntentRouter:
    return IntentRouter.build(examples, catalogue)
