"""One stored outbox message: where it goes, what it says, what it is about, until when.

``op`` is what Slack is asked: ``post`` (``chat.postMessage``), ``update`` (replace a
message: its click's ``response_url`` first, else ``chat.update``) or ``hide`` (edit a
message showing a secret to its replacement, then mark it hidden). ``key`` is the message's
idempotency key: a post carries it in its Slack message metadata, so after a crash what
Slack already shows is found before sending again.

In the job's payload the content (``text``, ``blocks``, a ``response_url``) is sealed when
``secret`` is set (``sealing``) and dropped once the message is delivered or given up; the
rest (where, what kind, whose, until when) stays for the audit and the metrics.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from actions.turns import TURN
from bot.slack.outbox.sealing import Sealer
from config.secret_values import Secret

#: Slack message metadata ``event_type`` of outbox posts (api.slack.com/metadata/using).
EVENT_TYPE = "helpdesk_outbox"

POST, UPDATE, HIDE = "post", "update", "hide"

#: What a message carries, for the audit and the IT channel's report.
RESET = "reset"  # a reset link or a temporary password: a reset happened
CARD = "card"  # kind: an access request's approval card (``card`` names the request)


def new_key() -> str:
    """The next message's idempotency key: the request's and the message's place in it, or
    a random one outside a request."""
    turn = TURN.get()
    if turn is None:
        return secrets.token_hex(12)
    request_key, counter = turn
    seed = f"{request_key}#{next(counter)}".encode()
    return hashlib.sha256(seed).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message to send; see the module docstring."""

    op: str
    channel: str
    expires_at: datetime
    # The content never shows in a repr (a log line, a traceback): it may hold a secret.
    text: str = field(default="", repr=False)
    blocks: list[dict[str, Any]] | None = field(default=None, repr=False)
    key: str = field(default_factory=new_key)
    kind: str = "reply"
    ts: str | None = None
    thread_ts: str | None = None
    response_url: str | None = field(default=None, repr=False)
    secret: bool = False
    hide_at: datetime | None = None
    replacement: str = ""
    secret_id: int | None = None
    user: str | None = None
    email: str | None = None
    #: The access request whose approval card this post is: once Slack has it, where it
    #: lives is recorded with the request, to update it in place (``store.access``).
    card: str | None = None
    #: The secret values the text shows (sealed with it): known to the log redactor again
    #: in whichever process takes the message out of the store.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    # -- in the store ----------------------------------------------------------------------
    def payload(self, sealer: Sealer) -> dict[str, Any]:
        """The job payload: the content sealed when the message carries a secret."""
        out = self.meta()
        content: dict[str, Any] = {"text": self.text, "blocks": self.blocks}
        if self.response_url:
            content["response_url"] = self.response_url
        if self.secrets:
            content["secrets"] = list(self.secrets)
        if self.secret or self.secrets:
            out["sealed"] = sealer.seal(content)
        else:
            out["content"] = content
        return out

    def meta(self) -> dict[str, Any]:
        """Everything but the content: what is left once it is delivered or given up."""
        out: dict[str, Any] = {"op": self.op, "channel": self.channel, "key": self.key,
                               "kind": self.kind, "expires_at": self.expires_at.isoformat()}
        for name in ("ts", "thread_ts", "user", "email", "replacement", "secret_id", "card"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.secret or self.secrets:
            out["secret"] = True
        if self.hide_at is not None:
            out["hide_at"] = self.hide_at.isoformat()
        return out

    @classmethod
    def from_payload(cls, payload: dict[str, Any], sealer: Sealer) -> OutboxMessage:
        """The stored message; raises ``sealing.Unreadable`` when its content is not (the
        message is then built without it, by :meth:`shell`)."""
        message = cls.shell(payload)
        if "sealed" in payload:
            content = sealer.open(str(payload["sealed"]))
            for value in content.get("secrets") or ():
                Secret(str(value))  # remembered by the log redactor (config.logging)
        else:
            content = dict(payload.get("content") or {})
        return replace(
            message, text=str(content.get("text") or ""), blocks=content.get("blocks"),
            response_url=content.get("response_url"),
            secrets=tuple(str(v) for v in content.get("secrets") or ()),
        )

    @classmethod
    def shell(cls, payload: dict[str, Any]) -> OutboxMessage:
        """The stored message without its content (for the audit of one given up)."""
        hide_at = payload.get("hide_at")
        secret_id = payload.get("secret_id")
        return cls(
            op=str(payload["op"]), channel=str(payload["channel"]), key=str(payload["key"]),
            kind=str(payload.get("kind") or "reply"),
            expires_at=datetime.fromisoformat(str(payload["expires_at"])),
            ts=payload.get("ts"), thread_ts=payload.get("thread_ts"),
            secret=bool(payload.get("secret")),
            hide_at=datetime.fromisoformat(str(hide_at)) if hide_at else None,
            replacement=str(payload.get("replacement") or ""),
            secret_id=int(secret_id) if secret_id is not None else None,
            user=payload.get("user"), email=payload.get("email"), card=payload.get("card"),
        )

    def metadata(self) -> dict[str, Any]:
        """The Slack message metadata that marks the post as this message."""
        return {"event_type": EVENT_TYPE, "event_payload": {"key": self.key}}
