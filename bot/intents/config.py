"""Loading and checking ``config/intents.yaml`` and the group catalogue.

``load_examples(path)`` returns an ``ExamplesConfig``; ``load_helpdesk(path)``
reads the parts of ``helpdesk.yaml`` the router needs (``catalogue`` and
``intents_file``). Every problem raises ``IntentConfigError`` with a single
readable line naming the file and the offending field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.intents.types import GroupChoice, Intent

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
DEFAULT_INTENTS_FILE = CONFIG_DIR / "intents.yaml"
DEFAULT_HELPDESK_FILE = CONFIG_DIR / "helpdesk.yaml"

_TOP_KEYS = frozenset({"version", "thresholds", "intents", "synonyms", "concepts"})


class IntentConfigError(ValueError):
    """The examples file or the catalogue cannot be used; the message is one line."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When the bot should ask instead of act, and how sure a group match must be.

    ``ask_below``: ask when the top intent's probability is lower.
    ``ask_margin``: ask when the runner-up (an actionable intent) is this close.
    ``group_min_score``: a group match (0..1) below this is not reported.
    """

    ask_below: float = 0.65
    ask_margin: float = 0.15
    group_min_score: float = 0.65


@dataclass(frozen=True, slots=True)
class IntentExamples:
    """The button label and training utterances of one intent."""

    intent: Intent
    label: str
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExamplesConfig:
    """Everything the router is built from, apart from the catalogue."""

    intents: tuple[IntentExamples, ...]
    synonyms: tuple[tuple[str, str], ...] = ()
    concepts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    source: str = "<memory>"

    def labels(self) -> dict[Intent, str]:
        """Button label per intent."""
        return {entry.intent: entry.label for entry in self.intents}


@dataclass(frozen=True, slots=True)
class HelpdeskIntentSettings:
    """The router's share of ``helpdesk.yaml``."""

    catalogue: tuple[GroupChoice, ...]
    intents_file: Path | None


def _fail(source: str, where: str, problem: str) -> IntentConfigError:
    return IntentConfigError(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")


def _strings(value: Any, source: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _fail(source, where, "expected a list of strings")
    out: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise _fail(source, f"{where}.{i}", "expected a string")
        text = str(item).strip()
        if text:
            out.append(text)
    return tuple(out)


def _mapping(value: Any, source: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(source, where, "expected a mapping")
    return value


def _thresholds(value: Any, source: str) -> Thresholds:
    if value is None:
        return Thresholds()
    data = _mapping(value, source, "thresholds")
    defaults = Thresholds()
    numbers: dict[str, float] = {}
    for name in ("ask_below", "ask_margin", "group_min_score"):
        raw = data.get(name, getattr(defaults, name))
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
            raise _fail(source, f"thresholds.{name}", "expected a number between 0 and 1")
        numbers[name] = float(raw)
    unknown = set(data) - set(numbers)
    if unknown:
        raise _fail(source, "thresholds", f"unknown setting {sorted(unknown)[0]!r}")
    return Thresholds(**numbers)


def _intent_entries(value: Any, source: str) -> tuple[IntentExamples, ...]:
    data = _mapping(value, source, "intents")
    known = {intent.value: intent for intent in Intent}
    entries: list[IntentExamples] = []
    for name, body in data.items():
        if name not in known:
            expected = ", ".join(sorted(known))
            raise _fail(source, f"intents.{name}", f"unknown intent; expected one of {expected}")
        intent = known[name]
        label = intent.value.replace("_", " ")
        if isinstance(body, Mapping):
            label = str(body.get("label") or label)
            examples = _strings(body.get("examples"), source, f"intents.{name}.examples")
        else:
            examples = _strings(body, source, f"intents.{name}")
        if not examples:
            raise _fail(source, f"intents.{name}", "needs at least one example")
        entries.append(IntentExamples(intent, label, examples))
    missing = [intent.value for intent in Intent if intent.value not in data]
    if missing:
        raise _fail(source, "intents", f"missing intent {missing[0]!r}")
    return tuple(entries)


def parse_examples(data: Any, source: str = "<memory>") -> ExamplesConfig:
    """Check an already-loaded examples document and turn it into an ``ExamplesConfig``."""
    doc = _mapping(data, source, "")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise _fail(source, sorted(unknown)[0], "unknown top-level key")
    if "intents" not in doc:
        raise _fail(source, "intents", "missing")
    synonyms = tuple(
        (str(k).strip().lower(), str(v).strip().lower())
        for k, v in _mapping(doc.get("synonyms") or {}, source, "synonyms").items()
    )
    concepts = tuple(
        (str(name), _strings(terms, source, f"concepts.{name}"))
        for name, terms in _mapping(doc.get("concepts") or {}, source, "concepts").items()
    )
    return ExamplesConfig(
        intents=_intent_entries(doc["intents"], source),
        synonyms=synonyms,
        concepts=concepts,
        thresholds=_thresholds(doc.get("thresholds"), source),
        source=source,
    )


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IntentConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise IntentConfigError(f"{path}: not UTF-8 text") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise IntentConfigError(f"{path}: invalid YAML{where}: {problem}") from None


def load_examples(path: str | Path | None = None) -> ExamplesConfig:
    """Read and check an examples file (default: the packaged ``config/intents.yaml``)."""
    chosen = Path(path) if path is not None else DEFAULT_INTENTS_FILE
    return parse_examples(_read_yaml(chosen), str(chosen))


def parse_catalogue(entries: Any, source: str = "<memory>") -> tuple[GroupChoice, ...]:
    """Turn a ``catalogue:`` list into ``GroupChoice`` values; extra fields are ignored."""
    if entries is None:
        return ()
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        raise _fail(source, "catalogue", "expected a list of groups")
    groups: list[GroupChoice] = []
    seen: set[str] = set()
    for i, raw in enumerate(entries):
        entry = _mapping(raw, source, f"catalogue.{i}")
        key = entry.get("key")
        if not isinstance(key, str) or not key.strip():
            raise _fail(source, f"catalogue.{i}.key", "missing or not a string")
        if key in seen:
            raise _fail(source, f"catalogue.{i}.key", f"duplicate key {key!r}")
        seen.add(key)
        display = entry.get("display_name", key)
        description = entry.get("description") or ""
        if not isinstance(display, str) or not isinstance(description, str):
            raise _fail(source, f"catalogue.{i}", "display_name and description must be strings")
        aliases = _strings(entry.get("aliases") or [], source, f"catalogue.{i}.aliases")
        groups.append(GroupChoice(key, display, aliases, description))
    return tuple(groups)


def _resolve(base: Path, value: Any, source: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, "intents_file", "expected a file path")
    candidate = Path(value).expanduser()
    if candidate.is_absolute():
        return candidate
    beside = base / candidate
    return beside if beside.exists() or not candidate.exists() else candidate


def load_helpdesk(path: str | Path) -> HelpdeskIntentSettings:
    """Read ``catalogue`` and ``intents_file`` from a ``helpdesk.yaml``.

    A relative ``intents_file`` is looked up beside the YAML first, then in the
    current directory.
    """
    chosen = Path(path)
    doc = _read_yaml(chosen)
    source = str(chosen)
    if doc is None:
        doc = {}
    data = _mapping(doc, source, "")
    return HelpdeskIntentSettings(
        catalogue=parse_catalogue(data.get("catalogue"), source),
        intents_file=_resolve(chosen.parent, data.get("intents_file"), source),
    )


def load_catalogue(path: str | Path) -> tuple[GroupChoice, ...]:
    """The ``catalogue:`` groups of a ``helpdesk.yaml`` (empty if it has none)."""
    return load_helpdesk(path).catalogue
