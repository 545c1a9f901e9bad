"""The HTTP ingress on its own: acks, the batched hand-off to the work loop, shutdown.

A recording stand-in for the Slack surface shows what reaches the work loop and when;
the requests are real signed HTTP requests over a socket on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import httpx
from slack_bolt.response import BoltResponse

from bot.slack.server import Handoff, build_http_app, running_http
from sandboxes.slack.events import signature

SECRET = "ingress-test-signing-secret"


class Recorder:
    """Stands in for ``SlackSurface``: records hand-offs (time, thread) and Bolt dispatches."""

    signing_secret = SECRET

    def __init__(self) -> None:
        self.started: list[tuple[float, bytes]] = []
        self.threads: set[str] = set()
        self.dispatched: list[bytes] = []

    def start(self, body: bytes, query: str, headers: dict[str, str]) -> None:
        self.started.append((time.monotonic(), body))
        self.threads.add(threading.current_thread().name)

    async def dispatch(self, body: bytes, query: str, headers: dict[str, str]) -> BoltResponse:
        self.dispatched.append(body)
        return BoltResponse(status=200, body=json.dumps({"response_action": "clear"}),
                            headers={"content-type": "application/json"})


def _event(n: int) -> bytes:
    return json.dumps(
        {"type": "event_callback", "event_id": f"Ev{n:08d}",
         "event": {"type": "message", "channel_type": "im", "user": "U1", "text": "hi"}}
    ).encode()


def _signed(body: bytes, *, ts: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if ts is None else ts
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": signature(SECRET, stamp, body),
    }


async def _post(client: httpx.AsyncClient, url: str, body: bytes, **kw: Any) -> httpx.Response:
    return await client.post(f"{url}/slack/events", content=body, headers=_signed(body, **kw))


async def test_a_burst_is_acked_then_handed_over_together() -> None:
    surface = Recorder()
    app = build_http_app(surface)
    async with running_http(app) as url, httpx.AsyncClient() as client:
        answers = await asyncio.gather(*(_post(client, url, _event(i)) for i in range(40)))
        acked = time.monotonic()
        assert [a.status_code for a in answers] == [200] * 40
        assert all(a.content == b"" for a in answers)
        assert "ack;dur=" in answers[0].headers["server-timing"]
        for _ in range(100):
            if len(surface.started) == 40:
                break
            await asyncio.sleep(0.01)
    assert sorted(b for _, b in surface.started) == sorted(_event(i) for i in range(40))
    # Handed over after the acks, and in few batches (not one wake-up per request).
    assert min(t for t, _ in surface.started) >= acked - 0.05
    assert len({round(t, 3) for t, _ in surface.started}) <= 5


async def test_forged_stale_and_malformed_requests_reach_nothing() -> None:
    surface = Recorder()
    app = build_http_app(surface)
    async with running_http(app) as url, httpx.AsyncClient() as client:
        body = _event(1)
        forged = await client.post(
            f"{url}/slack/events", content=body,
            headers={**_signed(body), "X-Slack-Signature": "v0=" + "0" * 64},
        )
        stale = await _post(client, url, body, ts=int(time.time()) - 301)
        unsigned = await client.post(f"{url}/slack/events", content=body)
        garbage = b"\xff{not json"
        malformed = await client.post(f"{url}/slack/events", content=garbage,
                                      headers=_signed(garbage))
        huge = b"x" * 1_000_001
        too_big = await client.post(f"{url}/slack/events", content=huge, headers=_signed(huge))
        wrong_method = await client.get(f"{url}/slack/events")
        elsewhere = await client.post(f"{url}/nowhere", content=body, headers=_signed(body))
        health = await client.get(f"{url}/healthz")
        await asyncio.sleep(0.1)
    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
    assert malformed.status_code == 400 and too_big.status_code == 413
    assert wrong_method.status_code == 405 and elsewhere.status_code == 404
    assert health.json() == {"ok": True}
    assert surface.started == [] and surface.dispatched == []


async def test_answers_that_need_bolt_wait_for_it() -> None:
    surface = Recorder()
    app = build_http_app(surface)
    payload = {"type": "view_submission", "view": {"id": "V1"}}
    body = ("payload=" + json.dumps(payload)).encode()
    async with running_http(app) as url, httpx.AsyncClient() as client:
        headers = {**_signed(body), "Content-Type": "application/x-www-form-urlencoded"}
        answer = await client.post(f"{url}/slack/events", content=body, headers=headers)
    assert answer.json() == {"response_action": "clear"}
    assert surface.dispatched == [body] and surface.started == []


async def test_a_steady_stream_is_handed_over_within_max_wait() -> None:
    """Requests that never leave a quiet gap still start within ``max_wait``."""
    surface = Recorder()
    handoff = Handoff(surface, quiet=0.05, max_wait=0.1)
    first = time.monotonic()
    while time.monotonic() - first < 0.35:
        handoff.add(_event(0), "", {})
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert surface.started, "nothing was handed over while requests kept coming"
    earliest = min(t for t, _ in surface.started)
    assert earliest - first < 0.1 + 0.05


async def test_acked_requests_are_handed_over_when_the_server_stops() -> None:
    """Stopping inside the quiet window loses nothing: the ingress flushes on its way out."""
    surface = Recorder()
    app = build_http_app(surface)
    app.handoff.quiet = app.handoff.max_wait = 30.0  # nothing would go before the stop
    async with running_http(app) as url, httpx.AsyncClient() as client:
        answers = await asyncio.gather(*(_post(client, url, _event(i)) for i in range(5)))
        assert [a.status_code for a in answers] == [200] * 5
        assert surface.started == []
    await asyncio.sleep(0)  # the work loop runs what the stopping ingress queued for it
    assert len(surface.started) == 5
    assert surface.threads == {threading.current_thread().name}


async def test_slash_commands_are_acked_with_text() -> None:
    surface = Recorder()
    app = build_http_app(surface)
    body = b"command=%2Fhelpdesk&text=help&user_id=U1"
    headers = {**_signed(body), "Content-Type": "application/x-www-form-urlencoded"}
    async with running_http(app) as url, httpx.AsyncClient() as client:
        for _ in range(3):
            answer = await client.post(f"{url}/slack/events", content=body, headers=headers)
            assert answer.status_code == 200 and answer.text
        await asyncio.sleep(0.1)
    assert len(surface.started) == 3


async def test_signed_requests_missing_what_the_listeners_need_are_refused() -> None:
    """Correctly signed, valid JSON, but not a shape Slack sends: 400, nothing starts."""
    surface = Recorder()
    app = build_http_app(surface)
    bodies = [
        {"type": "event_callback", "event": {"type": "message"}},  # no event_id
        {"type": "event_callback", "event_id": "Ev1", "event": "message"},
        {"type": "event_callback", "event_id": "Ev2"},
        {"type": "block_actions", "actions": [{"action_id": "x"}]},  # no user
        {"type": "block_actions", "user": {"id": "U1"}, "actions": []},
        {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"value": "1"}]},
    ]
    forms = [b"command=%2Fhelpdesk&text=help", b"command=%2Fhelpdesk&user_id="]
    async with running_http(app) as url, httpx.AsyncClient() as client:
        answers = [await _post(client, url, json.dumps(b).encode()) for b in bodies]
        for form in forms:
            headers = {**_signed(form), "Content-Type": "application/x-www-form-urlencoded"}
            answers.append(await client.post(f"{url}/slack/events", content=form, headers=headers))
        fine = await _post(client, url, _event(7))
        await asyncio.sleep(0.1)
    assert [a.status_code for a in answers] == [400] * (len(bodies) + len(forms))
    assert fine.status_code == 200  # and the process keeps serving
    assert [b for _, b in surface.started] == [_event(7)]
