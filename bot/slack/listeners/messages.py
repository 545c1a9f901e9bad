"""Direct messages to the bot: each plain message is an employee's turn."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners.deps import Deps


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        # Only plain messages in the bot's DM; edits, bot echoes and joins are ignored.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        user_id, text = event.get("user"), str(event.get("text") or "")
        if not user_id:
            return
        # The answer goes where the message came from: no conversations.open for it.
        channel = str(event.get("channel") or "") or None
        if channel is not None:
            await deps.directory.heard_from(str(user_id), channel)
        await deps.answer(
            str(user_id), "message", lambda actor: deps.conversation.on_message(actor, text),
            dm=channel,
        )
