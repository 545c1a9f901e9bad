"""Free text to an intent: the seam between the conversation and the intent router.

``Intent`` is the router's own enum (``bot.intents.types``), re-exported here
for the conversation code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.intents.types import Intent
from config.settings import HelpdeskConfig

__all__ = ["Intent", "Routed", "Router", "build_router"]


@dataclass(frozen=True)
class Routed:
    """The router's reading of a message; ``language`` is ISO 639-1 (answers may use it)."""

    intent: Intent
    confidence: float
    group: str | None
    alternatives: Sequence[Intent]
    needs_clarification: bool
    language: str = "en"


class Router(Protocol):
    def classify(self, text: str, locale: str | None = None) -> Routed:
        """``locale``: the employee's Slack locale, which decides for very short messages."""
        ...


class _IntentsAdapter:
    """Adapts the intent model in ``bot.intents`` to the conversation's ``Router``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def classify(self, text: str, locale: str | None = None) -> Routed:
        """``locale`` (the employee's Slack locale, e.g. ``"es-ES"``) helps with short messages."""
        result = self.model.classify(text, locale)
        alternatives = [Intent(name) for name, _score in result.alternatives]
        return Routed(
            intent=Intent(result.intent),
            confidence=float(result.confidence),
            group=result.group,
            alternatives=alternatives,
            needs_clarification=bool(result.needs_clarification),
            language=str(result.language),
        )


def build_router(cfg: HelpdeskConfig) -> Router:
    """Build the intent model from the configured examples and the group catalogue."""
    from bot.intents.setup import router_from_config

    return _IntentsAdapter(router_from_config(cfg))
