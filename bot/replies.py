"""The reply model: what the conversation answers, with no Slack in it, and its button ids.

The Slack surface renders replies as Block Kit (``bot.views``), the terminal
demo as numbered choices. A button carries an ``ActionId`` and a value; the
conversation dispatches a click through a table keyed by the action id.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from config.i18n import current
from config.secrets import Secret

MAX_REASON = 500


class ActionId(enum.StrEnum):
    """Button action ids, as sent to Slack: messages already posted carry these values.

    ``START`` carries an intent name (``password_reset``, or ``password_reset:es`` to answer
    in the language of the menu it was on); ``CONFIRM`` and ``CANCEL`` a pending-action token;
    ``ACCESS_PICK`` a catalogue key; ``ACCESS_REQUEST`` and ``ACCESS_FORM`` a pending-action
    token; ``ACCESS_APPROVE``, ``ACCESS_DENY`` and ``ACCESS_WITHDRAW`` a request id.
    """

    CONFIRM = "hd_confirm"
    CANCEL = "hd_cancel"
    START = "hd_start"
    SECRET_DONE = "hd_secret_done"
    ACCESS_PICK = "hd_access_pick"
    ACCESS_REQUEST = "hd_access_request"
    ACCESS_FORM = "hd_access_form"
    ACCESS_APPROVE = "hd_access_approve"
    ACCESS_DENY = "hd_access_deny"
    ACCESS_WITHDRAW = "hd_access_withdraw"

    @classmethod
    def parse(cls, value: str) -> ActionId | None:
        """The action id named ``value``; ``None`` for one this bot never sent."""
        try:
            return cls(value)
        except ValueError:
            return None


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    value: str
    style: str | None = None  # "primary" | "danger"


@dataclass(frozen=True)
class FormField:
    """One input of a form: free text, or a choice among ``(label, value)`` pairs."""

    name: str
    label: str
    multiline: bool = False
    min_length: int = 0
    max_length: int = MAX_REASON
    choices: Sequence[tuple[str, str]] = ()
    hint: str = ""


@dataclass(frozen=True)
class Form:
    """Questions to ask before acting; submitted back with ``on_form(action, value, values)``."""

    action: str
    value: str
    title: str
    submit: str
    intro: str
    fields: Sequence[FormField]
    close: str = "Cancel"
    choose: str = "Choose"
    """The close button's label, and the placeholder of a choice (in the employee's words)."""
    language: str = field(default_factory=current)
    """The language the form is written in (the turn's, when it is made): what is said
    about it afterwards (that it could not be opened in time) is said in it too."""


@dataclass(frozen=True)
class FormResult:
    """A form submission's outcome: ``errors`` by field (the form stays open) or replies."""

    errors: Mapping[str, str] = field(default_factory=dict)
    replies: Sequence[Reply] = ()


@dataclass(frozen=True)
class Reply:
    """One message to the employee.

    ``replaces_prompt``: this answers a button click; the message holding the
    button is updated to ``text`` instead of a new message being posted
    (``in_place_only``: and dropped when there is no such message, e.g. a click
    on the App Home). ``secret_hide_at``: the message shows a secret and must be
    edited to ``secret_replacement`` at that time; ``secrets`` are the values it shows
    (so a process that sends it later, from the store, can still keep them out of its
    logs). ``ephemeral``: shown only to
    the person who clicked, where they clicked. ``form``: open this form.
    """

    text: str
    buttons: Sequence[Button] = ()
    replaces_prompt: bool = False
    secret_hide_at: datetime | None = None
    secret_replacement: str = ""
    secrets: tuple[Secret, ...] = ()
    ephemeral: bool = False
    fields: Sequence[tuple[str, str]] = field(default_factory=tuple)
    in_place_only: bool = False
    form: Form | None = None


def in_place(reply: Reply) -> Reply:
    """``reply`` as the new content of the clicked message, dropped when there is none."""
    return Reply(reply.text, reply.buttons, replaces_prompt=True, fields=reply.fields,
                 in_place_only=True)


@dataclass(frozen=True)
class HomeSection:
    """A titled summary on the App Home (the IT admins' view): lines, fields, "and N more".

    ``lines`` are mrkdwn, one item each; ``more`` counts items left out already;
    ``empty`` is shown when there is nothing to list.
    """

    title: str
    lines: Sequence[str] = ()
    fields: Sequence[tuple[str, str]] = ()
    more: int = 0
    empty: str = ""


@dataclass(frozen=True)
class Home:
    """The App Home: what the bot does, my requests, requests waiting for me, extra sections.

    ``notice``: shown first, when building the rest failed (what the employee is told).
    """

    help: Reply
    mine: Sequence[Reply] = ()
    waiting: Sequence[Reply] = ()
    sections: Sequence[HomeSection] = ()
    notice: str = ""


__all__ = [
    "MAX_REASON",
    "ActionId",
    "Button",
    "Form",
    "FormField",
    "FormResult",
    "Home",
    "HomeSection",
    "Reply",
    "in_place",
]
