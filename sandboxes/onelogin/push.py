"""OneLogin Protect pushes: the verifications behind ``/api/2/mfa/users/{id}/verifications``.

As OneLogin documents them (API v2, Multi-Factor Authentication):

* "Activate an Authentication Factor",
  https://developers.onelogin.com/api-docs/2/multi-factor-authentication/activate-factor:
  ``POST /api/2/mfa/users/{user_id}/verifications`` with ``device_id`` (required) and
  ``expires_in`` (seconds, default 120, at most 900) sends the push and answers 201 with
  the verification (``id``, ``device_id``, ``user_id``, the factor's names, ``expires_at``),
  shown on that page as a one-element array;
* "Verify an Authentication Factor" (poll),
  https://developers.onelogin.com/api-docs/2/multi-factor-authentication/verify-factor-poll:
  ``GET /api/2/mfa/users/{user_id}/verifications/{verification_id}`` answers ``status``
  ``pending`` (not completed), ``accepted`` or ``rejected`` (the user denied it), with
  ``id`` and ``device_id``, also as a one-element array; 404 for an unknown verification.
  Both need the *Manage All* scope. OneLogin Protect pushes have no number to match.

The pages say nothing of what a poll answers once ``expires_at`` has passed; this sandbox
keeps answering ``pending`` and the connector treats a pending push past its
``expires_at`` as timed out. The device side is :class:`ProtectPushes`'s ``answer``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_EXPIRES_IN = 120
MAX_EXPIRES_IN = 900


@dataclass
class Verification:
    id: str
    user_id: int
    device_id: str
    created: float
    expires_at: float
    status: str = "pending"


class ProtectPushes:
    """Every verification of the account, and the phone that answers them."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock  # the app's clock replaces it when the account is served
        self.verifications: dict[str, Verification] = {}

    def start(self, user_id: int, device_id: str, expires_in: int) -> Verification:
        now = self.clock()
        found = Verification(str(uuid.uuid4()), user_id, device_id, now, now + expires_in)
        self.verifications[found.id] = found
        return found

    def waiting(self, user_id: int) -> Verification | None:
        """The user's latest pending push, if any (what OneLogin Protect shows)."""
        for found in reversed(self.verifications.values()):
            if found.user_id == user_id and found.status == "pending":
                return found
        return None

    def answer(self, user_id: int, *, accept: bool) -> str:
        """Accept or deny the user's pending push on the phone; returns the status."""
        found = self.waiting(user_id)
        if found is None:
            raise LookupError(f"no push is waiting for user {user_id}")
        found.status = "accepted" if accept else "rejected"
        return found.status
