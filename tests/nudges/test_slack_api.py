"""How the sweep's Slack calls treat 429s, 5xx answers and lost connections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from actions.nudges import build_limiters
from bot.nudges import SlackApi, SlackCallError
from config.nudges import NudgeRateLimits
from tests.nudges.test_ratelimit import FakeClock


class Answer:
    """The parts of a slack_sdk response the sweep reads."""

    def __init__(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None):
        self.status_code = status
        self.data = data
        self.headers = headers or {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def _script(*steps: Any) -> tuple[Callable[[], Awaitable[Any]], list[int]]:
    sent: list[int] = []

    async def send() -> Any:
        sent.append(1)
        step = steps[len(sent) - 1]
        if isinstance(step, BaseException):
            raise step
        if step.status_code != 200 or not step.data.get("ok"):
            raise SlackApiError("failed", step)  # type: ignore[no-untyped-call]
        return step

    return send, sent


def _api() -> tuple[SlackApi, FakeClock]:
    clock = FakeClock()
    api = SlackApi(object(), build_limiters(NudgeRateLimits(), [], clock), clock=clock)  # type: ignore[arg-type]
    return api, clock


OK = Answer(200, {"ok": True, "ts": "1.0", "channel": "D1"})
LIMITED = Answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})


async def test_a_429_waits_retry_after_and_sends_again_without_limit() -> None:
    api, clock = _api()
    send, sent = _script(LIMITED, LIMITED, LIMITED, LIMITED, LIMITED, LIMITED, OK)
    start = clock.now
    data = await api.call("chat.postMessage", send, channel="U1", idempotent=False)
    assert data["ts"] == "1.0" and len(sent) == 7
    assert clock.now - start >= 6 * 7  # every Retry-After honoured
    assert api.stats()["rate_limited"] == {"chat.postMessage": 6}


async def test_a_5xx_read_is_retried_a_5xx_post_may_have_happened() -> None:
    api, _ = _api()
    server_error = Answer(500, {"ok": False, "error": "internal_error"})
    send, sent = _script(server_error, OK)
    assert (await api.call("users.list", send))["ok"] and len(sent) == 2
    send, sent = _script(server_error)
    with pytest.raises(SlackCallError) as exc:
        await api.call("chat.postMessage", send, channel="U1", idempotent=False)
    assert exc.value.maybe_sent and len(sent) == 1


async def test_a_timeout_on_a_post_is_unclear_a_refused_connection_is_not() -> None:
    import aiohttp

    api, _ = _api()
    send, sent = _script(TimeoutError())
    with pytest.raises(SlackCallError) as exc:
        await api.call("chat.postMessage", send, channel="U1", idempotent=False)
    assert exc.value.maybe_sent and len(sent) == 1
    refused = aiohttp.ClientConnectorError(None, OSError(111, "refused"))  # type: ignore[arg-type]
    send, sent = _script(refused, OK)
    assert (await api.call("chat.postMessage", send, channel="U1", idempotent=False))["ok"]
    assert len(sent) == 2  # it never reached Slack: safe to send


async def test_an_error_answer_is_raised_with_its_code() -> None:
    api, _ = _api()
    send, _ = _script(Answer(200, {"ok": False, "error": "channel_not_found"}))
    with pytest.raises(SlackCallError) as exc:
        await api.call("chat.postMessage", send, channel="U1", idempotent=False)
    assert exc.value.error == "channel_not_found" and not exc.value.maybe_sent
    assert api.stats()["failures"] == {"chat.postMessage channel_not_found": 1}
