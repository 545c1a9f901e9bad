"""Benchmark of the intent router per language: accuracy, out-of-scope, groups, speed, start-up.

Run from the repository root::

    python bench/intents_bench.py [--misses] [--json]

Reports, for English (``eval_set.jsonl`` and the held-out ``holdout_set.jsonl``)
and for Spanish, French, German and Portuguese (``eval_<lang>.jsonl`` and the
small held-out ``holdout_<lang>.jsonl``): macro accuracy over intents,
out-of-scope recall, group-slot accuracy, how often the language was detected
right, and routing latency p50/p99 (language detection included; no locale
hint is given, so every message is read from its text alone; the table also
shows macro and language accuracy when the employee's locale is the set's
language, as in Slack). The p99 target
applies to each message's median over ``--repeat`` runs: on a shared machine
a single run is sometimes paused by another process for longer than routing
takes, so the p99 of every run, printed beside it, measures the machine's load
as much as the router. Also
the router's build time and the cold start-up of a fresh process (import,
detector, build, first message). The catalogue is the test fixture, loaded
through ``config.settings.load_config`` like the bot's own.

Exits 1 when a target is missed: macro >= 0.95 on every language's
evaluation set; English no lower than before the router read other languages
(``ENGLISH_FLOORS``); p99 < 5 ms; start-up less than ``STARTUP_BUDGET_MS``
above ``STARTUP_BEFORE_MS``. Held-out sets are measured, not targeted.
Start-up is timed twice: wall clock, and the CPU time of the whole process;
the target applies to the CPU time, which another process's load on a shared
machine does not inflate (wall clock there doubles when eight jobs share two
cores).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.intents.config import load_examples  # noqa: E402
from bot.intents.evaluation import Report, evaluate, format_report, load_labelled  # noqa: E402
from bot.intents.lang import LANGUAGES  # noqa: E402
from bot.intents.router import IntentRouter  # noqa: E402
from bot.intents.setup import groups_from_catalogue  # noqa: E402
from config.settings import load_config  # noqa: E402

TESTS = ROOT / "tests" / "intents"
TARGET_MACRO = 0.95
TARGET_P99_MS = 5.0
#: English figures of the English-only router (eval / holdout); the new one may not fall below.
ENGLISH_FLOORS = {
    "eval": {"macro": 0.986, "oos_recall": 0.986, "group_accuracy": 0.970},
    "holdout": {"macro": 0.984, "oos_recall": 0.920},
}
#: Cold start-up of the English-only router (commit 0df6ef9; same script: configuration
#: module imported, catalogue and examples read, router built, one message): CPU time of
#: the whole process, median of 5 runs on the project's 2-core machine, interleaved with
#: runs of this router (wall clock on a quiet machine: about 550 ms).
STARTUP_BEFORE_MS = 585.0
STARTUP_BUDGET_MS = 1000.0

_COLD_START = """
import time
t0 = time.perf_counter()
from bot.intents.config import load_examples
from bot.intents.router import IntentRouter
from bot.intents.setup import groups_from_catalogue
from config.settings import load_config
catalogue = groups_from_catalogue(load_config({config!r}, {{}}).catalogue)
router = IntentRouter.build(load_examples({intents!r}), catalogue)
router.classify("se me olvidó la contraseña")
print((time.perf_counter() - t0) * 1000)
"""


def _sets(args: argparse.Namespace) -> dict[str, Path]:
    sets = {"en": Path(args.eval), "en-holdout": Path(args.holdout)}
    for code in LANGUAGES[1:]:
        sets[code] = TESTS / f"eval_{code}.jsonl"
        sets[f"{code}-holdout"] = TESTS / f"holdout_{code}.jsonl"
    return {name: path for name, path in sets.items() if path.exists()}


def _cold_start_ms(config: str, intents: str | None, runs: int) -> tuple[float, float]:
    """Median wall-clock and median CPU time (whole process) of a fresh start, in ms."""
    code = _COLD_START.format(config=config, intents=intents)
    times: list[float] = []
    cpu: list[float] = []
    for _ in range(max(1, runs)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(float(out.stdout.strip().splitlines()[-1]))
        used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        cpu.append(used * 1000)
    return statistics.median(times), statistics.median(cpu)


def _summary(report: Report) -> dict[str, object]:
    return {
        "utterances": report.total,
        "per_intent": {k.value: round(v, 4) for k, v in report.per_intent.items()},
        "macro_accuracy": round(report.macro, 4),
        "accuracy": round(report.accuracy, 4),
        "oos_precision": round(report.oos_precision, 4),
        "oos_recall": round(report.oos_recall, 4),
        "group_accuracy": round(report.group_accuracy, 4),
        "language_accuracy": round(report.language_accuracy, 4),
        "latency_ms": {
            "p50": round(report.message_percentile(50), 4),
            "p99": round(report.message_percentile(99), 4),
            "every_run_p99": round(report.percentile(99), 4),
        },
    }


def _missed(reports: dict[str, Report], p99: float, startup_ms: float | None) -> list[str]:
    missed: list[str] = []
    for name, report in reports.items():
        if "holdout" not in name and report.macro < TARGET_MACRO:
            missed.append(f"{name}: macro {report.macro:.3f} < {TARGET_MACRO}")
    for which, floors in ENGLISH_FLOORS.items():
        english = reports.get("en" if which == "eval" else "en-holdout")
        for field, floor in floors.items():
            if english is not None and getattr(english, field) < floor:
                missed.append(f"English {which}: {field} {getattr(english, field):.3f} < {floor}")
    if p99 >= TARGET_P99_MS:
        missed.append(f"routing p99 {p99:.2f} ms >= {TARGET_P99_MS} ms")
    if startup_ms is not None and startup_ms >= STARTUP_BEFORE_MS + STARTUP_BUDGET_MS:
        missed.append(
            f"start-up CPU {startup_ms:.0f} ms >= {STARTUP_BEFORE_MS:.0f} + "
            f"{STARTUP_BUDGET_MS:.0f} ms"
        )
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", help="examples file (default: packaged config/intents.yaml)")
    parser.add_argument("--config", default=str(TESTS / "fixtures" / "helpdesk.yaml"))
    parser.add_argument("--eval", default=str(TESTS / "eval_set.jsonl"))
    parser.add_argument("--holdout", default=str(TESTS / "holdout_set.jsonl"))
    parser.add_argument("--builds", type=int, default=5, help="builds timed (median reported)")
    parser.add_argument("--starts", type=int, default=3, help="cold starts timed (median)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per utterance")
    parser.add_argument("--misses", action="store_true", help="list misclassified utterances")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of text")
    args = parser.parse_args(argv)

    examples = load_examples(args.intents)
    catalogue = groups_from_catalogue(load_config(args.config, {}).catalogue)
    build_times: list[float] = []
    router: IntentRouter | None = None
    for _ in range(max(1, args.builds)):
        start = time.perf_counter()
        router = IntentRouter.build(examples, catalogue)
        build_times.append(time.perf_counter() - start)
    assert router is not None
    n_examples = len(examples.examples())
    startup_wall_ms: float | None = None
    startup_ms: float | None = None
    if args.starts:
        startup_wall_ms, startup_ms = _cold_start_ms(args.config, args.intents, args.starts)

    sets = _sets(args)
    reports = {
        name: evaluate(router, load_labelled(path), repeat=args.repeat)
        for name, path in sets.items()
    }
    # The same messages from employees whose Slack locale is the set's language.
    localised = {
        name: evaluate(router, load_labelled(path), locale=name.split("-")[0])
        for name, path in sets.items()
    }
    overall = Report(
        latencies_ms=[ms for report in reports.values() for ms in report.latencies_ms],
        message_ms=[ms for report in reports.values() for ms in report.message_ms],
    )
    p99 = overall.message_percentile(99)
    missed = _missed(reports, p99, startup_ms)
    build_ms = statistics.median(build_times) * 1000
    if args.json:
        doc = {
            "build_ms": {"median": round(build_ms, 1), "max": round(max(build_times) * 1000, 1)},
            "startup_ms": {
                "wall": None if startup_wall_ms is None else round(startup_wall_ms, 1),
                "cpu": None if startup_ms is None else round(startup_ms, 1),
            },
            "training_examples": n_examples,
            "cpus": os.cpu_count(),
            "latency_ms": {
                "p50": round(overall.message_percentile(50), 4),
                "p99": round(p99, 4),
                "every_run_p50": round(overall.percentile(50), 4),
                "every_run_p99": round(overall.percentile(99), 4),
            },
            "targets_met": not missed,
            "missed": missed,
            **{name: _summary(r) for name, r in reports.items()},
            "with_locale": {
                name: {
                    "macro_accuracy": round(r.macro, 4),
                    "group_accuracy": round(r.group_accuracy, 4),
                    "language_accuracy": round(r.language_accuracy, 4),
                }
                for name, r in localised.items()
            },
        }
        print(json.dumps(doc, indent=2))
    else:
        print(
            f"build: median {build_ms:.1f} ms, max {max(build_times) * 1000:.1f} ms "
            f"({n_examples} examples, {len(catalogue)} groups, {os.cpu_count()} cpus)"
        )
        if startup_ms is not None:
            print(
                f"cold start-up (import, detector, build, first message): "
                f"wall {startup_wall_ms:.0f} ms, CPU {startup_ms:.0f} ms "
                f"(English-only router: CPU {STARTUP_BEFORE_MS:.0f} ms)"
            )
        for name, report in reports.items():
            print("\n".join(format_report(name, report, show_misses=args.misses)))
        print(
            f"\n{'language':<12}{'macro':>7}{'oos rec':>9}{'group':>7}{'lang ok':>9}{'n':>5}"
            f"   with the locale: {'macro':>5}{'lang ok':>9}"
        )
        for name, report in reports.items():
            local = localised[name]
            print(
                f"{name:<12}{report.macro:>7.3f}{report.oos_recall:>9.3f}"
                f"{report.group_accuracy:>7.3f}{report.language_accuracy:>9.3f}{report.total:>5}"
                f"{'':>20}{local.macro:>5.3f}{local.language_accuracy:>9.3f}"
            )
        print(
            f"routing latency, all sets, detection included, per message (median of "
            f"{args.repeat} runs): p50 {overall.message_percentile(50):.3f} ms, p99 {p99:.3f} ms; "
            f"every run: p50 {overall.percentile(50):.3f} ms, p99 {overall.percentile(99):.3f} ms"
        )
        print(
            f"targets: macro >= {TARGET_MACRO} per language, English floors {ENGLISH_FLOORS}, "
            f"p99 < {TARGET_P99_MS} ms, start-up CPU < "
            f"{STARTUP_BEFORE_MS + STARTUP_BUDGET_MS:.0f} ms: "
            + ("met" if not missed else "NOT met: " + "; ".join(missed))
        )
    return 0 if not missed else 1


if __name__ == "__main__":
    raise SystemExit(main())
