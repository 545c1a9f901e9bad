"""``/helpdesk``: acknowledged at once, answered in the employee's DM."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack.listeners.deps import Deps
from config.i18n import N_, speaking, t

#: The slash command's immediate answer; the result follows in the DM.
COMMAND_ACK = N_("On it: I'll answer in our direct messages.")


def command_ack(language: str | None) -> str:
    """``COMMAND_ACK`` in ``language`` (a code or locale), else English.

    The ack goes out before anything is read or looked up: a slash command carries no
    locale, and the person's stored one is a store call away. So it speaks the
    organisation's language (``organisation.language``); the answer in the DM speaks the
    message's, else the person's. Computed once per process (``SlackSurface.command_ack``;
    the ingress child gets the text in its hello frame and translates nothing).
    """
    with speaking(language):
        return t(COMMAND_ACK)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/helpdesk")
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(text=deps.command_ack)
        text = str(command.get("text") or "")
        await deps.answer(
            str(command["user_id"]), "command",
            lambda actor: deps.conversation.on_command(actor, text),
        )
