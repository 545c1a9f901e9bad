"""OneLogin Protect pushes, to verify an employee before a change (the ``PushVerifier`` role).

* Send: ``POST /api/2/mfa/users/{user_id}/verifications`` with the device's
  ``device_id`` and ``expires_in``
  (https://developers.onelogin.com/api-docs/2/multi-factor-authentication/activate-factor);
  201 with the verification's ``id`` and ``expires_at``. Never replayed: a second POST
  would send a second push.
* Poll: ``GET /api/2/mfa/users/{user_id}/verifications/{verification_id}``
  (https://developers.onelogin.com/api-docs/2/multi-factor-authentication/verify-factor-poll):
  ``pending``, ``accepted`` or ``rejected``. OneLogin does not document a timed-out
  status, so a push still pending after its ``expires_at`` is ``TIMED_OUT`` here.

The documentation shows both answers as one-element arrays; a bare object is read too.
Both calls need the *Manage All* scope. OneLogin Protect has no number matching.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from config.clock import Now
from connectors.base import MfaFactor, PushChallenge, PushState
from connectors.errors import ConnectorError
from connectors.onelogin.errors import Subject
from connectors.onelogin.http import OneLoginHttp

#: Device names of OneLogin Protect (``auth_factor_name`` is "OneLogin" on OneLogin's
#: side, its ``type_display_name`` "OneLogin Protect").
PROTECT_KINDS = frozenset({"onelogin protect", "onelogin"})
#: How long OneLogin keeps the push open (its default is 120 s; at most 900 s).
PUSH_EXPIRES_IN = 300

_STATES = {"pending": PushState.WAITING, "accepted": PushState.APPROVED,
           "rejected": PushState.REJECTED}


def protect_devices(factors: Sequence[MfaFactor]) -> list[MfaFactor]:
    return [f for f in factors if f.kind.lower() in PROTECT_KINDS and f.status == "active"]


def _one(provider: str, body: Any) -> dict[str, Any]:
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if not isinstance(body, dict):
        raise ConnectorError(provider, "OneLogin sent an unexpected verification answer")
    return body


class ProtectPush:
    """Sends and polls OneLogin Protect pushes for one connector."""

    def __init__(self, provider: str, http: OneLoginHttp, now: Now) -> None:
        self.provider = provider
        self.http = http
        self.now = now

    async def start(self, user_id: int, factor: MfaFactor) -> PushChallenge:
        device: int | str = int(factor.id) if factor.id.isdigit() else factor.id
        response = await self.http.request(
            "POST", f"/api/2/mfa/users/{user_id}/verifications", subject=Subject.MFA,
            json={"device_id": device, "expires_in": PUSH_EXPIRES_IN},
        )
        body = _one(self.provider, self.http.decode(response))
        verification = body.get("id")
        if not isinstance(verification, str) or not verification:
            raise ConnectorError(self.provider, "OneLogin sent no verification id")
        return PushChallenge(
            provider=self.provider,
            user_id=str(user_id),
            factor=factor,
            transaction=verification,
            number=None,
            expires_at=_when(body.get("expires_at"))
            or self.now() + timedelta(seconds=PUSH_EXPIRES_IN),
        )

    async def state(self, challenge: PushChallenge) -> PushState:
        body = _one(self.provider, await self.http.get_json(
            f"/api/2/mfa/users/{int(challenge.user_id)}/verifications/{challenge.transaction}",
            subject=Subject.MFA,
        ))
        state = _STATES.get(str(body.get("status")))
        if state is None:
            raise ConnectorError(self.provider, "OneLogin sent an unknown verification status")
        if state is PushState.WAITING and challenge.expires_at is not None and (
            self.now() >= challenge.expires_at
        ):
            return PushState.TIMED_OUT
        return state


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
