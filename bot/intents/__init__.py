"""Intent router: what does the employee want, and which group do they mean.

Offline and fast: a small linear model over normalised words, concepts and
negation-aware features, built from ``config/intents.yaml`` at start-up.

    router = IntentRouter.build(load_examples(), catalogue)
    result = router.classify("forgot pwd again lol")
    result.intent, result.confidence, result.needs_clarification
    router.match_groups("confluance")
"""

from bot.intents.config import (
    ExamplesConfig,
    IntentConfigError,
    Thresholds,
    load_catalogue,
    load_examples,
    load_helpdesk,
    parse_catalogue,
    parse_examples,
)
from bot.intents.router import IntentRouter
from bot.intents.types import ACTIONABLE, Classification, GroupChoice, Intent

__all__ = [
    "ACTIONABLE",
    "Classification",
    "ExamplesConfig",
    "GroupChoice",
    "Intent",
    "IntentConfigError",
    "IntentRouter",
    "Thresholds",
    "load_catalogue",
    "load_examples",
    "load_helpdesk",
    "parse_catalogue",
    "parse_examples",
]
