"""Free text to an intent: the seam between the conversation and the intent router."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from config.settings import HelpdeskConfig


class Intent(enum.StrEnum):
    GROUP_ACCESS = "group_access"
    PASSWORD_RESET = "password_reset"
    ACCOUNT_UNLOCK = "account_unlock"
    MFA_RESET = "mfa_reset"
    PASSWORD_EXPIRY = "password_expiry"
    GREETING = "greeting"
    HELP = "help"
    OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class Routed:
    intent: Intent
    confidence: float
    group: str | None
    alternatives: Sequence[Intent]
    needs_clarification: bool


class Router(Protocol):
    def classify(self, text: str) -> Routed: ...


class _IntentsAdapter:
    """Adapts the intent model in ``bot.intents`` to the conversation's ``Router``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def classify(self, text: str) -> Routed:
        result = self.model.classify(text)
        alternatives = [Intent(name) for name, _score in result.alternatives]
        return Routed(
            intent=Intent(result.intent),
            confidence=float(result.confidence),
            group=result.group,
            alternatives=alternatives,
            needs_clarification=bool(result.needs_clarification),
        )


def build_router(cfg: HelpdeskConfig) -> Router:
    """Build the intent model from the configured examples and the group catalogue."""
    from bot.intents.config import load_examples
    from bot.intents.router import IntentRouter
    from bot.intents.types import GroupChoice

    catalogue = [
        GroupChoice(e.key, e.display_name, tuple(e.aliases), e.description) for e in cfg.catalogue
    ]
    return _IntentsAdapter(IntentRouter.build(load_examples(cfg.intents_file), catalogue))
