"""Benchmark of the intent router: accuracy, out-of-scope detection, groups, speed.

Run from the repository root::

    python bench/intents_bench.py [--misses] [--json]

Reports, for the evaluation set (and the second held-out set when present):
accuracy per intent and macro, out-of-scope precision and recall, group
accuracy, latency p50/p99 per utterance, and the router's build time.
Exits 1 when the evaluation set misses a target (macro >= 0.95,
out-of-scope recall >= 0.9, p99 < 5 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.intents.config import load_catalogue, load_examples  # noqa: E402
from bot.intents.evaluation import Report, evaluate, format_report, load_labelled  # noqa: E402
from bot.intents.router import IntentRouter  # noqa: E402

TESTS = ROOT / "tests" / "intents"
TARGET_MACRO = 0.95
TARGET_OOS_RECALL = 0.9
TARGET_P99_MS = 5.0


def _summary(report: Report) -> dict[str, object]:
    return {
        "utterances": report.total,
        "per_intent": {k.value: round(v, 4) for k, v in report.per_intent.items()},
        "macro_accuracy": round(report.macro, 4),
        "accuracy": round(report.accuracy, 4),
        "oos_precision": round(report.oos_precision, 4),
        "oos_recall": round(report.oos_recall, 4),
        "group_accuracy": round(report.group_accuracy, 4),
        "latency_ms": {
            "p50": round(report.percentile(50), 4),
            "p99": round(report.percentile(99), 4),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", help="examples file (default: packaged config/intents.yaml)")
    parser.add_argument("--catalogue", default=str(TESTS / "fixtures" / "helpdesk.yaml"))
    parser.add_argument("--eval", default=str(TESTS / "eval_set.jsonl"))
    parser.add_argument("--holdout", default=str(TESTS / "holdout_set.jsonl"))
    parser.add_argument("--builds", type=int, default=5, help="builds timed (median reported)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per utterance")
    parser.add_argument("--misses", action="store_true", help="list misclassified utterances")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of text")
    args = parser.parse_args(argv)

    examples = load_examples(args.intents)
    catalogue = load_catalogue(args.catalogue)
    build_times: list[float] = []
    router: IntentRouter | None = None
    for _ in range(max(1, args.builds)):
        start = time.perf_counter()
        router = IntentRouter.build(examples, catalogue)
        build_times.append(time.perf_counter() - start)
    assert router is not None
    n_examples = sum(len(e.examples) for e in examples.intents)

    reports = {"eval": evaluate(router, load_labelled(args.eval), repeat=args.repeat)}
    if Path(args.holdout).exists():
        reports["holdout"] = evaluate(router, load_labelled(args.holdout), repeat=args.repeat)

    main_report = reports["eval"]
    ok = (
        main_report.macro >= TARGET_MACRO
        and main_report.oos_recall >= TARGET_OOS_RECALL
        and main_report.percentile(99) < TARGET_P99_MS
    )
    build_ms = statistics.median(build_times) * 1000
    if args.json:
        doc = {
            "build_ms": {"median": round(build_ms, 1), "max": round(max(build_times) * 1000, 1)},
            "training_examples": n_examples,
            "cpus": os.cpu_count(),
            "targets_met": ok,
            **{name: _summary(r) for name, r in reports.items()},
        }
        print(json.dumps(doc, indent=2))
    else:
        print(
            f"build: median {build_ms:.1f} ms, max {max(build_times) * 1000:.1f} ms "
            f"({n_examples} examples, {len(catalogue)} groups, {os.cpu_count()} cpus)"
        )
        for name, report in reports.items():
            print("\n".join(format_report(name, report, show_misses=args.misses)))
        print(
            f"targets (eval): macro >= {TARGET_MACRO}, oos recall >= {TARGET_OOS_RECALL}, "
            f"p99 < {TARGET_P99_MS} ms: {'met' if ok else 'NOT met'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
