"""How fast the Okta connector walks a big org under Okta's users-list rate limit.

    python bench/okta_list_bench.py [--users 100000] [--rate 600] [--mode sweep|list]

Starts the Okta sandbox in a separate process (``python -m sandboxes.okta``) with the
demo org plus ``--users`` generated users and every rate-limit bucket at ``--rate``
requests per minute, then has the connector read every user: ``sweep`` runs the
password-expiry sweep (``iter_expiring``) with a bound far in the future, ``list``
pages the plain users list (``iter_user_pages``). Progress goes to stderr; the last
line on stdout is one JSON object:

* ``pages``: users-list requests made; ``seconds``: wall time of the walk;
* ``lower_bound_s``: ``pages / rate`` minutes, the bound at a sustained ``rate``;
  ``ratio``: ``seconds / lower_bound_s`` (at most 1.10 is the target);
* ``fixed_window_bound_s``: the bound if, as with Okta's per-minute windows, the
  whole budget of the current window is usable at once: ``ceil(pages / rate) - 1``
  window resets, the first ``window_phase_s`` seconds nearer (the sandbox aligns
  windows to clock minutes); 0 means the rate limit cannot bind and round trips
  decide; ``ratio_fixed_window`` is ``seconds`` over it;
* ``errors`` (must be 0), ``http_429`` (429 answers seen), ``paced_waits`` (waits for a
  window reset made before calling), ``peak_rss_mb`` of this (the connector's) process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.logging import configure_logging  # noqa: E402
from config.secrets import SecretRef  # noqa: E402
from connectors.errors import ConnectorError  # noqa: E402
from connectors.okta import Settings, build  # noqa: E402
from sandboxes.okta import DEMO_TOKEN  # noqa: E402

ASSUMPTION = (
    "lower_bound_s assumes the budget is spent at the sustained rate from t=0; the sandbox, "
    "like Okta, counts in fixed per-minute windows whose whole budget is usable at once, so "
    "the rate limit binds only past ceil(pages/rate)-1 window resets (fixed_window_bound_s)"
)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000, help="users to generate")
    parser.add_argument("--rate", type=int, default=600, help="requests per minute per bucket")
    parser.add_argument("--mode", choices=("sweep", "list"), default="sweep")
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.0, help="sandbox seconds per request")
    return parser.parse_args(argv)


def _start_sandbox(
    args: argparse.Namespace, log: IO[str]
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    command = [
        sys.executable,
        "-m",
        "sandboxes.okta",
        "--users",
        str(args.users),
        "--rate-limit",
        str(args.rate),
        "--latency",
        str(args.latency),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True
    )
    found: dict[str, str] = {}
    deadline = time.monotonic() + 300
    assert process.stdout is not None
    while len(found) < 3:
        line = process.stdout.readline()
        if not line:
            process.wait(5)
            raise RuntimeError(f"the sandbox exited ({process.returncode}); see {log.name}")
        key, _, value = line.strip().partition("=")
        if key.startswith("OKTA_SANDBOX_"):
            found[key] = value
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the sandbox did not start in time")
    return process, found


async def _walk(args: argparse.Namespace, url: str, ca: str) -> dict[str, Any]:
    settings = Settings(
        org_url=url,
        api_token=SecretRef(env="OKTA_BENCH_TOKEN"),
        ca_file=Path(ca),
        page_size=args.page_size,
    )
    connector = build("okta", settings, {"OKTA_BENCH_TOKEN": DEMO_TOKEN})
    rows = errors = 0
    failure = ""
    phase = time.time() % 60
    started = time.perf_counter()
    try:
        if args.mode == "sweep":
            before = datetime.now(UTC) + timedelta(days=36500)
            async for page in connector.iter_expiring(before):
                rows += len(page)
        else:
            async for users in connector.iter_user_pages():
                rows += len(users)
    except ConnectorError as exc:
        errors += 1
        failure = exc.message
    finally:
        seconds = time.perf_counter() - started
        await connector.aclose()
    stats = connector.stats
    return {
        "window_phase_s": round(phase, 3),
        "rows": rows,
        "seconds": seconds,
        "pages": stats.by_bucket.get("GET /api/v1/users", 0),
        "requests": stats.requests,
        "errors": errors + stats.transport_errors,
        "failure": failure,
        "http_429": stats.rate_limited,
        "retries": stats.retries,
        "paced_waits": stats.paced_waits,
        "paced_seconds": round(stats.paced_seconds, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its JSON line; exit 1 when the walk had errors."""
    args = _parse(argv)
    configure_logging("WARNING")
    with tempfile.NamedTemporaryFile("w+", prefix="okta-sandbox-", suffix=".log") as log:
        process, found = _start_sandbox(args, log)
        try:
            print(
                f"sandbox {found['OKTA_SANDBOX_URL']} with {found['OKTA_SANDBOX_USERS']} users",
                file=sys.stderr,
            )
            result = asyncio.run(_walk(args, found["OKTA_SANDBOX_URL"], found["OKTA_SANDBOX_CA"]))
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    pages = result["pages"]
    lower = pages / args.rate * 60
    resets = max(0, math.ceil(pages / args.rate) - 1)
    fixed = max(0.0, resets * 60 - result["window_phase_s"]) if resets else 0.0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    report = {
        "users_in_org": int(found["OKTA_SANDBOX_USERS"]),
        "mode": args.mode,
        "rate_per_min": args.rate,
        "page_size": args.page_size,
        **result,
        "seconds": round(result["seconds"], 3),
        "lower_bound_s": round(lower, 3),
        "ratio": round(result["seconds"] / lower, 3) if lower else None,
        "fixed_window_bound_s": round(fixed, 3),
        "ratio_fixed_window": round(result["seconds"] / fixed, 3) if fixed else None,
        "pages_per_s": round(pages / result["seconds"], 2) if result["seconds"] else None,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "assumption": ASSUMPTION,
    }
    print(json.dumps(report))
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
