"""The intent router: plain-language message in, ``Classification`` out.

``IntentRouter.build(examples, catalogue)`` builds everything from the
examples file and the group catalogue (a fraction of a second, no network).
``classify`` and ``match_groups`` are pure and synchronous; a built router
holds only immutable data and may be shared between threads.

Decision rules on top of the model's probabilities:

* nothing recognisable in the message -> ``out_of_scope`` with confidence at
  most ``UNKNOWN_CONFIDENCE`` and ``needs_clarification``;
* ``needs_clarification`` when the top probability is below
  ``thresholds.ask_below`` or an actionable runner-up is within
  ``thresholds.ask_margin``;
* ``group`` (``group_access`` only) is the best catalogue match the user did
  not deny, if it scores at least ``thresholds.group_min_score`` and beats the
  next group by ``GROUP_MARGIN``; otherwise ``None`` (ask with ``match_groups``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.intents.config import ExamplesConfig, Thresholds, parse_catalogue, parse_examples
from bot.intents.features import STOP_STEMS
from bot.intents.model import LinearModel, TrainingSettings, train
from bot.intents.pipeline import Analysis, Pipeline
from bot.intents.types import ACTIONABLE, Classification, GroupChoice, Intent

#: Confidence reported when nothing in the message is recognisable.
UNKNOWN_CONFIDENCE = 0.2
#: A best group must beat the runner-up by this much to be chosen alone.
GROUP_MARGIN = 0.1
#: Intents in model order.
CLASSES: tuple[Intent, ...] = tuple(Intent)


def _as_group(entry: GroupChoice | Mapping[str, Any]) -> GroupChoice:
    return entry if isinstance(entry, GroupChoice) else parse_catalogue([entry])[0]


class IntentRouter:
    """Classifies helpdesk messages; create with ``IntentRouter.build``."""

    def __init__(
        self,
        pipeline: Pipeline,
        model: LinearModel,
        thresholds: Thresholds,
        labels: Mapping[Intent, str],
    ) -> None:
        self._pipeline = pipeline
        self._model = model
        self.thresholds = thresholds
        self.labels: Mapping[Intent, str] = dict(labels)

    @classmethod
    def build(
        cls,
        examples: ExamplesConfig | Mapping[str, Any],
        catalogue: Iterable[GroupChoice | Mapping[str, Any]] = (),
        settings: TrainingSettings | None = None,
    ) -> IntentRouter:
        """Build from examples (an ``ExamplesConfig`` or raw YAML data) and the catalogue.

        Catalogue entries may be ``GroupChoice`` values or ``catalogue:`` mappings.
        Raises ``IntentConfigError`` for unusable raw data.
        """
        cfg = examples if isinstance(examples, ExamplesConfig) else parse_examples(examples)
        pipeline = Pipeline.build(cfg, (_as_group(g) for g in catalogue))
        samples: list[Mapping[str, float]] = []
        labels: list[int] = []
        for entry in cfg.intents:
            for example in entry.examples:
                samples.append(pipeline.analyse(example).features)
                labels.append(CLASSES.index(entry.intent))
        model = train(samples, labels, len(CLASSES), settings)
        return cls(pipeline, model, cfg.thresholds, cfg.labels())

    def analyse(self, text: str) -> Analysis:
        """The pipeline's view of ``text`` (tokens, negation, groups, features)."""
        return self._pipeline.analyse(text)

    def _evidence(self, features: Mapping[str, float]) -> int:
        """How many informative features of the message the model knows."""
        content = [
            f
            for f in features
            if f.startswith(("c:", "b:")) or (f.startswith("w:") and f[2:] not in STOP_STEMS)
        ]
        return self._model.known(dict.fromkeys(content, 1.0))

    def _group(self, analysis: Analysis) -> str | None:
        scores: dict[str, float] = {}
        for n, span in enumerate(analysis.spans):
            if n not in analysis.denied_spans:
                scores[span.key] = max(span.score, scores.get(span.key, 0.0))
        described = self._pipeline.matcher.description_scores(analysis.asserted_stems())
        for key, score in described.items():
            scores[key] = max(score, scores.get(key, 0.0))
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        if not ranked or ranked[0][1] < self.thresholds.group_min_score:
            return None
        if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < GROUP_MARGIN:
            return None
        return ranked[0][0]

    def classify(self, text: str) -> Classification:
        """Intent, confidence, group and whether to ask, for one message."""
        analysis = self._pipeline.analyse(text)
        probs = self._model.probabilities(analysis.features)
        ranked = sorted(zip(CLASSES, probs, strict=True), key=lambda p: -p[1])
        alternatives = [(intent, round(p, 4)) for intent, p in ranked]
        if self._evidence(analysis.features) == 0:
            oos = [a for a in alternatives if a[0] is Intent.OUT_OF_SCOPE]
            rest = [a for a in alternatives if a[0] is not Intent.OUT_OF_SCOPE]
            confidence = min(oos[0][1], UNKNOWN_CONFIDENCE)
            return Classification(Intent.OUT_OF_SCOPE, confidence, None, oos + rest, True)
        (intent, confidence), (runner_up, second) = ranked[0], ranked[1]
        ask = confidence < self.thresholds.ask_below or (
            runner_up in ACTIONABLE and confidence - second < self.thresholds.ask_margin
        )
        group = self._group(analysis) if intent is Intent.GROUP_ACCESS else None
        return Classification(intent, round(confidence, 4), group, alternatives, ask)

    def match_groups(self, text: str, limit: int = 5) -> list[tuple[str, float]]:
        """Catalogue groups the text may mean, best first, as ``(key, score 0..1)``.

        Forgiving about case, spacing, punctuation and close spellings; several
        entries come back when the text is ambiguous ("atlassian").
        """
        return self._pipeline.matcher.rank(self._pipeline.tokens(text))[:limit]

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        """``classify`` for each text, in order."""
        return [self.classify(t) for t in texts]
