"""The ``nudges:`` block of ``helpdesk.yaml``: scheduled password-expiry reminders in Slack.

Every figure that paces the sweep is here, so an operator can match the limits of
their own Okta org and Slack workspace. The defaults are the vendors' published ones:

* Okta, Enterprise org: ``GET /api/v1/users`` 600 a minute, and 600 for the other
  ``/api/v1`` endpoints (https://developer.okta.com/docs/reference/rl-global-mgmt/);
* Slack tiers (https://api.slack.com/apis/rate-limits): ``users.list`` Tier 2 (20+/min),
  ``users.lookupByEmail`` and ``conversations.*`` Tier 3 (50+/min);
* ``chat.postMessage``: about one message a second per channel with short bursts,
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
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _duration(value: Any) -> timedelta:
    # Imported here: config.settings imports this module to declare its ``nudges`` field.
    from config.durations import parse_duration

    return parse_duration(value)


class RateSpec(_Strict):
    """A client-side token bucket: ``per_minute`` sustained, ``burst`` at once."""

    per_minute: float = Field(gt=0)
    """Calls a minute, sustained."""
    burst: float | None = Field(default=None, ge=1)
    """Calls at once after a quiet spell (default: a minute's worth)."""

    @property
    def capacity(self) -> float:
        """The bucket size: ``burst``, or a minute's worth when unset."""
        return self.burst if self.burst is not None else max(1.0, self.per_minute)


class NudgeRateLimits(_Strict):
    """One limiter per API the sweep calls; ``null`` turns a limiter off."""

    directory_list: RateSpec | None = RateSpec(per_minute=600)
    """The directory's users-list endpoint, one bucket per connector."""
    directory_groups: RateSpec | None = RateSpec(per_minute=600)
    """Group-membership reads made to honour ``exclude_groups`` (Okta: "other /api/v1")."""
    users_list: RateSpec = RateSpec(per_minute=20)
    """Slack `users.list` (Tier 2)."""
    users_lookup_by_email: RateSpec = RateSpec(per_minute=50)
    """Slack `users.lookupByEmail` (Tier 3)."""
    post_message: RateSpec = RateSpec(per_minute=300, burst=60)
    """Slack `chat.postMessage`, workspace-wide (set to what your workspace sustains)."""
    post_message_per_channel: RateSpec = RateSpec(per_minute=60, burst=3)
    """Slack `chat.postMessage` to one channel (about one a second)."""
    conversations: RateSpec = RateSpec(per_minute=50)
    """Slack `conversations.*` (Tier 3)."""
    headroom: float = Field(default=1.0, ge=0)
    """Tokens of each burst left unused, so that a request arriving a few milliseconds early
    never finds the server's bucket empty (its 429 would cost a whole second)."""


class NudgeSettings(_Strict):
    """When to nudge, whom, how to find them in Slack, and how fast."""

    enabled: bool = True
    """Run the daily sweep."""
    schedule: str = "0 9 * * 1-5"
    """Standard five-field cron expression, read in ``timezone``."""
    timezone: str = "UTC"
    """The IANA time zone the schedule is read in (`Europe/Madrid`)."""
    thresholds: tuple[int, ...] = (14, 7, 3, 1)
    """Days before expiry; each person gets at most one nudge per threshold per password."""
    connectors: tuple[str, ...] | None = None
    """Connector names to sweep (default: every connector with the password_expiry capability)."""
    exclude_groups: tuple[str, ...] = ()
    """Members of these directory groups are never nudged."""
    quiet_without_slack: bool = True
    """Quiet mode: people with no (active) Slack account are skipped, not failures."""
    it_channel: str | None = None
    """Where the summary of each run goes (default: organisation.it_channel; "" for none)."""
    slack_lookup: Literal["auto", "users_list", "lookup_by_email"] = "auto"
    """How emails become Slack user ids: ``auto`` pages users.list and, in parallel, asks
    users.lookupByEmail for whoever the list has not reached yet."""
    users_list_page_size: int = Field(default=200, ge=1, le=1000)
    """Users per `users.list` page."""
    slack_directory_ttl: timedelta = timedelta(hours=12)
    """The email → Slack id map is kept in the store this long: a run within it (a resumed one,
    say) reuses it and continues an unfinished users.list pass from its cursor."""
    machine_notes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MACHINE_NOTES))
    """Extra text for people of a connector (by connector name, else by kind)."""
    catch_up: timedelta = timedelta(hours=6)
    """A missed slot is still run if the bot (re)starts within this long after it."""
    poll_interval: timedelta = timedelta(minutes=1)
    """How often each replica checks for a due or unfinished run."""
    lease: timedelta = timedelta(seconds=60)
    """The sweep lease: renewed every third of this; a dead holder's lease lapses after it."""
    request_timeout: timedelta = timedelta(seconds=30)
    """How long one Slack call may take; a claim older than this is safe to reconcile."""
    unconfirmed: Literal["assume_sent", "resend"] = "assume_sent"
    """When a crash leaves a nudge whose delivery Slack cannot confirm (no history access):
    ``assume_sent`` never risks a second message, ``resend`` never risks none."""
    workers: int = Field(default=8, ge=1, le=64)
    """Deliveries in flight at once (the limiters, not this, set the pace)."""
    retention: timedelta = timedelta(days=400)
    """Nudge records older than this are deleted."""
    rate_limits: NudgeRateLimits = NudgeRateLimits()
    """Client-side limits of each API the sweep calls, so it stays within the vendors' published
    limits."""

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
