"""Okta Verify pushes: start one through the Factors API and read its transaction.

``POST /api/v1/users/{userId}/factors/{factorId}/verify`` answers 201 ``WAITING``
with the poll link of the transaction and, for a number-matching push, the number
to show (``_embedded.challenge.correctAnswer``). Raw requests, because the SDK's
``verify_factor`` reads the answer into a model without either.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from config.logging import get_logger
from connectors.base import DirectoryUser, MfaFactor, PushChallenge, PushState
from connectors.errors import ConnectorError
from connectors.okta.api import OktaApi
from connectors.okta.errors import Subject

log = get_logger("connectors.okta")

# factorResult of a push transaction, as the bot reads it.
_PUSH_STATES = {
    "WAITING": PushState.WAITING,
    "SUCCESS": PushState.APPROVED,
    "REJECTED": PushState.REJECTED,
    "TIMEOUT": PushState.TIMED_OUT,
}


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


async def start_push(
    name: str, api: OktaApi, user: DirectoryUser, factor: MfaFactor, *, number_matching: bool
) -> PushChallenge:
    """Send the push; the challenge carries the poll link (on the org) and the number."""
    path = f"/api/v1/users/{quote(user.id, safe='')}/factors/{quote(factor.id, safe='')}/verify"
    body = {"useNumberMatchingChallenge": True} if number_matching else None
    data, _ = await api.request("POST", api.url(path), Subject.USER, body=body)
    if not isinstance(data, dict) or data.get("factorResult") != "WAITING":
        raise ConnectorError(name, "Okta did not start the push")
    poll = ((data.get("_links") or {}).get("poll") or {}).get("href")
    if not isinstance(poll, str) or not poll.startswith(api.org_url + "/"):
        raise ConnectorError(name, "Okta's push poll link is missing or off the org")
    challenge = (data.get("_embedded") or {}).get("challenge") or {}
    number = challenge.get("correctAnswer")
    if number_matching and not isinstance(number, int):
        raise ConnectorError(name, "Okta sent no number for a number-matching push")
    expires = data.get("expiresAt")
    log.info("okta push sent", connector=name, user_id=user.id, factor_id=factor.id)
    return PushChallenge(
        provider=name,
        user_id=user.id,
        factor=factor,
        transaction=poll,
        number=number if isinstance(number, int) else None,
        expires_at=_parse_time(expires) if isinstance(expires, str) else None,
    )


async def push_state(name: str, api: OktaApi, challenge: PushChallenge) -> PushState:
    """``GET`` the poll link: ``WAITING``, ``SUCCESS``, ``REJECTED`` or ``TIMEOUT``."""
    if not challenge.transaction.startswith(api.org_url + "/"):
        raise ConnectorError(name, "the push poll link is off the org")
    data, _ = await api.request("GET", challenge.transaction, Subject.OTHER)
    result = data.get("factorResult") if isinstance(data, dict) else None
    state = _PUSH_STATES.get(str(result))
    if state is None:
        raise ConnectorError(name, f"Okta answered an unknown push result {result!r}")
    return state
