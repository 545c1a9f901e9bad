"""The ingress as ``helpdesk run`` starts it: a child process in front of the work.

The child is the real one (``python -m bot.slack.ingress``); the work side is a
recording stand-in on this loop. Requests are signed HTTP over 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.slack.ingress_process import running_ingress
from bot.slack.server import Accepted
from tests.bot.test_ingress import SECRET, Recorder, _event, _post, _signed


async def _until(check: object, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def test_acks_in_the_child_and_work_in_this_process() -> None:
    surface = Recorder()
    async with (
        running_ingress(surface, "127.0.0.1", 0) as ingress,
        httpx.AsyncClient() as client,
    ):
        assert ingress.pid != os.getpid()
        answers = await asyncio.gather(*(_post(client, ingress.url, _event(i)) for i in range(20)))
        assert [a.status_code for a in answers] == [200] * 20
        await _until(lambda: len(surface.started) == 20)
        # An answer that is the work's own goes there and back.
        form = ("payload=" + json.dumps({"type": "view_submission", "view": {"id": "V1"}})).encode()
        view = await client.post(
            f"{ingress.url}/slack/events", content=form,
            headers={**_signed(form), "Content-Type": "application/x-www-form-urlencoded"},
        )
        forged = await client.post(
            f"{ingress.url}/slack/events", content=_event(99),
            headers={**_signed(_event(99)), "X-Slack-Signature": "v0=" + "0" * 64},
        )
        # A slash command is acked by the child with the text the work translated for it.
        command = b"command=%2Fhelpdesk&text=unlock&user_id=U1&trigger_id=T1"
        acked = await client.post(
            f"{ingress.url}/slack/events", content=command,
            headers={**_signed(command), "Content-Type": "application/x-www-form-urlencoded"},
        )
        health = await client.get(f"{ingress.url}/healthz")
        # The signing secret is not on the child's command line nor in its environment.
        proc = Path(f"/proc/{ingress.pid}")
        assert SECRET.encode() not in (proc / "cmdline").read_bytes()
        assert SECRET.encode() not in (proc / "environ").read_bytes()
    assert sorted(b for _, b in surface.started[:20]) == sorted(_event(i) for i in range(20))
    assert acked.status_code == 200 and acked.text == surface.command_ack
    assert view.status_code == 200 and view.json() == {"response_action": "clear"}
    assert view.headers["content-type"] == "application/json"
    assert surface.dispatched == [form]
    assert forged.status_code == 401 and health.json() == {"ok": True}
    assert ingress.closed.is_set() and ingress.stopping


async def test_requests_being_recorded_when_the_stop_comes_are_acked_once_recorded() -> None:
    """A stop mid-record: those requests are still recorded and acknowledged, none lost."""

    class Slow(Recorder):
        async def accept(self, key: str, payload: bytes, retry: int) -> Accepted:
            await asyncio.sleep(0.5)
            return await super().accept(key, payload, retry)

    surface = Slow()
    async with httpx.AsyncClient() as client:
        async with running_ingress(surface, "127.0.0.1", 0) as ingress:
            sent = [asyncio.create_task(_post(client, ingress.url, _event(i))) for i in range(5)]
            await asyncio.sleep(0.2)  # received, not yet recorded
            assert surface.started == []
        answers = await asyncio.gather(*sent)
    assert [a.status_code for a in answers] == [200] * 5
    assert sorted(b for _, b in surface.started) == sorted(_event(i) for i in range(5))


async def test_a_work_process_too_slow_to_record_is_a_503_in_time() -> None:
    """Slack waits 3 seconds: past ``ACCEPT_TIMEOUT`` the child answers 503 (Slack retries)."""

    class Stalled(Recorder):
        async def accept(self, key: str, payload: bytes, retry: int) -> Accepted:
            await asyncio.sleep(10)
            return Accepted.NEW

    async with (
        running_ingress(Stalled(), "127.0.0.1", 0) as ingress,
        httpx.AsyncClient(timeout=20) as client,
    ):
        started = time.monotonic()
        answer = await _post(client, ingress.url, _event(1))
        took = time.monotonic() - started
        for task in list(ingress._answers):
            task.cancel()
    assert answer.status_code == 503 and took < 3.0


async def test_a_dead_child_is_noticed() -> None:
    surface = Recorder()
    async with running_ingress(surface, "127.0.0.1", 0) as ingress:
        os.kill(ingress.pid, signal.SIGKILL)
        await asyncio.wait_for(ingress.closed.wait(), 10)
        assert not ingress.stopping  # serve() exits non-zero on this


async def test_the_child_exits_when_the_work_process_goes_away() -> None:
    surface = Recorder()
    async with running_ingress(surface, "127.0.0.1", 0) as ingress:
        assert ingress._writer is not None
        ingress._writer.transport.abort()  # as when the work process is killed
        await asyncio.wait_for(ingress.closed.wait(), 10)
        assert ingress._proc is not None
        assert await asyncio.wait_for(ingress._proc.wait(), 10) == 0


async def test_a_port_in_use_fails_the_start_clearly() -> None:
    surface = Recorder()
    async with running_ingress(surface, "127.0.0.1", 0) as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError, match="ingress process did not start"):
            async with running_ingress(surface, "127.0.0.1", port):
                pass


async def test_work_gone_mid_request_is_a_503_not_a_hang() -> None:
    """A view submission whose work process disappears gets 503; Slack shows an error."""

    class Stuck(Recorder):
        async def dispatch(self, body: bytes, query: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
            await asyncio.sleep(3600)

    surface = Stuck()
    async with (
        running_ingress(surface, "127.0.0.1", 0) as ingress,
        httpx.AsyncClient(timeout=20) as client,
    ):
        form = ("payload=" + json.dumps({"type": "view_submission", "view": {"id": "V1"}})).encode()
        pending = asyncio.create_task(client.post(
            f"{ingress.url}/slack/events", content=form,
            headers={**_signed(form), "Content-Type": "application/x-www-form-urlencoded"},
        ))
        await asyncio.sleep(0.5)
        assert ingress._writer is not None
        ingress._writer.transport.abort()
        answer = await asyncio.wait_for(pending, 15)
        for task in list(ingress._answers):
            task.cancel()
    assert answer.status_code == 503


async def test_healthz_reports_a_wedged_work_loop() -> None:
    """The child acks on its own, so /healthz asks the work process: a blocked loop is a 503."""
    surface = Recorder()
    async with running_ingress(surface, "127.0.0.1", 0) as ingress:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{ingress.url}/healthz")).json() == {"ok": True}

        def probe() -> httpx.Response:
            return httpx.get(f"{ingress.url}/healthz", timeout=20)

        probing = asyncio.get_running_loop().run_in_executor(None, probe)
        time.sleep(3)  # noqa: ASYNC251 - the point: this (work) loop is stuck in a blocking call
        wedged = await probing
        async with httpx.AsyncClient() as client:
            recovered = await client.get(f"{ingress.url}/healthz")
    assert wedged.status_code == 503 and wedged.json()["ok"] is False
    assert recovered.status_code == 200


async def _hammer(port: int, stop: asyncio.Event, acked: list[int]) -> None:
    """Health checks and signed events on ``port`` until ``stop``; refused connects retried."""
    async with httpx.AsyncClient(timeout=5) as client:
        n = 0
        while not stop.is_set():
            try:
                await client.get(f"http://127.0.0.1:{port}/healthz")
                answer = await _post(client, f"http://127.0.0.1:{port}", _event(n))
                if answer.status_code == 200:
                    acked.append(n)
                n += 1
            except httpx.TransportError:
                await asyncio.sleep(0.001)


async def test_requests_racing_the_start_do_not_break_it() -> None:
    """Probes and events hammering the port while the ingress starts (a load balancer's
    health checks, Slack's retries): the start still succeeds and nothing is lost."""
    import socket

    for _ in range(5):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        surface = Recorder()
        stop = asyncio.Event()
        acked: list[int] = []
        task = asyncio.create_task(_hammer(port, stop, acked))
        try:
            async with running_ingress(surface, "127.0.0.1", port):
                await _until(lambda acked=acked: len(acked) >= 3)
                stop.set()
                await task
        finally:
            stop.set()
            await asyncio.gather(task, return_exceptions=True)
        assert sorted(b for _, b in surface.started) == sorted(_event(n) for n in acked)


async def test_the_child_inherits_no_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The bot's process holds the Slack and connector tokens in its environment; the child
    # facing the network gets an allow-list: enough to run Python, none of those.
    leaks = {
        "SLACK_BOT_TOKEN": "xoxb-not-for-the-child-0001",
        "OKTA_API_TOKEN": "okta-token-not-for-the-child",
        "DATABASE_URL": "postgresql://bot:hunter2-db-password@db/helpdesk",
        "HELPDESK_OUTBOX_KEY": "outbox-key-not-for-the-child",
    }
    for name, value in leaks.items():
        monkeypatch.setenv(name, value)
    async with running_ingress(Recorder(), "127.0.0.1", 0) as ingress:
        environ = _environ_of(ingress.pid)
    names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
    for name, value in leaks.items():
        assert value.encode() not in environ and name not in names
    assert "PATH" in names and "PYTHONPATH" in names


def _environ_of(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def test_the_child_loads_only_what_acknowledging_needs() -> None:
    """Its memory is the HTTP server, the store and logging: not the work's libraries."""
    code = (
        "import sys, bot.slack.ingress, bot.slack.inbox;"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    root = Path(__file__).resolve().parents[2]
    loaded = set(subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                                text=True, check=True).stdout.split())
    assert {"uvicorn", "sqlalchemy", "structlog"} <= loaded
    heavy = {"pydantic", "okta", "slack_bolt", "slack_sdk", "alembic", "aiohttp", "rapidfuzz",
             "babel", "ldap3", "cryptography"}
    assert loaded & heavy == set()
