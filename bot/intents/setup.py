"""Building the router from the validated ``helpdesk.yaml``.

The catalogue is read once, by ``config.settings``; this module only turns
its entries into the ``GroupChoice`` values the matcher needs and finds the
examples file the configuration names.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.intents.config import load_examples
from bot.intents.router import IntentRouter
from bot.intents.types import GroupChoice

if TYPE_CHECKING:
    from config.settings import CatalogueEntry, HelpdeskConfig


def groups_from_catalogue(entries: Iterable[CatalogueEntry]) -> tuple[GroupChoice, ...]:
    """The matcher's view of validated catalogue entries."""
    return tuple(
        GroupChoice(
            entry.key,
            entry.display_name,
            tuple(entry.aliases),
            entry.description,
            tuple((code, tuple(names)) for code, names in entry.aliases_by_language.items()),
        )
        for entry in entries
    )


def intents_file_of(cfg: HelpdeskConfig) -> Path | None:
    """The configured examples file: a relative path is looked up beside the YAML first."""
    chosen = cfg.intents_file
    if chosen is None:
        return None
    chosen = chosen.expanduser()
    if chosen.is_absolute() or cfg.source is None:
        return chosen
    beside = cfg.source.parent / chosen
    return beside if beside.exists() or not chosen.exists() else chosen


def router_from_config(cfg: HelpdeskConfig) -> IntentRouter:
    """The router for a configuration: its examples file and its catalogue.

    Raises ``IntentConfigError`` when the examples file cannot be used.
    """
    examples = load_examples(intents_file_of(cfg))
    return IntentRouter.build(examples, groups_from_catalogue(cfg.catalogue))
