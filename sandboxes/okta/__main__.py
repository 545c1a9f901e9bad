"""Run the Okta sandbox from the command line until interrupted.

    python -m sandboxes.okta [--seed FILE] [--port N] [--users N] [--rate-limit N]

Prints ``OKTA_SANDBOX_URL=...`` and ``OKTA_SANDBOX_CA=...`` (one per line, flushed) so
a benchmark in another process can read where to connect and which CA to trust.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sandboxes.okta.app import create_app
from sandboxes.okta.ratelimit import RateLimitConfig
from sandboxes.okta.seed import DEMO_SEED, generate_users, load_seed
from sandboxes.okta.server import make_tls_files, tls_options
from sandboxes.serving import bind_tcp, make_server, wait_started


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.okta", description=__doc__)
    parser.add_argument("--seed", type=Path, default=DEMO_SEED, help="seed YAML (default: demo)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 lets the OS choose")
    parser.add_argument("--users", type=int, default=0, help="generate this many extra users")
    parser.add_argument("--expiring-within-days", type=int, default=14, help="for generated users")
    parser.add_argument(
        "--rate-limit", type=int, default=None, help="per-minute budget of every bucket"
    )
    parser.add_argument("--concurrency", type=int, default=None, help="requests in flight")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    state = load_seed(args.seed)
    if args.users:
        generate_users(args.users, state=state, expiring_within_days=args.expiring_within_days)
    limits = (
        RateLimitConfig.uniform(args.rate_limit, concurrency=args.concurrency)
        if args.rate_limit is not None
        else RateLimitConfig(concurrency=args.concurrency)
    )
    app = create_app(state, rate_limits=limits, latency=args.latency)
    with tempfile.TemporaryDirectory(prefix="okta-sandbox-") as tmp:
        tls = make_tls_files(Path(tmp))
        sock = bind_tcp(args.host, args.port)
        server = make_server(app, in_process=False, **tls_options(tls))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        await wait_started(server, task, "Okta sandbox")
        print(f"OKTA_SANDBOX_URL=https://{args.host}:{sock.getsockname()[1]}", flush=True)
        print(f"OKTA_SANDBOX_CA={tls.ca_path}", flush=True)
        print(f"OKTA_SANDBOX_USERS={len(state.users)}", flush=True)
        await task


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted; return the process exit status."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_parse(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
