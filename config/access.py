"""The ``catalogue:`` and ``access:`` blocks of ``helpdesk.yaml``: requestable groups, approvals.

A catalogue entry names a directory group employees may ask for in chat and who
approves it; ``access:`` paces the requests (how long they wait, reminders,
time-bound access, retries of the directory change).
"""

from __future__ import annotations

import enum
import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.durations import parse_duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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

    key: str = Field(
        description="A stable identifier for the entry (unique in the catalogue).",
    )
    display_name: str = Field(
        description="The name employees see (\"Figma (editor)\").",
    )
    aliases: list[str] = Field(
        default=[],
        description="Other words employees use for it (\"figma\", \"figma edit\").",
    )
    aliases_by_language: dict[str, list[str]] = Field(
        default={},
        description="Aliases per language (ISO 639-1: en, es, fr, de, pt).",
    )
    description: str = Field(
        default="",
        description="One line saying what the access gives.",
    )
    provider: str | None = Field(
        default=None,
        description="The connector holding the group (default: the one serving `groups`).",
    )
    provider_group: str = Field(
        description="The group's name in the directory.",
    )
    approvers: list[str] = Field(
        default=[],
        description=(
            "Who decides and where the request is posted: Slack user ids (U123), user "
            "groups (S123 or @handle), `manager`, channels (C123 or #name)."
        ),
    )
    approvals_required: int = Field(
        default=1, ge=1, le=5,
        description="Distinct approvals needed; the requester never approves their own.",
    )
    justification_required: bool = Field(
        default=False,
        description="Ask the requester why they need it.",
    )
    auto_approve: bool = Field(
        default=False,
        description="Grant without approval.",
    )
    max_duration: timedelta | None = Field(
        default=None,
        description=(
            "Make the access time-bound: the requester picks a duration up to this and "
            "the membership is removed when it ends."
        ),
    )

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

    request_ttl: timedelta = Field(
        default=timedelta(days=3),
        description="A request nobody decides on expires after this long.",
    )
    remind_after: timedelta = Field(
        default=timedelta(days=1),
        description="Approvers are reminded once after this long.",
    )
    warn_before_end: timedelta = Field(
        default=timedelta(days=1),
        description="Time-bound access: the member is told this long before it ends.",
    )
    durations: list[timedelta] = Field(
        default=[ timedelta(days=1), timedelta(days=7), timedelta(days=30), timedelta(days=90) ],
        description=(
            "The durations offered for time-bound access (up to the entry's "
            "max_duration)."
        ),
    )
    manager_attributes: list[str] = Field(
        default=["managerEmail", "manager_email", "managerId", "manager"],
        description="Directory attributes read, in order, to find a requester's manager.",
    )
    justification_min_length: int = Field(
        default=10, ge=1, le=500,
        description="The shortest justification accepted, in characters.",
    )
    retry_after: timedelta = Field(
        default=timedelta(seconds=30),
        description="A failed directory change is retried first after this long (doubling).",
    )
    retry_max: timedelta = Field(
        default=timedelta(minutes=15),
        description="The longest wait between retries.",
    )
    max_attempts: int = Field(
        default=20, ge=1,
        description="Attempts before a directory change is given up and IT is told.",
    )
    poll_interval: timedelta = Field(
        default=timedelta(seconds=5),
        description="How often each replica looks for due access jobs.",
    )
    lease: timedelta = Field(
        default=timedelta(minutes=2),
        description="How long a replica holds a job it works on before another may take it.",
    )

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
