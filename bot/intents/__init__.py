"""Intent router: what does the employee want, which group do they mean, in which language.

Offline and fast: a small linear model over normalised words, concepts and
negation-aware features, built from ``config/intents.yaml`` at start-up.
English, Spanish, French, German and Portuguese are understood; the
message's language is detected (or taken from the caller's locale when the
message is too short to tell).

    router = router_from_config(load_config())      # or IntentRouter.build(examples, catalogue)
    result = router.classify("se me olvidó la contraseña", locale="es-ES")
    result.intent, result.confidence, result.language, result.needs_clarification
    router.match_groups("confluance")
"""

from bot.intents.config import (
    ExamplesConfig,
    IntentConfigError,
    Thresholds,
    load_examples,
    parse_examples,
)
from bot.intents.lang import LANGUAGES
from bot.intents.router import IntentRouter
from bot.intents.setup import groups_from_catalogue, intents_file_of, router_from_config
from bot.intents.types import ACTIONABLE, Classification, GroupChoice, Intent

__all__ = [
    "ACTIONABLE",
    "LANGUAGES",
    "Classification",
    "ExamplesConfig",
    "GroupChoice",
    "Intent",
    "IntentConfigError",
    "IntentRouter",
    "Thresholds",
    "groups_from_catalogue",
    "intents_file_of",
    "load_examples",
    "parse_examples",
    "router_from_config",
]
