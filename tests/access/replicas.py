"""Run the bot as separate processes (``helpdesk run``), as deployed: replica tests, bench."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]

#: The outbox key every replica shares (``slack.outbox.key``'s fallback): a replica sends
#: the sealed messages another one stored.
OUTBOX_KEY = "replicas-share-this-outbox-key-0001"

#: A command prefix to run each replica under (a profiler), as bench/slack_bench.py takes it:
#: e.g. ``HELPDESK_BENCH_PROFILE="-m cProfile -o /tmp/replica.prof"``. Empty: none.
PROFILE: list[str] = os.environ.get("HELPDESK_BENCH_PROFILE", "").split()


@dataclass
class Replica:
    """One bot process: its base URL, the process, and where its stderr goes."""

    name: str
    url: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to finish anything."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)


def child_pids(pid: int) -> list[int]:
    """A process's direct children (a bot's HTTP ingress process)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _healthy(replica: Replica, limit: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            if replica.process.returncode is not None:
                tail = replica.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{replica.name} exited {replica.process.returncode}: {tail}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{replica.url}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{replica.name} did not become healthy")


@contextlib.asynccontextmanager
async def running_replicas(
    count: int, config: Mapping[str, Any], environ: Mapping[str, str], folder: Path
) -> AsyncIterator[list[Replica]]:
    """Start ``count`` bot processes on one configuration (each on its own port)."""
    replicas: list[Replica] = []
    try:
        for i in range(count):
            port = free_port()
            raw = dict(config)
            raw["slack"] = {**dict(config.get("slack") or {}), "host": "127.0.0.1", "port": port}
            path = folder / f"replica-{i}.yaml"
            path.write_text(yaml.safe_dump(raw), encoding="utf-8")
            log = folder / f"replica-{i}.log"
            with log.open("wb") as err:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, *PROFILE, "-m", "bot.cli", "run", "--config", str(path),
                    env={**os.environ, "PYTHONPATH": str(ROOT),
                         "HELPDESK_OUTBOX_KEY": OUTBOX_KEY, **environ},
                    stdout=asyncio.subprocess.DEVNULL, stderr=err, cwd=ROOT,
                )
            replicas.append(Replica(f"replica-{i}", f"http://127.0.0.1:{port}", process, log))
        await asyncio.gather(*(_healthy(r) for r in replicas))
        yield replicas
    finally:
        for r in replicas:
            if r.process.returncode is None:
                r.process.terminate()
        for r in replicas:
            try:
                await asyncio.wait_for(r.process.wait(), 20)
            except TimeoutError:
                r.kill()
                await r.process.wait()
