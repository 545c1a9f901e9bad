"""The records the fake keeps: messages and their revisions, DMs, views, triggers, calls.

Plain dataclasses plus two Block Kit readers (``blocks_text``, ``action_ids``); ``SlackState``
(in ``state``) owns and mutates them under its lock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

# Slack lets an app use one response_url five times within thirty minutes
# (api.slack.com/interactivity/handling#message_responses).
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60
# A trigger_id must be exchanged (views.open) within three seconds (api.slack.com/surfaces/modals).
TRIGGER_TTL = 3.0


def dm_id_for(team_id: str, user_id: str) -> str:
    """The id of the app's DM with ``user_id`` in ``team_id``: stable across runs."""
    digest = hashlib.sha256(f"{team_id}:{user_id}".encode()).hexdigest()
    return "D" + digest[:10].upper()


def action_ids(blocks: object) -> list[str]:
    """``action_id`` of every interactive element inside Block Kit JSON, in order."""
    ids: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("action_id"), str):
                ids.append(value["action_id"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(blocks)
    return ids


def blocks_text(node: object) -> str:
    """Every human-visible string inside Block Kit JSON, newline-joined (``text`` fields)."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(node)
    return "\n".join(found)


@dataclass
class Revision:
    """An earlier version of a message, kept when it was replaced."""

    text: str
    blocks: list[dict[str, Any]] | None
    replaced_at: float
    replaced_by: str


@dataclass
class Message:
    """A message in a conversation, as the fake stores it (current version + history)."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None
    user: str = ""
    bot_id: str | None = None
    thread_ts: str | None = None
    deleted: bool = False
    revisions: list[Revision] = field(default_factory=list)
    #: Message metadata (``event_type`` and ``event_payload``), as chat.postMessage took it.
    metadata: dict[str, Any] | None = None

    @property
    def visible_text(self) -> str:
        """The text plus every text inside the blocks: what a person would read."""
        inner = blocks_text(self.blocks or [])
        return f"{self.text}\n{inner}" if inner else self.text

    def action_ids(self) -> list[str]:
        """``action_id`` of every interactive element in the blocks."""
        return action_ids(self.blocks)


@dataclass
class Ephemeral:
    """A message only ``user`` sees (chat.postEphemeral or an ephemeral respond())."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    source: str = "chat.postEphemeral"
    deleted: bool = False
    revisions: list[Revision] = field(default_factory=list)

    @property
    def visible_text(self) -> str:
        """The text plus every text inside the blocks."""
        inner = blocks_text(self.blocks or [])
        return f"{self.text}\n{inner}" if inner else self.text

    def action_ids(self) -> list[str]:
        """``action_id`` of every interactive element in the blocks."""
        return action_ids(self.blocks)


@dataclass
class Dm:
    """The app's direct-message conversation with one user."""

    id: str
    user: str
    created: int


@dataclass
class View:
    """A modal or Home tab the app opened or published."""

    id: str
    user: str
    type: str
    definition: dict[str, Any]
    hash: str
    root_view_id: str
    external_id: str = ""
    closed: bool = False


@dataclass
class Trigger:
    """A trigger_id handed to the app in an interaction payload."""

    id: str
    user: str
    issued_at: float
    used: bool = False


@dataclass
class ResponseUrl:
    """A response_url handed to the app: where its reply lands and how often it was used."""

    id: str
    url: str
    channel: str
    user: str
    created_at: float
    message_ts: str | None = None
    ephemeral_source: bool = False
    uses: int = 0


@dataclass
class Fault:
    """An injected failure: the next ``count`` calls of ``method`` answer ``error``.

    ``status`` 429 answers with ``Retry-After: retry_after``; ``after_processing``: the call
    is carried out first and its answer is lost (Slack did act: the caller cannot tell).
    ``method`` ``response_url`` fails the next POSTs to a response_url. ``matching``: only
    calls whose parameters (as JSON) contain this text meet the fault.
    """

    method: str
    error: str = "internal_error"
    count: int = 1
    status: int = 200
    retry_after: int = 1
    after_processing: bool = False
    matching: str | None = None


@dataclass
class Call:
    """One request to the Web API: what came in and what went out."""

    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float
    http_method: str = "POST"
    token: str | None = None

    @property
    def ok(self) -> bool:
        """True when Slack would have said ``"ok": true``."""
        return self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        """Slack's error code, if any."""
        err = self.response.get("error")
        return err if isinstance(err, str) else None


@dataclass
class ResponsePost:
    """One POST to a response_url."""

    url_id: str
    body: dict[str, Any]
    status: int
    outcome: str
    at: float
