"""The ``slack.outbox`` block of ``helpdesk.yaml``: the durable outbox of outcome messages.

Every message that carries an outcome (a reset link, a result, a refusal, a card, a
decision, a nudge) is written to the store before it is sent, and sent again until Slack
accepts it or it expires (``bot.slack.outbox``). The secret parts of a stored message are
encrypted with ``key``: a secret reference like the others (``{env: NAME}`` or
``{file: /path}``), else the environment variable ``HELPDESK_OUTBOX_KEY``. Without either,
each process makes up its own key (fine for the demo and one SQLite process; with several
replicas or across a restart a stored secret can then not be read back, and its message
expires undelivered), and says so in its log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.secrets import Secret, SecretRef

#: The environment variable read when ``slack.outbox.key`` is not set.
KEY_ENV = "HELPDESK_OUTBOX_KEY"


class OutboxSettings(BaseModel):
    """How outcome messages are kept and sent again; see the module docstring."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    key: SecretRef | None = None
    """The key the secret parts of stored messages (reset links, temporary passwords) are
    encrypted with: any long random string (`openssl rand -base64 32`). Every replica needs the
    same. Unset: the environment variable `HELPDESK_OUTBOX_KEY`, else a key each process makes
    up (the demo; a warning is logged)."""
    ttl: timedelta = timedelta(hours=1)
    """How long a message without a secret is sent again before it is given up (audited);
    a message with a secret gives up when the secret is due to be hidden."""
    hide_ttl: timedelta = timedelta(days=1)
    """How long the edit hiding a secret is tried again before it is given up (audited and
    reported to the IT channel)."""
    lease: timedelta = timedelta(seconds=30)
    """How long a replica holds a message it sends: one that dies leaves its messages to the
    others after this long (who check what Slack already shows before sending again)."""
    concurrency: int = Field(default=8, ge=1, le=64)
    """Messages one replica's outbox worker sends at once."""

    @field_validator("ttl", "hide_ttl", "lease", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        from config.durations import parse_duration

        return parse_duration(value)


def outbox_key(settings: OutboxSettings, environ: Mapping[str, str]) -> Secret | None:
    """The configured key (``key``, else ``HELPDESK_OUTBOX_KEY``); None when neither is set.

    Raises ``config.secrets.MissingSecret`` when ``key`` names a source that cannot be read.
    """
    if settings.key is not None:
        return settings.key.resolve(environ)
    value = environ.get(KEY_ENV, "")
    return Secret(value) if value else None
