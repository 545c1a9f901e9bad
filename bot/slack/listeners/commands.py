"""``/helpdesk``: acknowledged at once, answered in the employee's DM."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack.listeners.deps import Deps
from bot.slack.server import COMMAND_ACK


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/helpdesk")
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(text=COMMAND_ACK)
        text = str(command.get("text") or "")
        await deps.answer(
            str(command["user_id"]), "command",
            lambda actor: deps.conversation.on_command(actor, text),
        )
