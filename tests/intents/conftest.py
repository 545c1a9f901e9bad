"""Shared fixtures: the packaged examples, the test catalogue and one built router."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.intents.config import ExamplesConfig, load_catalogue, load_examples
from bot.intents.router import IntentRouter
from bot.intents.types import GroupChoice

HERE = Path(__file__).parent
FIXTURE_CONFIG = HERE / "fixtures" / "helpdesk.yaml"
EVAL_SET = HERE / "eval_set.jsonl"
HOLDOUT_SET = HERE / "holdout_set.jsonl"


@pytest.fixture(scope="session")
def examples() -> ExamplesConfig:
    return load_examples()


@pytest.fixture(scope="session")
def catalogue() -> tuple[GroupChoice, ...]:
    return load_catalogue(FIXTURE_CONFIG)


@pytest.fixture(scope="session")
def router(examples: ExamplesConfig, catalogue: tuple[GroupChoice, ...]) -> IntentRouter:
    return IntentRouter.build(examples, catalogue)
