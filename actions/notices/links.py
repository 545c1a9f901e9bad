"""The "This wasn't me" link: a signed, expiring claim about one change to one account.

A token is ``base64url(claim JSON) "." base64url(HMAC-SHA256(key, claim part))``. The
claim names the change (its event id, used once: the store's one-time claim), the
Slack user who asked, the account (connector name and the directory's stable id)
and when the link stops working. Anyone can read a claim; nobody without the key
can make or alter one, so the page never acts on anything but what the bot signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

#: Longer tokens are refused before any work (the claim is small).
MAX_TOKEN = 1024
_LABEL = b"helpdesk change-notice links v1"


class BadLink(Exception):
    """A token that is malformed, forged (its signature is wrong) or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ChangeClaim:
    """What a link reports: one change (``event``) to one account, by whom, until when."""

    event: str
    slack_user: str
    provider: str
    user_id: str
    capability: str
    expires: int
    """Unix seconds after which the link no longer works."""

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)


def derive_key(secret: str) -> bytes:
    """A link key from another secret (the Slack signing secret): never that secret itself."""
    return hmac.new(secret.encode("utf-8"), _LABEL, hashlib.sha256).digest()


def new_event_id() -> str:
    return secrets.token_urlsafe(12)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Signs and checks claims with one key (every replica holds the same)."""

    def __init__(
        self, key: bytes, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        if len(key) < 16:
            raise ValueError("a link key needs at least 16 bytes")
        self._key = key
        self.clock = clock

    def _mac(self, part: str) -> str:
        return _b64(hmac.new(self._key, part.encode("ascii"), hashlib.sha256).digest())

    def sign(self, claim: ChangeClaim) -> str:
        body = json.dumps(asdict(claim), separators=(",", ":"), sort_keys=True)
        part = _b64(body.encode("utf-8"))
        return f"{part}.{self._mac(part)}"

    def claim(
        self, *, slack_user: str, provider: str, user_id: str, capability: str, ttl: timedelta
    ) -> ChangeClaim:
        expires = int((self.clock() + ttl).timestamp())
        return ChangeClaim(new_event_id(), slack_user, provider, user_id, capability, expires)

    def verify(self, token: str) -> ChangeClaim:
        """The claim of a token this key signed and that has not expired; ``BadLink`` if not."""
        if not token or len(token) > MAX_TOKEN or token.count(".") != 1 or not token.isascii():
            raise BadLink("malformed")
        part, mac = token.split(".")
        if not hmac.compare_digest(self._mac(part), mac):
            raise BadLink("forged")
        try:
            data = json.loads(_unb64(part))
            claim = ChangeClaim(**{k: data[k] for k in ChangeClaim.__dataclass_fields__})
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise BadLink("malformed") from None
        if not isinstance(claim.expires, int) or claim.expires <= self.clock().timestamp():
            raise BadLink("expired")
        return claim


__all__ = ["MAX_TOKEN", "BadLink", "ChangeClaim", "LinkSigner", "derive_key", "new_event_id"]
