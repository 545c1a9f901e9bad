"""The intent router: plain-language message in, ``Classification`` out.

``IntentRouter.build(examples, catalogue)`` builds everything from the
examples file and the group catalogue (well under a second, no network).
``classify`` and ``match_groups`` are pure and synchronous; a built router
holds only immutable data and may be shared between threads.

The message's language is detected first (``bot.intents.detect``; the
caller's ``locale`` and then the examples file's default decide for very
short messages); that language's pipeline turns it into features, and one
model shared by all languages scores them.

Decision rules on top of the model's probabilities:

* nothing recognisable in the message -> ``out_of_scope`` with confidence at
  most ``UNKNOWN_CONFIDENCE`` and ``needs_clarification``;
* ``needs_clarification`` when the top probability is below
  ``thresholds.ask_below`` or an actionable runner-up is within
  ``thresholds.ask_margin``;
* a request for a thing ("I need X", "il me faudrait X") that is group access
  rather than anything else is ``group_access`` without asking, and so is one
  for a product the catalogue lacks even when the model leans to out of scope
  (the conversation then offers the catalogue); an out-of-scope message whose
  only hint of a group request is a product's name ("can you sketch out the
  plan") is answered as out of scope, without buttons;
* ``group`` (``group_access`` only) is the best catalogue match the user did
  not deny, if it scores at least ``thresholds.group_min_score`` and beats the
  next group by ``GROUP_MARGIN``; otherwise ``None`` (ask with ``match_groups``).
  A role the user names ("admin", "editor") favours the entry named with it.
  Words of an entry's description only count when the message does not ask
  for a product the router does not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.intents.config import ExamplesConfig, Thresholds, parse_examples
from bot.intents.detect import LanguageDetector
from bot.intents.features import GROUP_TOKEN, NAME_TOKEN, REQUEST
from bot.intents.groups import QualifierIndex
from bot.intents.lang import LANGUAGES, language
from bot.intents.model import LinearModel, TrainingSettings, train
from bot.intents.pipeline import Analysis, Pipeline, build_pipelines
from bot.intents.text import BOUNDARY, tokenize
from bot.intents.types import ACTIONABLE, Classification, GroupChoice, Intent

#: Confidence reported when nothing in the message is recognisable.
UNKNOWN_CONFIDENCE = 0.2
#: A best group must beat the runner-up by this much to be chosen alone.
GROUP_MARGIN = 0.1
#: The feature of a catalogue group named in the message.
GROUP_FEATURE = "w:" + GROUP_TOKEN
#: The feature of the "access" concept of the examples file (access, permission, join, ...).
ACCESS_CONCEPT = "c:access"
#: Intents in model order.
CLASSES: tuple[Intent, ...] = tuple(Intent)


def _wants_access(analysis: Analysis, ranked: Sequence[tuple[Intent, float]]) -> bool:
    """Whether a group request is worth offering when the message is most likely out of scope.

    Not when a product's name is all that points at one ("can you sketch out the plan" with
    Sketch in the catalogue): the message must also ask for something or speak of access.
    """
    actionable = next((i for i, _ in ranked if i in ACTIONABLE), None)
    if actionable is not Intent.GROUP_ACCESS:
        return True
    return REQUEST in analysis.features or ACCESS_CONCEPT in analysis.features


class IntentRouter:
    """Classifies helpdesk messages; create with ``IntentRouter.build``."""

    def __init__(
        self,
        pipelines: Mapping[str, Pipeline],
        model: LinearModel,
        thresholds: Thresholds,
        labels: Mapping[Intent, str],
        detector: LanguageDetector,
        default_language: str = "en",
        qualifiers: QualifierIndex | None = None,
    ) -> None:
        self._pipelines = dict(pipelines)
        self._model = model
        self._detector = detector
        self._qualifiers = qualifiers or QualifierIndex(())
        self.thresholds = thresholds
        self.labels: Mapping[Intent, str] = dict(labels)
        self.default_language = default_language

    @classmethod
    def build(
        cls,
        examples: ExamplesConfig | Mapping[str, Any],
        catalogue: Iterable[GroupChoice] = (),
        settings: TrainingSettings | None = None,
    ) -> IntentRouter:
        """Build from examples (an ``ExamplesConfig`` or raw YAML data) and the catalogue.

        Raises ``IntentConfigError`` for unusable raw data.
        """
        cfg = examples if isinstance(examples, ExamplesConfig) else parse_examples(examples)
        groups = tuple(catalogue)
        pipelines, vocabularies = build_pipelines(cfg, groups)
        samples: list[Mapping[str, float]] = []
        labels: list[int] = []
        for intent, example in cfg.examples():
            samples.append(pipelines[example.language].analyse(example.text).features)
            labels.append(CLASSES.index(intent))
        model = train(samples, labels, len(CLASSES), settings)
        detector = LanguageDetector(
            {code: language(code).stopwords for code in LANGUAGES}, vocabularies
        )
        return cls(
            pipelines,
            model,
            cfg.thresholds,
            cfg.labels(),
            detector,
            cfg.default_language,
            QualifierIndex(groups),
        )

    def language_of(self, text: str, locale: str | None = None) -> str:
        """The language ``classify`` would read ``text`` in (ISO 639-1)."""
        words = [t for t in tokenize(text) if t != BOUNDARY and t.isalpha()]
        return self._detector.choose(text, words, locale, self.default_language)

    def analyse(self, text: str, locale: str | None = None) -> Analysis:
        """The pipeline's view of ``text`` (tokens, negation, groups, features)."""
        return self._pipelines[self.language_of(text, locale)].analyse(text)

    def _evidence(self, analysis: Analysis) -> int:
        """How many informative features of the message the model knows."""
        stop_stems = self._pipelines[analysis.language].words.stop_stems
        content = [
            f
            for f in analysis.features
            if (f.startswith(("c:", "b:")) or (f.startswith("w:") and f[2:] not in stop_stems))
            and NAME_TOKEN not in f
        ]
        return self._model.known(dict.fromkeys(content, 1.0))

    def _group(self, analysis: Analysis) -> str | None:
        scores: dict[str, float] = {}
        for n, span in enumerate(analysis.spans):
            if n not in analysis.denied_spans:
                scores[span.key] = max(span.score, scores.get(span.key, 0.0))
        # "Sketch for design work" names a product the catalogue lacks: "design" in Figma's
        # description must not turn that into a request for Figma.
        if scores or REQUEST not in analysis.features:
            pipeline = self._pipelines[analysis.language]
            described = pipeline.matcher.description_scores(analysis.asserted_stems())
            for key, score in described.items():
                scores[key] = max(score, scores.get(key, 0.0))
        scores = self._qualifiers.adjust(scores, analysis.asserted_words())
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        if not ranked or ranked[0][1] < self.thresholds.group_min_score:
            return None
        if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < GROUP_MARGIN:
            return None
        return ranked[0][0]

    def classify(self, text: str, locale: str | None = None) -> Classification:
        """Intent, confidence, group, language and whether to ask, for one message.

        ``locale`` (the employee's, e.g. ``"es-ES"``) decides the language of
        messages too short to tell.
        """
        analysis = self.analyse(text, locale)
        probs = self._model.probabilities(analysis.features)
        ranked = sorted(zip(CLASSES, probs, strict=True), key=lambda p: -p[1])
        alternatives = [(intent, round(p, 4)) for intent, p in ranked]
        lang = analysis.language
        # Asking for a named thing is something recognisable, even in words no example used.
        if self._evidence(analysis) == 0 and REQUEST not in analysis.features:
            oos = [a for a in alternatives if a[0] is Intent.OUT_OF_SCOPE]
            rest = [a for a in alternatives if a[0] is not Intent.OUT_OF_SCOPE]
            confidence = min(oos[0][1], UNKNOWN_CONFIDENCE)
            return Classification(Intent.OUT_OF_SCOPE, confidence, None, oos + rest, True, lang)
        (intent, confidence), (runner_up, second) = ranked[0], ranked[1]
        ask = confidence < self.thresholds.ask_below or (
            runner_up in ACTIONABLE and confidence - second < self.thresholds.ask_margin
        )
        # A product the catalogue lacks is no feature the model knows, so "I'd like Miro" may
        # read as out of scope even when sure; one the catalogue has is (as a group token).
        unknown_thing = GROUP_FEATURE not in analysis.features
        if REQUEST in analysis.features and (
            ask or (intent is Intent.OUT_OF_SCOPE and unknown_thing)
        ):
            intent, confidence, ask = self._asked_for_a_thing(ranked, intent, confidence, ask)
        elif ask and intent is Intent.OUT_OF_SCOPE and not _wants_access(analysis, ranked):
            ask = False
        group = self._group(analysis) if intent is Intent.GROUP_ACCESS else None
        return Classification(intent, round(confidence, 4), group, alternatives, ask, lang)

    def _asked_for_a_thing(
        self, ranked: list[tuple[Intent, float]], intent: Intent, confidence: float, ask: bool
    ) -> tuple[Intent, float, bool]:
        """ "I need X" for an X the catalogue lacks is a group request, not a guess between
        unrelated intents: the conversation then offers the catalogue."""
        actionable = [(i, p) for i, p in ranked if i in ACTIONABLE]
        if not actionable or actionable[0][0] is not Intent.GROUP_ACCESS:
            return intent, confidence, ask
        rival = actionable[1][1] if len(actionable) > 1 else 0.0
        if actionable[0][1] - rival < self.thresholds.ask_margin:
            return intent, confidence, ask
        if intent in (Intent.GROUP_ACCESS, Intent.OUT_OF_SCOPE, Intent.HELP):
            return Intent.GROUP_ACCESS, round(actionable[0][1], 4), False
        return intent, confidence, ask

    def match_groups(
        self, text: str, limit: int = 5, locale: str | None = None
    ) -> list[tuple[str, float]]:
        """Catalogue groups the text may mean, best first, as ``(key, score 0..1)``.

        Forgiving about case, spacing, punctuation and close spellings; several
        entries come back when the text is ambiguous ("atlassian").
        """
        pipeline = self._pipelines[self.language_of(text, locale)]
        return pipeline.matcher.rank(pipeline.tokens(text))[:limit]

    def classify_many(
        self, texts: Sequence[str], locale: str | None = None
    ) -> list[Classification]:
        """``classify`` for each text, in order."""
        return [self.classify(t, locale) for t in texts]
