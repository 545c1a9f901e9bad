"""The HTTP ingress on its own: acks after the record, refusals, shutdown.

A recording stand-in for the Slack surface (its inbox) shows what reaches the work
loop and when; the requests are real signed HTTP requests over a socket on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_bolt.response import BoltResponse

import bot.slack.http_server as http_server
import bot.slack.server as server
from bot.slack.http_server import running_http
from bot.slack.server import Accepted, build_http_app
from sandboxes.slack.events import signature

SECRET = "ingress-test-signing-secret"


class Recorder:
    """Stands in for ``SlackSurface``: records accepted requests (time, payload, key), a
    key seen before as a duplicate, and Bolt dispatches; ``failing`` refuses every record."""

    signing_secret = SECRET
    command_ack = "Me pongo con ello: te respondo por mensaje directo."

    def __init__(self) -> None:
        self.started: list[tuple[float, bytes]] = []
        self.keys: list[str] = []
        self.retries: list[int] = []
        self.threads: set[str] = set()
        self.dispatched: list[bytes] = []
        self.failing = False

    async def accept(self, key: str, payload: bytes, retry: int) -> Accepted:
        if self.failing:
            return Accepted.FAILED
        self.threads.add(threading.current_thread().name)
        self.retries.append(retry)
        if key in self.keys:
            return Accepted.DUPLICATE
        self.keys.append(key)
        self.started.append((time.monotonic(), payload))
        return Accepted.NEW

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


async def test_a_burst_is_recorded_then_acked() -> None:
    surface = Recorder()
    app = build_http_app(surface)
    async with running_http(app) as url, httpx.AsyncClient() as client:
        answers = await asyncio.gather(*(_post(client, url, _event(i)) for i in range(40)))
        assert [a.status_code for a in answers] == [200] * 40
        assert all(a.content == b"" for a in answers)
        assert "ack;dur=" in answers[0].headers["server-timing"]
    # Every acknowledged request was recorded (before its ack: the ack waits for it).
    assert sorted(b for _, b in surface.started) == sorted(_event(i) for i in range(40))
    assert sorted(surface.keys) == [f"event:Ev{i:08d}" for i in range(40)]


async def test_a_redelivery_is_acked_and_recorded_once() -> None:
    surface = Recorder()
    app = build_http_app(surface)
    async with running_http(app) as url, httpx.AsyncClient() as client:
        first = await _post(client, url, _event(1))
        body = _event(1)
        again = await client.post(f"{url}/slack/events", content=body,
                                  headers={**_signed(body), "X-Slack-Retry-Num": "1"})
    assert first.status_code == again.status_code == 200
    assert surface.keys == ["event:Ev00000001"] and surface.retries == [0, 1]


async def test_a_request_that_cannot_be_recorded_is_a_503_for_slack_to_retry() -> None:
    surface = Recorder()
    surface.failing = True
    app = build_http_app(surface)
    async with running_http(app) as url, httpx.AsyncClient() as client:
        refused = await _post(client, url, _event(1))
        surface.failing = False
        retried = await _post(client, url, _event(1))
    assert refused.status_code == 503 and retried.status_code == 200
    assert surface.keys == ["event:Ev00000001"]


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


async def test_a_stopping_ingress_refuses_with_503_and_records_nothing() -> None:
    surface = Recorder()
    app = build_http_app(surface)
    async with running_http(app) as url, httpx.AsyncClient() as client:
        before = await _post(client, url, _event(1))
        app.stopping = True
        after = await _post(client, url, _event(2))
        ready = await client.get(f"{url}/readyz")
    assert before.status_code == 200 and after.status_code == 503
    assert ready.status_code == 503
    assert surface.keys == ["event:Ev00000001"]


async def test_hostile_bodies_get_a_clear_4xx_and_record_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Correctly signed, each of them: deep nesting, a NUL, a content type Slack never sends,
    a body that dribbles in slower than ``BODY_TIMEOUT``."""
    monkeypatch.setattr(server, "BODY_TIMEOUT", 0.5)
    surface = Recorder()
    app = build_http_app(surface)
    deep = (b'{"type":"event_callback","event_id":"Ev9","event":{"type":"message","x":'
            + b"[" * 100_000 + b"]" * 100_000 + b"}}")
    # Deeper than MAX_DEPTH, well within what the JSON parser takes.
    nested = (b'{"type":"event_callback","event_id":"Ev8","event":{"type":"message","x":'
              + b"[" * 40 + b"1" + b"]" * 40 + b"}}")
    # A NUL in a button value: escaped in JSON, and inside a form's payload.
    click = {"type": "block_actions", "user": {"id": "U1"},
             "actions": [{"action_id": "a", "value": "x\x00y", "action_ts": "1.2"}]}
    nul_body = json.dumps(click).encode()
    assert b"\\u0000" in nul_body
    nul_form = urlencode({"payload": json.dumps(click)}).encode()

    async def slow_body() -> Any:
        yield b'{"type":"event_callback",'
        await asyncio.sleep(2)
        yield b'"event_id":"Ev7"}'

    async with running_http(app) as url, httpx.AsyncClient() as client:
        answers = [await _post(client, url, deep), await _post(client, url, nested),
                   await _post(client, url, nul_body)]
        form_headers = {**_signed(nul_form), "Content-Type": "application/x-www-form-urlencoded"}
        answers.append(await client.post(f"{url}/slack/events", content=nul_form,
                                         headers=form_headers))
        as_text = await client.post(f"{url}/slack/events", content=_event(5),
                                    headers={**_signed(_event(5)), "Content-Type": "text/plain"})
        slow = await client.post(f"{url}/slack/events", content=slow_body(),
                                 headers=_signed(b"not this body"))
        fine = await _post(client, url, _event(6))
    assert [a.status_code for a in answers] == [400, 400, 400, 400]
    assert as_text.status_code == 415 and slow.status_code == 408
    assert fine.status_code == 200
    assert surface.keys == ["event:Ev00000006"]


async def test_slash_commands_are_acked_with_text() -> None:
    surface = Recorder()
    app = build_http_app(surface)
    body = b"command=%2Fhelpdesk&text=help&user_id=U1"
    headers = {**_signed(body), "Content-Type": "application/x-www-form-urlencoded"}
    async with running_http(app) as url, httpx.AsyncClient() as client:
        for _ in range(3):
            answer = await client.post(f"{url}/slack/events", content=body, headers=headers)
            assert answer.status_code == 200 and answer.text == surface.command_ack
    # One slash command sent three times (same body): one record.
    assert len(surface.started) == 1 and len(surface.retries) == 3


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


async def test_a_slow_client_storm_does_not_starve_valid_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """300 connections sending half a request each (more than ``MAX_CONNECTIONS``): valid
    requests and /healthz are still served, and the slow ones are cut at ``HEADER_TIMEOUT``."""
    monkeypatch.setattr(http_server, "MAX_CONNECTIONS", 100)
    monkeypatch.setattr(http_server, "HEADER_TIMEOUT", 1.5)
    surface = Recorder()
    app = build_http_app(surface)
    async with running_http(app) as url:
        port = int(url.rsplit(":", 1)[1])
        slow: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        for _ in range(300):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nX-Slow: ")
            slow.append((reader, writer))
        async with httpx.AsyncClient(timeout=5) as client:
            answers = await asyncio.gather(*(_post(client, url, _event(i)) for i in range(20)))
            health = await client.get(f"{url}/healthz")
        # Every slow connection is closed by now or within the header deadline.
        await asyncio.sleep(2.0)
        closed = 0
        for reader, writer in slow:
            with contextlib.suppress(ConnectionError, TimeoutError):
                if await asyncio.wait_for(reader.read(), 1) == b"":
                    closed += 1
            writer.close()
    assert [a.status_code for a in answers] == [200] * 20
    assert health.status_code == 200
    assert closed == 300
    assert len(surface.keys) == 20
