"""The ``slack`` block of ``helpdesk.yaml``: tokens, the endpoint, Slack's limits, the inbox.

The outbox's settings are :mod:`config.outbox`; both are part of ``SlackSettings``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.durations import parse_duration
from config.nudges import RateSpec
from config.outbox import OutboxSettings
from config.secrets import SecretRef


class InboxSettings(BaseModel):
    """Slack's requests, recorded in the store before they are acknowledged and worked on from
    there by any replica."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    lease: timedelta = timedelta(seconds=30)
    """How long a replica holds a request it works on without renewing (it renews every third
    of this): a replica that dies leaves its requests to the others after this long."""
    grace: timedelta = timedelta(seconds=20)
    """On SIGTERM, how long requests already being worked on may take to finish; the rest are
    handed back to the other replicas. Keep it under the orchestrator's grace period."""
    capacity: int = Field(default=32, ge=1, le=1000)
    """Requests one replica works on at once, clicks and other requests each (a click does not
    wait behind a burst of messages); the rest wait in the store for any replica."""

    @field_validator("lease", "grace", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return parse_duration(v)


class SlackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    bot_token: SecretRef = SecretRef(env="SLACK_BOT_TOKEN")
    """The bot token (`xoxb-`)."""
    signing_secret: SecretRef = SecretRef(env="SLACK_SIGNING_SECRET")
    """The app's signing secret: every HTTP request's signature is checked with it."""
    app_token: SecretRef | None = None
    """An app-level token (`xapp-`, scope `connections:write`): when set the bot uses Socket Mode
    instead of an HTTP endpoint."""
    host: str = "0.0.0.0"  # noqa: S104 - the bot is an HTTP endpoint Slack reaches
    """The address the HTTP endpoint (and, in Socket Mode, the health port) listens on."""
    port: int = Field(default=3000, ge=0, le=65535)
    """The port of `POST /slack/events`, `/healthz`, `/readyz` and `/metrics` (Socket Mode: the
    last three only)."""
    path: str = "/slack/events"
    """The path Slack's Event Subscriptions and Interactivity URLs point at."""
    api_base_url: str | None = None
    """Slack's Web API base URL; only for tests and a local Slack fake."""
    rate_limits: dict[str, RateSpec] = {}
    """Budgets of Web API methods, by method (`users.info: {per_minute: 100}`), replacing the
    published tiers the bot paces itself by; `chat.postMessage:channel` is the per-channel
    budget of `chat.postMessage` (default 60 a minute, bursts of 3), `chat.postMessage` its
    workspace-wide one (unpublished by Slack; default 300 a minute, bursts of 60)."""
    rate_limit_factor: float = Field(default=1.0, gt=0)
    """Every Web API budget multiplied by this (a workspace Slack allows more, or a test)."""
    retry_deadline: timedelta = timedelta(minutes=5)
    """How long a call answered 429 is sent again (after each `Retry-After`) before it fails."""
    directory_refresh: timedelta = timedelta(hours=6)
    """How often the stored Slack profiles are re-read in bulk with `users.list` (Tier 2),
    once across replicas; also at start-up when the last reading is older. `0s`: only at
    start-up when none was ever made. Between readings `user_change` and `team_join` events
    keep them current."""
    directory_page_size: int = Field(default=200, ge=1, le=1000)
    """People per `users.list` page (Slack recommends at most 200)."""

    @field_validator("retry_deadline", "directory_refresh", mode="before")
    @classmethod
    def _slack_durations(cls, v: Any) -> timedelta:
        return parse_duration(v)

    @field_validator("rate_limits")
    @classmethod
    def _methods(cls, v: dict[str, RateSpec]) -> dict[str, RateSpec]:
        for method in v:
            if not re.fullmatch(r"[a-z]+(\.[a-zA-Z]+)+(:channel)?", method):
                raise ValueError(
                    f"{method!r} is not a Web API method (`chat.postMessage`, "
                    "`chat.postMessage:channel`)"
                )
        return v

    inbox: InboxSettings = InboxSettings()
    """The durable inbox of acknowledged requests."""
    outbox: OutboxSettings = OutboxSettings()
    """The durable outbox of messages that carry an outcome (see Operate: when Slack is down)."""
