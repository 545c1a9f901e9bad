"""The ``verification:`` block of ``helpdesk.yaml``: proving it is the employee before a change.

A Slack session alone does not prove who is typing (a stolen laptop, a phished
token). Before a password reset, an unlock or an MFA reset the bot verifies the
employee with the first method of the capability's list they can use:

* ``push``: a push (with number matching) to a factor they already have, through the
  connector serving the capability, or ``verifier`` when that one can't send pushes
  (an Active Directory deployment verifies through Okta or OneLogin, by email);
* ``approval``: a second person (the manager, IT approvers) vouches in Slack;
* ``none``: no verification (an explicit opt-out; ``helpdesk doctor`` reports it).
"""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.durations import parse_duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Method(enum.StrEnum):
    """How an employee is verified before a self-service change."""

    PUSH = "push"
    APPROVAL = "approval"
    NONE = "none"


def _duration(value: Any) -> timedelta:
    return parse_duration(value)


class PushSettings(_Strict):
    per_hour: int = Field(
        default=3, ge=1, le=20,
        description="At most this many pushes per employee in any hour (against push fatigue); "
        "once reached, the next method of the list applies.",
    )
    wait: timedelta = Field(
        default=timedelta(seconds=60),
        description="How long the bot waits for the answer on the phone before giving up "
        "(the provider's own expiry, usually 5 minutes, ends it sooner or later).",
    )
    poll_interval: timedelta = Field(
        default=timedelta(milliseconds=500),
        description="How often the push's transaction is polled while waiting (seconds as "
        "a number, e.g. 0.5): the answer reaches the bot at most this late, and each "
        "waiting push costs the connector's API budget one call per interval.",
    )
    number_matching: bool = Field(
        default=True,
        description="Send number-matching pushes: the bot shows a number in the chat and the "
        "employee picks it on the phone.",
    )

    @field_validator("wait", "poll_interval", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return _duration(v)


class ApprovalSettings(_Strict):
    approvers: list[str] = Field(
        default=["manager"],
        description="Who may vouch for the employee: 'manager' (from the directory), Slack "
        "user ids (U123), user groups (S123 or @handle); channels (C123 or #name) only show "
        "the card. The employee never approves their own.",
    )
    approvals_required: int = Field(
        default=1, ge=1, le=5, description="Distinct people who must approve."
    )
    ttl: timedelta = Field(
        default=timedelta(hours=4),
        description="An undecided verification expires after this (the employee is told).",
    )
    remind_after: timedelta = Field(
        default=timedelta(hours=1), description="Approvers are reminded after this, then again."
    )
    valid_for: timedelta = Field(
        default=timedelta(minutes=30),
        description="After approval, the employee has this long to go ahead with the change.",
    )

    @field_validator("ttl", "remind_after", "valid_for", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return _duration(v)


_DESCRIBE = (
    "Verification methods in order of preference; the first the employee can use applies "
    "(push, approval, or none alone)."
)


class VerificationSettings(_Strict):
    password_reset: list[Method] = Field(
        default=[Method.PUSH, Method.APPROVAL], description=_DESCRIBE
    )
    unlock: list[Method] = Field(default=[Method.PUSH, Method.APPROVAL], description=_DESCRIBE)
    mfa_reset: list[Method] = Field(
        default=[Method.APPROVAL],
        description=_DESCRIBE + " The employee has usually lost the factor a push would go to.",
    )
    verifier: str | None = Field(
        default=None,
        description="The connector that sends pushes when the capability's own connector "
        "can't (an Active Directory deployment: an Okta or OneLogin connector; the employee "
        "is matched there by email).",
    )
    push: PushSettings = Field(
        default=PushSettings(),
        description="The push method: how many, how long to wait, how often to poll.",
    )
    approval: ApprovalSettings = Field(
        default=ApprovalSettings(),
        description="The approval method: who vouches, how many, for how long.",
    )

    @field_validator("password_reset", "unlock", "mfa_reset")
    @classmethod
    def _methods(cls, v: list[Method]) -> list[Method]:
        if not v:
            raise ValueError("list at least one method (push, approval, or none)")
        if len(set(v)) != len(v):
            raise ValueError("a method is listed twice")
        if Method.NONE in v and len(v) > 1:
            raise ValueError("'none' can't be combined with other methods")
        return v

    def methods(self, capability: str) -> list[Method]:
        """The methods for ``password_reset``, ``unlock`` or ``mfa_reset``."""
        found: list[Method] = getattr(self, capability)
        return found


#: The capabilities a verification guards, by their configuration names.
VERIFIED_CAPABILITIES: tuple[str, ...] = ("password_reset", "unlock", "mfa_reset")
