"""What the verification workflow needs from the chat surface: a way to show the push number.

The Slack surface posts it in the employee's DM; the demo prints it and then
shows the "phone" prompt. Without a prompter the bot cannot show the number, so
it does not send number-matching pushes at all (the next method applies).
"""

from __future__ import annotations

from typing import Protocol

from actions.audit import Actor
from connectors.base import PushChallenge


class PushPrompter(Protocol):
    async def push_sent(self, actor: Actor, challenge: PushChallenge, label: str) -> None:
        """Tell the employee a push went to their device (``label``: Okta, OneLogin...).

        With number matching, the message shows ``challenge.number`` to pick on the
        device. Called once the push is sent, before the bot waits for the answer.
        """
        ...


__all__ = ["PushPrompter"]
