"""What every listener needs from the surface, in one small dataclass."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from actions.audit import Actor
from bot.conversation import Conversation
from bot.replies import Reply
from bot.slack.directory import SlackDirectory
from store.db import Store

#: The employee's turn, once they are identified: the conversation's replies.
Work = Callable[[Actor], Awaitable[list[Reply]]]


class Answer(Protocol):
    """Identify the employee, run ``work``, deliver its replies; answer any failure.

    ``flow`` names the turn in logs; ``prompt`` (channel, ts) is the clicked
    message, ``trigger_id`` the click's (to open a form); a ``click`` has its own
    concurrency slots, so it does not queue behind a burst of new messages. ``dm`` is
    the DM channel the turn came from, when it did; ``response_url`` the click's.
    """

    def __call__(
        self,
        user_id: str,
        flow: str,
        work: Work,
        prompt: tuple[str, str] | None = None,
        trigger_id: str | None = None,
        *,
        click: bool = False,
        dm: str | None = None,
        response_url: str | None = None,
    ) -> Awaitable[None]: ...


class HideSecret(Protocol):
    """Hide the secret the clicked message (``prompt``) shows, through the outbox; False
    when it shows none (or is hidden already)."""

    def __call__(
        self, prompt: tuple[str, str], user_id: str, response_url: str | None
    ) -> Awaitable[bool]: ...


@dataclass(frozen=True)
class Deps:
    """The surface's services, as listeners use them.

    ``spawn`` runs work after the listener returned (tracked for a graceful
    shutdown); ``tell`` posts one reply in a user's DM, never raising; ``directory``
    keeps Slack profiles and DM channels; ``command_ack`` is the slash command's immediate
    answer (``commands.command_ack``, translated once); ``hide`` hides a secret's message
    ("Done, hide it").
    """

    conversation: Conversation
    store: Store
    answer: Answer
    publish_home: Callable[[str], Awaitable[None]]
    spawn: Callable[[Awaitable[Any]], None]
    tell: Callable[[str, Reply], Awaitable[None]]
    directory: SlackDirectory
    command_ack: str
    hide: HideSecret | None = None
