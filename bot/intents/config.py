"""Loading and checking ``config/intents.yaml``, the router's examples file.

``load_examples(path)`` returns an ``ExamplesConfig``. Examples, concept
terms and synonyms may be given per language (``{en: [...], es: [...]}``); a
plain list is English. Every problem raises ``IntentConfigError`` with a
single readable line naming the file and the offending field. The catalogue
is not read here: it comes from the validated ``helpdesk.yaml``
(``config.settings``; see ``bot.intents.setup``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.intents.lang import LANGUAGES
from bot.intents.types import Intent

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
DEFAULT_INTENTS_FILE = CONFIG_DIR / "intents.yaml"

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOP_KEYS = frozenset({"version", "languages", "thresholds", "intents", "synonyms", "concepts"})
#: Intents an older examples file may leave out (the router then never answers them).
OPTIONAL_INTENTS = frozenset({Intent.THANKS})


class IntentConfigError(ValueError):
    """The examples file cannot be used; the message is one line."""


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
class Example:
    """One training utterance and its language (ISO 639-1)."""

    language: str
    text: str


@dataclass(frozen=True, slots=True)
class IntentExamples:
    """The button label and training utterances of one intent."""

    intent: Intent
    label: str
    examples: tuple[Example, ...]

    def texts(self, language: str | None = None) -> tuple[str, ...]:
        """The utterances (of one language, or all)."""
        return tuple(e.text for e in self.examples if language in (None, e.language))


@dataclass(frozen=True, slots=True)
class Concept:
    """A word family in one language: any of ``terms`` gives the message ``name``."""

    name: str
    language: str
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExamplesConfig:
    """Everything the router is built from, apart from the catalogue.

    ``synonyms`` holds ``(language, phrase, replacement)``; English synonyms
    apply to every language, since people mix English words into theirs.
    ``default_language`` is used when a message is too short to tell and the
    caller gave no locale.
    """

    intents: tuple[IntentExamples, ...]
    synonyms: tuple[tuple[str, str, str], ...] = ()
    concepts: tuple[Concept, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    default_language: str = "en"
    source: str = "<memory>"

    def labels(self) -> dict[Intent, str]:
        """Button label per intent."""
        return {entry.intent: entry.label for entry in self.intents}

    def examples(self) -> list[tuple[Intent, Example]]:
        """Every training utterance with its intent."""
        return [(entry.intent, x) for entry in self.intents for x in entry.examples]


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


def _language(code: Any, source: str, where: str) -> str:
    if not isinstance(code, str) or code not in LANGUAGES:
        raise _fail(source, where, f"unknown language; expected one of {', '.join(LANGUAGES)}")
    return code


def _by_language(value: Any, source: str, where: str) -> list[tuple[str, tuple[str, ...]]]:
    """A plain list (English) or ``{language: [strings]}``."""
    if isinstance(value, Mapping):
        return [
            (_language(code, source, f"{where}.{code}"), _strings(v, source, f"{where}.{code}"))
            for code, v in value.items()
        ]
    return [("en", _strings(value, source, where))]


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
            grouped = _by_language(body.get("examples"), source, f"intents.{name}.examples")
        else:
            grouped = _by_language(body, source, f"intents.{name}")
        examples = tuple(Example(code, text) for code, texts in grouped for text in texts)
        if not examples:
            raise _fail(source, f"intents.{name}", "needs at least one example")
        entries.append(IntentExamples(intent, label, examples))
    missing = [i.value for i in Intent if i.value not in data and i not in OPTIONAL_INTENTS]
    if missing:
        raise _fail(source, "intents", f"missing intent {missing[0]!r}")
    return tuple(entries)


def _synonyms(value: Any, source: str) -> tuple[tuple[str, str, str], ...]:
    """``phrase: replacement`` (English) and ``language: {phrase: replacement}``."""
    out: list[tuple[str, str, str]] = []
    for key, replacement in _mapping(value or {}, source, "synonyms").items():
        if isinstance(replacement, Mapping):
            code = _language(key, source, f"synonyms.{key}")
            for k, v in replacement.items():
                out.append((code, str(k).strip().lower(), str(v).strip().lower()))
        else:
            out.append(("en", str(key).strip().lower(), str(replacement).strip().lower()))
    return tuple(out)


def _default_language(value: Any, source: str) -> str:
    if value is None:
        return "en"
    data = _mapping(value, source, "languages")
    unknown = set(data) - {"default"}
    if unknown:
        raise _fail(source, "languages", f"unknown setting {sorted(unknown)[0]!r}")
    return _language(data.get("default", "en"), source, "languages.default")


def parse_examples(data: Any, source: str = "<memory>") -> ExamplesConfig:
    """Check an already-loaded examples document and turn it into an ``ExamplesConfig``."""
    doc = _mapping(data, source, "")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise _fail(source, sorted(unknown)[0], "unknown top-level key")
    if "intents" not in doc:
        raise _fail(source, "intents", "missing")
    concepts = tuple(
        Concept(str(name), code, terms)
        for name, value in _mapping(doc.get("concepts") or {}, source, "concepts").items()
        for code, terms in _by_language(value, source, f"concepts.{name}")
    )
    return ExamplesConfig(
        intents=_intent_entries(doc["intents"], source),
        synonyms=_synonyms(doc.get("synonyms"), source),
        concepts=concepts,
        thresholds=_thresholds(doc.get("thresholds"), source),
        default_language=_default_language(doc.get("languages"), source),
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
        # libyaml's loader when present: the examples file is long and read at every start.
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise IntentConfigError(f"{path}: invalid YAML{where}: {problem}") from None


def load_examples(path: str | Path | None = None) -> ExamplesConfig:
    """Read and check an examples file (default: the packaged ``config/intents.yaml``)."""
    chosen = Path(path) if path is not None else DEFAULT_INTENTS_FILE
    return parse_examples(_read_yaml(chosen), str(chosen))
