"""What change notices need from the outside: a mail server and the chat surface."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


class Mailer(Protocol):
    async def send(self, to: Sequence[str], subject: str, text: str) -> None:
        """Send one plain-text email to ``to``; raise on any failure (nothing is retried)."""
        ...


@runtime_checkable
class DirectMessages(Protocol):
    async def direct_message(self, slack_user: str, text: str) -> None:
        """Post ``text`` (Slack mrkdwn) in the employee's DM with the bot."""
        ...


class SecurityChannel(Protocol):
    async def security_notice(self, text: str) -> None:
        """Tell the security team (a Slack channel, or the terminal in the demo)."""
        ...


@runtime_checkable
class NoticeChat(DirectMessages, SecurityChannel, Protocol):
    """A chat surface that does both (Slack, the demo's terminal)."""


__all__ = ["DirectMessages", "Mailer", "NoticeChat", "SecurityChannel"]
