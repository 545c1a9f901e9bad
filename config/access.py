"""The ``catalogue:`` and ``access:`` blocks of ``helpdesk.yaml``: requestable groups, approvals.

A catalogue entry names a directory group employees may ask for in chat and who
approves it; ``access:`` paces the requests (how long they wait, reminders,
time-bound access, retries of the directory change). ``config.settings`` imports
these models into the whole configuration.
"""

from __future__ import annotations

import enum
import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.durations import parse_duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ApproverKind(enum.StrEnum):
    """What an entry of a catalogue group's ``approvers`` names (see :func:`approver_kind`)."""

    USER = "user"
    USERGROUP = "usergroup"
    MANAGER = "manager"
    CHANNEL = "channel"


_APPROVER_KINDS: tuple[tuple[ApproverKind, re.Pattern[str]], ...] = (
    (ApproverKind.USER, re.compile(r"^[UW][A-Z0-9]{2,}$")),
    (ApproverKind.USERGROUP, re.compile(r"^S[A-Z0-9]{2,}$|^@[a-z0-9][a-z0-9._-]*$")),
    (ApproverKind.MANAGER, re.compile(r"^manager$")),
    (ApproverKind.CHANNEL, re.compile(r"^[CG][A-Z0-9]{2,}$|^#[a-z0-9][a-z0-9._-]*$")),
)


def approver_kind(entry: str) -> ApproverKind:
    """``user``, ``usergroup``, ``manager`` or ``channel``; ``ValueError`` for anything else.

    ``U123``/``W123`` is a Slack user, ``S123`` or ``@handle`` a Slack user group,
    ``manager`` the requester's manager (from a directory attribute), ``C123`` or
    ``#name`` a channel where the approval message is posted.
    """
    for kind, pattern in _APPROVER_KINDS:
        if pattern.match(entry):
            return kind
    raise ValueError(
        f"{entry!r} is not an approver: use a Slack user id (U123), a user group (S123 or "
        "@handle), 'manager', or a channel (C123 or #name)"
    )


#: Languages the intent router understands (ISO 639-1); ``bot.intents.lang.LANGUAGES`` agrees.
ALIAS_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "pt")


class CatalogueEntry(_Strict):
    """A requestable group and how a request for it is approved.

    ``approvers`` name who may decide (users, user groups, ``manager``) and where
    the approval message goes (channels; named users and the manager also get a
    DM, user-group members only when no channel is listed). ``approvals_required``
    distinct people must approve, never the requester. ``max_duration`` makes the
    access time-bound: the requester picks a duration up to it and the membership
    is removed when it ends.
    """

    key: str
    """A stable identifier (used in requests and the audit trail)."""
    display_name: str
    """What employees see ("Figma")."""
    aliases: list[str] = []
    """Other words employees use for it ("design tool")."""
    aliases_by_language: dict[str, list[str]] = {}
    """Aliases per language (`es`, `fr`, `de`, `pt`, `en`)."""
    description: str = ""
    """A sentence shown when the group is offered."""
    provider: str | None = None
    """The connector holding the group (default: the one serving `groups`)."""
    provider_group: str
    """The group's name in that directory."""
    approvers: list[str] = []
    """Who decides: Slack users (`U123`), user groups (`S123`, `@handle`), `manager`; channels
    (`C123`, `#name`) where the approval card is posted."""
    approvals_required: int = Field(default=1, ge=1, le=5)
    """Distinct approvals needed, never counting the requester."""
    justification_required: bool = False
    """Ask the requester why (at least `access.justification_min_length` characters)."""
    auto_approve: bool = False
    """Grant without approval (still audited)."""
    max_duration: timedelta | None = None
    """Time-bound access: the requester picks a duration up to this, and the membership is
    removed when it ends."""

    @field_validator("max_duration", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta | None:
        return None if v is None else parse_duration(v)

    @field_validator("aliases_by_language")
    @classmethod
    def _alias_languages(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for code in v:
            if code not in ALIAS_LANGUAGES:
                raise ValueError(
                    f"unknown language {code!r}; one of {', '.join(ALIAS_LANGUAGES)}"
                )
        return v

    @field_validator("approvers")
    @classmethod
    def _approvers(cls, v: list[str]) -> list[str]:
        for entry in v:
            approver_kind(entry)
        return v

    def approvers_of(self, kind: ApproverKind) -> list[str]:
        return [a for a in self.approvers if approver_kind(a) == kind]


class AccessSettings(_Strict):
    """Group access requests: how long they wait, reminders, time-bound access, retries."""

    request_ttl: timedelta = timedelta(days=3)
    """A request nobody decides expires after this long."""
    remind_after: timedelta = timedelta(days=1)
    """Approvers are reminded once after this long."""
    warn_before_end: timedelta = timedelta(days=1)
    """Time-bound access: the member is told this long before it ends."""
    durations: list[timedelta] = [
        timedelta(days=1), timedelta(days=7), timedelta(days=30), timedelta(days=90)
    ]
    """The durations offered for time-bound access (up to the entry's `max_duration`)."""
    manager_attributes: list[str] = ["managerEmail", "manager_email", "managerId", "manager"]
    """Directory profile attributes read, in order, to find a requester's manager."""
    justification_min_length: int = Field(default=10, ge=1, le=500)
    """The shortest justification accepted, in characters."""
    retry_after: timedelta = timedelta(seconds=30)
    """A failed group change is retried after this long, doubling up to `retry_max`."""
    retry_max: timedelta = timedelta(minutes=15)
    """The longest wait between retries of a group change."""
    max_attempts: int = Field(default=20, ge=1)
    """Attempts before a group change is given up and IT is told."""
    poll_interval: timedelta = timedelta(seconds=5)
    """How often each replica looks for due jobs (grants, reminders, expiries, removals)."""
    lease: timedelta = timedelta(minutes=2)
    """How long a replica holds a job it works on; a crashed holder's job is taken over after it."""

    @field_validator(
        "request_ttl", "remind_after", "warn_before_end", "retry_after", "retry_max",
        "poll_interval", "lease", mode="before",
    )
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return parse_duration(v)

    @field_validator("durations", mode="before")
    @classmethod
    def _durs(cls, v: Any) -> list[timedelta]:
        if not isinstance(v, list):
            raise ValueError("a list of durations like [1d, 7d, 30d]")
        return [parse_duration(x) for x in v]
