"""Run the OneLogin sandbox from a shell: ``python -m sandboxes.onelogin [--seed FILE]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from pathlib import Path

from sandboxes.onelogin import DEMO_SEED, load_seed, run_onelogin_sandbox


async def _serve(seed: Path, port: int) -> None:
    state = load_seed(seed, now=time.time())
    async with run_onelogin_sandbox(state, port=port) as sb:
        print(f"OneLogin sandbox at {sb.base_url} (client id {sb.client_id})", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=Path, default=DEMO_SEED, help="seed YAML file")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.seed, args.port))


if __name__ == "__main__":
    main()
