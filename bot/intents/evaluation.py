"""Scoring a router against a labelled JSON-lines file.

Each line of an evaluation file is ``{"text": ..., "intent": ..., "group": key-or-null}``
plus, in the per-language sets, ``"lang"`` (ISO 639-1; English when absent).
``evaluate`` returns accuracy per intent (recall), their macro average,
out-of-scope precision and recall, group accuracy (over ``group_access``
lines), how often the detected language was right, and latencies (language
detection included): every timed run, and each message's median over its runs,
which a busy machine's pauses (another process holding the core) hardly move.
Shared by the benchmark and the tests.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.intents.router import IntentRouter
from bot.intents.types import Classification, Intent


@dataclass(frozen=True, slots=True)
class Labelled:
    """One evaluation utterance and its expected answer."""

    text: str
    intent: Intent
    group: str | None
    lang: str = "en"


@dataclass(frozen=True, slots=True)
class Miss:
    """An utterance the router got wrong."""

    item: Labelled
    got: Classification


@dataclass(slots=True)
class Report:
    """Scores of one evaluation run."""

    total: int = 0
    per_intent: dict[Intent, float] = field(default_factory=dict)
    macro: float = 0.0
    accuracy: float = 0.0
    oos_precision: float = 0.0
    oos_recall: float = 0.0
    group_accuracy: float = 0.0
    group_total: int = 0
    language_accuracy: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    message_ms: list[float] = field(default_factory=list)
    misses: list[Miss] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        """Percentile ``q`` (0..100) of every timed run, in milliseconds, nearest rank."""
        return _nearest_rank(self.latencies_ms, q)

    def message_percentile(self, q: float) -> float:
        """Percentile ``q`` (0..100) of the messages' median times, in milliseconds."""
        return _nearest_rank(self.message_ms, q)


def _nearest_rank(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def load_labelled(path: str | Path) -> list[Labelled]:
    """Read an evaluation file; raises ``ValueError`` naming a bad line."""
    items: list[Labelled] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(
                Labelled(
                    str(row["text"]),
                    Intent(row["intent"]),
                    row.get("group"),
                    str(row.get("lang", "en")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
    return items


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def evaluate(
    router: IntentRouter, items: Sequence[Labelled], repeat: int = 1, locale: str | None = None
) -> Report:
    """Classify every item (``repeat`` times, for steadier latency) and score the results.

    ``locale`` is passed to the router as the employee's locale (none by default:
    the language is then detected from the text alone, or the router's default).
    """
    report = Report(total=len(items))
    hits: dict[Intent, list[bool]] = {intent: [] for intent in Intent}
    predicted_oos = true_oos = 0
    group_hits = language_hits = 0
    for item in items:
        got: Classification | None = None
        runs: list[float] = []
        for _ in range(max(1, repeat)):
            start = time.perf_counter()
            got = router.classify(item.text, locale)
            runs.append((time.perf_counter() - start) * 1000)
        assert got is not None
        report.latencies_ms.extend(runs)
        report.message_ms.append(statistics.median(runs))
        language_hits += got.language == item.lang
        right = got.intent is item.intent
        hits[item.intent].append(right)
        if got.intent is Intent.OUT_OF_SCOPE:
            predicted_oos += 1
            true_oos += right
        if item.intent is Intent.GROUP_ACCESS:
            report.group_total += 1
            group_hits += right and got.group == item.group
        if not right or (item.intent is Intent.GROUP_ACCESS and got.group != item.group):
            report.misses.append(Miss(item, got))
    report.per_intent = {i: _ratio(sum(h), len(h)) for i, h in hits.items() if h}
    report.macro = sum(report.per_intent.values()) / max(1, len(report.per_intent))
    report.accuracy = _ratio(sum(sum(h) for h in hits.values()), len(items))
    report.oos_precision = _ratio(true_oos, predicted_oos)
    report.oos_recall = report.per_intent.get(Intent.OUT_OF_SCOPE, 1.0)
    report.group_accuracy = _ratio(group_hits, report.group_total)
    report.language_accuracy = _ratio(language_hits, len(items))
    return report


def format_report(name: str, report: Report, show_misses: bool = False) -> Iterable[str]:
    """Human-readable lines for ``report``."""
    yield f"== {name}: {report.total} utterances"
    for intent, acc in sorted(report.per_intent.items(), key=lambda kv: kv[0].value):
        yield f"  {intent.value:<16} accuracy {acc:.3f}"
    yield f"  macro accuracy     {report.macro:.3f}   (overall {report.accuracy:.3f})"
    yield (
        f"  out_of_scope       precision {report.oos_precision:.3f}  recall {report.oos_recall:.3f}"
    )
    yield (
        f"  group accuracy     {report.group_accuracy:.3f}"
        f"   ({report.group_total} group_access lines)"
    )
    yield f"  language detected  {report.language_accuracy:.3f}"
    yield (
        f"  latency per message (median of its runs)  p50 {report.message_percentile(50):.3f} ms"
        f"  p99 {report.message_percentile(99):.3f} ms"
        f"  max {max(report.message_ms, default=0):.3f} ms"
    )
    yield (
        f"  latency of every run                      p50 {report.percentile(50):.3f} ms"
        f"  p99 {report.percentile(99):.3f} ms"
        f"  max {max(report.latencies_ms, default=0):.3f} ms"
    )
    if show_misses:
        for miss in report.misses:
            yield (
                f"  MISS {miss.item.intent.value}/{miss.item.group} -> "
                f"{miss.got.intent.value}/{miss.got.group} ({miss.got.confidence:.2f}"
                + ("" if miss.got.language == miss.item.lang else f", read as {miss.got.language}")
                + f"): "
                f"{miss.item.text}"
            )
