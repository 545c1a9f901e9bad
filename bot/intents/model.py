"""A small multinomial logistic regression over sparse features, in pure Python.

``train`` fits weights by shuffled stochastic gradient descent with L2
shrinkage and class-balanced sample weights (deterministic for a given seed);
examples already fitted with high probability are skipped, which keeps
training of a few hundred examples well under a second. ``LinearModel`` is
immutable and safe to share between threads.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    """Knobs of ``train``; the defaults suit a few hundred short examples."""

    epochs: int = 12
    learning_rate: float = 0.5
    l2: float = 1e-3
    fitted: float = 0.97
    temperature: float = 1.0
    seed: int = 7


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Per-feature weight rows (one float per class) and a bias row."""

    n_classes: int
    weights: Mapping[str, tuple[float, ...]]
    bias: tuple[float, ...]
    temperature: float = 1.0

    def known(self, features: Mapping[str, float], prefixes: tuple[str, ...] = ()) -> int:
        """How many of ``features`` (optionally only these prefixes) the model has seen."""
        return sum(
            1 for f in features if f in self.weights and (not prefixes or f.startswith(prefixes))
        )

    def probabilities(self, features: Mapping[str, float]) -> list[float]:
        """Class probabilities for one feature vector."""
        logits = list(self.bias)
        for name, value in features.items():
            row = self.weights.get(name)
            if row is not None:
                for c in range(self.n_classes):
                    logits[c] += row[c] * value
        return softmax([z / self.temperature for z in logits])


def softmax(logits: Sequence[float]) -> list[float]:
    """Numerically stable softmax."""
    top = max(logits)
    exps = [math.exp(z - top) for z in logits]
    total = sum(exps)
    return [e / total for e in exps]


def train(
    samples: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    n_classes: int,
    settings: TrainingSettings | None = None,
) -> LinearModel:
    """Fit a ``LinearModel`` to ``samples`` (feature dicts) and class ``labels``."""
    cfg = settings or TrainingSettings()
    if len(samples) != len(labels) or not samples:
        raise ValueError("need as many labels as samples, and at least one")
    counts = Counter(labels)
    balance = {c: len(labels) / (n_classes * n) for c, n in counts.items()}
    rows: dict[str, list[float]] = {}
    data = [
        ([rows.setdefault(name, [0.0] * n_classes) for name in feats], list(feats.values()), y)
        for feats, y in zip(samples, labels, strict=True)
    ]
    bias = [0.0] * n_classes
    uniform = [bool(values) and len(set(values)) == 1 for _, values, _ in data]
    rng = random.Random(cfg.seed)  # noqa: S311 - a reproducible shuffle, not a secret
    order = list(range(len(data)))
    classes = range(n_classes)
    shrink_step = cfg.l2
    for epoch in range(cfg.epochs):
        rng.shuffle(order)
        lr = cfg.learning_rate / (1.0 + epoch / 4.0)
        shrink = 1.0 - lr * shrink_step
        for i in order:
            feature_rows, values, y = data[i]
            if uniform[i]:
                # Every feature of an extracted message has the same value: sum the rows once.
                value = values[0]
                sums = map(sum, zip(*feature_rows, strict=True))
                logits = [b + value * s for b, s in zip(bias, sums, strict=True)]
            else:
                logits = list(bias)
                for row, value in zip(feature_rows, values, strict=True):
                    for c in classes:
                        logits[c] += row[c] * value
            probs = softmax(logits)
            if probs[y] >= cfg.fitted:
                continue
            step = lr * balance[y]
            grad = [p * step for p in probs]
            grad[y] -= step
            if uniform[i]:
                scaled = [g * values[0] for g in grad]
                for row in feature_rows:
                    row[:] = [w * shrink - g for w, g in zip(row, scaled, strict=True)]
            else:
                for row, value in zip(feature_rows, values, strict=True):
                    row[:] = [w * shrink - g * value for w, g in zip(row, grad, strict=True)]
            for c in classes:
                bias[c] -= grad[c] * 0.1
    frozen = {name: tuple(row) for name, row in rows.items() if any(row)}
    return LinearModel(n_classes, frozen, tuple(bias), cfg.temperature)
