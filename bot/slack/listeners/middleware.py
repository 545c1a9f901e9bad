"""What runs around every listener: tracing each request, and the last-resort error.

Slack's redeliveries (``X-Slack-Retry-Num``) never get here: the inbox records each
request under its event id (``bot.slack.inbox``) and works on it once. A failure
outside an employee's turn (``Deps.answer`` answers those) reaches Bolt's error
handler, which tells the employee the same way when the payload says who they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from actions.audit import new_correlation_id
from actions.errors import Progress
from bot.dialogues.failures import failure_reply
from bot.slack.listeners.deps import Deps
from config import metrics, tracing
from config.logging import get_logger

log = get_logger("helpdesk.slack")


def employee_of(body: dict[str, Any]) -> str | None:
    """Who to tell about a failure with this payload: a person, never a bot or a channel."""
    user = body.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        return str(user["id"])  # a click or a form submission
    if isinstance(body.get("user_id"), str) and body.get("command"):
        return str(body["user_id"])  # a slash command
    event = body.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("user"), str):
        return None
    if event.get("type") == "app_home_opened":
        return str(event["user"])
    if event.get("type") == "message" and event.get("channel_type") == "im" and not (
        event.get("subtype") or event.get("bot_id")
    ):
        return str(event["user"])
    return None


def register(app: AsyncApp, deps: Deps) -> None:
    @app.middleware
    async def trace(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> Any:
        cid = new_correlation_id()
        with tracing.span("slack.request", cid, kind=metrics.event_kind(body)):
            await next()
        return None

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        # Outside an employee's turn nothing was written: the turn's own failures are
        # answered (with what it had started) by ``Deps.answer``.
        reply = failure_reply(error, "listener", Progress())
        user_id = employee_of(body)
        if user_id is not None:
            await deps.tell(user_id, reply)
