"""The ``nudges:`` block of ``helpdesk.yaml``: scheduled password-expiry reminders in Slack.

Every figure that paces the sweep is here, so an operator can match the limits of
their own Okta org and Slack workspace. The defaults are the vendors' published ones:

* Okta, Enterprise org: ``GET /api/v1/users`` 600 a minute, and 600 for the other
  ``/api/v1`` endpoints (https://developer.okta.com/docs/reference/rl-global-mgmt/);
* Slack tiers (https://api.slack.com/docs/rate-limits): ``users.list`` Tier 2 (20+/min),
  ``users.lookupByEmail`` and ``conversations.*`` Tier 3 (50+/min);
* ``chat.postMessage`` (https://api.slack.com/methods/chat.postMessage#rate_limiting):
  about one message a second per channel with short bursts,
  plus a workspace-wide limit Slack does not publish. The 300 a minute with bursts of
  60 used here is a stand-in (the same one the Slack fake models), not a vendor
  figure: set ``rate_limits.post_message`` to what your workspace sustains.

A burst is what a client may send at once after a quiet spell; without one it is a
minute's worth, which is how the Slack fake models the tiers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MACHINE_NOTES: dict[str, str] = {
    "ad": (
        "On a Windows PC joined to the company domain: press Ctrl+Alt+Del and choose "
        "*Change a password*. On a Mac bound to the directory: System Settings → Users & "
        "Groups → your account → *Change Password*. Either way, be on the office network "
        "or the VPN."
    ),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: Any) -> timedelta:
    # Imported here: config.settings imports this module to declare its ``nudges`` field.
    from config.durations import parse_duration

    return parse_duration(value)


class RateSpec(_Strict):
    """A client-side token bucket: ``per_minute`` sustained, ``burst`` at once."""

    per_minute: float = Field(
        gt=0,
        description="Requests a minute, sustained.",
    )
    burst: float | None = Field(
        default=None, ge=1,
        description=(
            "Requests that may go at once after a quiet spell (default: a minute's "
            "worth)."
        ),
    )

    @property
    def capacity(self) -> float:
        """The bucket size: ``burst``, or a minute's worth when unset."""
        return self.burst if self.burst is not None else max(1.0, self.per_minute)


class NudgeRateLimits(_Strict):
    """One limiter per API the sweep calls; ``null`` turns a limiter off."""

    directory_list: RateSpec | None = Field(
        default=RateSpec(per_minute=600),
        description=(
            "The directory's users-list endpoint, one bucket per connector (null: no "
            "limiter)."
        ),
    )
    directory_groups: RateSpec | None = Field(
        default=RateSpec(per_minute=600),
        description="Group-membership reads made to honour exclude_groups (null: no limiter).",
    )
    users_list: RateSpec = Field(
        default=RateSpec(per_minute=20),
        description="Slack users.list (Tier 2).",
    )
    users_lookup_by_email: RateSpec = Field(
        default=RateSpec(per_minute=50),
        description="Slack users.lookupByEmail (Tier 3).",
    )
    post_message: RateSpec = Field(
        default=RateSpec(per_minute=300, burst=60),
        description=(
            "Slack chat.postMessage across the workspace (set it to what your workspace "
            "sustains)."
        ),
    )
    post_message_per_channel: RateSpec = Field(
        default=RateSpec(per_minute=60, burst=3),
        description="Slack chat.postMessage into one channel or DM.",
    )
    conversations: RateSpec = Field(
        default=RateSpec(per_minute=50),
        description="Slack conversations.* calls (Tier 3).",
    )
    headroom: float = Field(
        default=1.0, ge=0,
        description=(
            "Tokens of each burst left unused, so a request arriving a few milliseconds "
            "early never finds the server's bucket empty."
        ),
    )


class NudgeSettings(_Strict):
    """When to nudge, whom, how to find them in Slack, and how fast."""

    enabled: bool = Field(
        default=True,
        description="Run the sweep on its schedule.",
    )
    schedule: str = Field(
        default="0 9 * * 1-5",
        description="When the sweep runs: a five-field cron expression, read in `timezone`.",
    )
    timezone: str = Field(
        default="UTC",
        description="The schedule's time zone (an IANA name such as Europe/Berlin).",
    )
    thresholds: tuple[int, ...] = Field(
        default=(14, 7, 3, 1),
        description=(
            "Days before expiry at which people are nudged; each person gets at most one "
            "nudge per threshold per password."
        ),
    )
    connectors: tuple[str, ...] | None = Field(
        default=None,
        description="Connector names to sweep (default: every connector serving password_expiry).",
    )
    exclude_groups: tuple[str, ...] = Field(
        default=(),
        description="Members of these directory groups are never nudged.",
    )
    quiet_without_slack: bool = Field(
        default=True,
        description="People with no (active) Slack account are skipped, not counted as failures.",
    )
    it_channel: str | None = Field(
        default=None,
        description=(
            "Where each run's summary goes (default: organisation.it_channel; \"\" for "
            "none)."
        ),
    )
    slack_lookup: Literal["auto", "users_list", "lookup_by_email"] = Field(
        default="auto",
        description=(
            "How emails become Slack user ids: `auto` pages users.list and asks "
            "users.lookupByEmail for whoever the list has not reached yet."
        ),
    )
    users_list_page_size: int = Field(
        default=200, ge=1, le=1000,
        description="Users per users.list page.",
    )
    slack_directory_ttl: timedelta = Field(
        default=timedelta(hours=12),
        description=(
            "The email to Slack id map is kept this long; a run within it reuses it and "
            "resumes an unfinished users.list pass."
        ),
    )
    machine_notes: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_MACHINE_NOTES),
        description=(
            "Extra text for people of a connector, by connector name, else by kind (the "
            "default tells `ad` users how to change a password on their machine)."
        ),
    )
    catch_up: timedelta = Field(
        default=timedelta(hours=6),
        description="A missed slot still runs if the bot (re)starts within this long after it.",
    )
    poll_interval: timedelta = Field(
        default=timedelta(minutes=1),
        description="How often each replica checks for a due or unfinished run.",
    )
    lease: timedelta = Field(
        default=timedelta(seconds=60),
        description=(
            "The sweep lease: renewed every third of this; a dead holder's lease lapses "
            "after it."
        ),
    )
    request_timeout: timedelta = Field(
        default=timedelta(seconds=30),
        description=(
            "How long one Slack call may take; a claim older than this is safe to "
            "reconcile."
        ),
    )
    unconfirmed: Literal["assume_sent", "resend"] = Field(
        default="assume_sent",
        description=(
            "When a crash leaves a nudge Slack cannot confirm: `assume_sent` never risks "
            "a second message, `resend` never risks none."
        ),
    )
    workers: int = Field(
        default=8, ge=1, le=64,
        description="Deliveries in flight at once (the rate limits, not this, set the pace).",
    )
    retention: timedelta = Field(
        default=timedelta(days=400),
        description="Nudge records older than this are deleted.",
    )
    rate_limits: NudgeRateLimits = Field(
        default=NudgeRateLimits(),
        description="Client-side rate limits, one per API the sweep calls.",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value) or len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a five-field cron expression")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("give at least one threshold")
        if any(days < 0 or days > 365 for days in value):
            raise ValueError("thresholds are days between 0 and 365")
        return tuple(sorted(set(value), reverse=True))

    @field_validator("catch_up", "poll_interval", "lease", "request_timeout", "retention",
                     "slack_directory_ttl", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> timedelta:
        return _duration(value)

    @field_validator("lease")
    @classmethod
    def _lease(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=3):
            raise ValueError("the lease must last at least 3s")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def window_days(self) -> int:
        """The largest threshold: how far ahead the sweep asks the directory."""
        return self.thresholds[0]

    def note_for(self, connector: str, kind: str) -> str | None:
        """The machine note for a connector, by its name first, then by its kind."""
        return self.machine_notes.get(connector) or self.machine_notes.get(kind) or None
