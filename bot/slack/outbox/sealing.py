"""The secret parts of a stored outbox message, encrypted at rest (Fernet: AES-128-CBC + HMAC).

The key comes from the configuration (``slack.outbox.key``, else ``HELPDESK_OUTBOX_KEY``:
``config.outbox``); any string will do, the Fernet key is derived from it with SHA-256, so
every replica given the same string reads the others' messages. Without one the process
makes up a key of its own and says so: what it stores can be read back only by itself.

``cryptography`` is imported on the first message with a secret, not with the bot.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import TYPE_CHECKING, Any

from config.logging import get_logger
from config.secret_values import Secret

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

log = get_logger("helpdesk.outbox")

_CONTEXT = b"helpdesk-outbox-v1\0"


class Unreadable(Exception):
    """A sealed part that this key cannot open (another key, or tampered with)."""


def derive(key: str) -> bytes:
    """The Fernet key for ``key`` (urlsafe base64 of SHA-256 over a context and the string)."""
    return base64.urlsafe_b64encode(hashlib.sha256(_CONTEXT + key.encode("utf-8")).digest())


class Sealer:
    """Seals and opens the secret parts of outbox messages with one key."""

    def __init__(self, key: Secret | None) -> None:
        self.generated = key is None
        if key is None:
            log.warning(
                "outbox_key_generated",
                detail="slack.outbox.key and HELPDESK_OUTBOX_KEY are unset: secrets waiting in "
                "the outbox are encrypted with a key of this process only; another replica, or "
                "this one after a restart, cannot send them (they expire, audited). Set the "
                "key for production.",
            )
            self._key = Secret(secrets.token_urlsafe(32))
        else:
            self._key = key
        self._fernet: Fernet | None = None

    def _cipher(self) -> Fernet:
        if self._fernet is None:
            from cryptography.fernet import Fernet

            self._fernet = Fernet(derive(self._key.reveal()))
        return self._fernet

    def seal(self, parts: dict[str, Any]) -> str:
        """``parts`` (JSON) encrypted, as text for the job's payload."""
        data = json.dumps(parts, separators=(",", ":")).encode("utf-8")
        return self._cipher().encrypt(data).decode("ascii")

    def open(self, token: str) -> dict[str, Any]:
        """The parts ``seal`` made; raises :class:`Unreadable` (naming no content)."""
        from cryptography.fernet import InvalidToken

        try:
            data = self._cipher().decrypt(token.encode("ascii"))
        except (InvalidToken, ValueError):
            raise Unreadable("the sealed part cannot be opened with this key") from None
        parts: dict[str, Any] = json.loads(data)
        return parts
