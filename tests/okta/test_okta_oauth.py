"""OAuth 2.0 service-app authentication (private_key_jwt, scoped) against the sandbox.

The sandbox implements the org authorization server's client-credentials grant at
``/oauth2/v1/token``: it checks the signed client assertion against the app's public
JWKs and the requested scopes against those granted, and its access tokens are
limited by both the scopes and the app's admin roles.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.base import ResetDelivery
from connectors.errors import PermissionDenied
from connectors.okta.settings import DEFAULT_SCOPES
from sandboxes.okta import ManualClock
from tests.okta.conftest import BOT_ROLES, OktaRig, contract_state, okta_rig

CLIENT_ID = "0oahelpdeskbot000001"
KEY_ENV = "OKTA_TEST_PRIVATE_KEY"


def _key_pair(kid: str) -> tuple[str, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return pem, {**public, "kid": kid, "use": "sig", "alg": "RS256"}


def _oauth_connector(rig: OktaRig, pem: str, **overrides: Any) -> Any:
    return rig.connector(
        api_token=None,
        client_id=CLIENT_ID,
        private_key={"env": KEY_ENV},
        key_id="k1",
        environ={KEY_ENV: pem},
        **overrides,
    )


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, dict[str, Any]]:
    return _key_pair("k1")


async def test_service_app_gets_one_token_and_uses_it(key_pair: tuple[str, dict[str, Any]]) -> None:
    pem, public = key_pair
    state = contract_state()
    state.add_oauth_client(CLIENT_ID, jwks=[public], scopes=DEFAULT_SCOPES, roles=BOT_ROLES)
    async with okta_rig(state) as rig:
        connector = _oauth_connector(rig, pem)
        ada = await connector.find_user_by_email("ada@example.com")
        assert await connector.protections(ada, ["payroll-admins"]) == []
        grant = await connector.start_password_reset(ada, ResetDelivery.TEMP_PASSWORD)
        assert grant.must_change_at_next_login

        (token_call,) = rig.seen("/oauth2/v1/token", "POST")
        form = parse_qs(token_call.request.body.decode())
        assert form["grant_type"] == ["client_credentials"]
        assert form["client_assertion_type"] == [
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ]
        assert form["scope"][0].split() == list(DEFAULT_SCOPES)
        assertion = jwt.decode(form["client_assertion"][0], options={"verify_signature": False})
        assert assertion["iss"] == assertion["sub"] == CLIENT_ID
        assert jwt.get_unverified_header(form["client_assertion"][0])["kid"] == "k1"
        api_calls = rig.seen("/api/v1/*")
        assert api_calls and all(
            (e.request.header("authorization") or "").startswith("Bearer ") for e in api_calls
        )


async def test_missing_scope_is_permission_denied(key_pair: tuple[str, dict[str, Any]]) -> None:
    pem, public = key_pair
    state = contract_state()
    state.add_oauth_client(CLIENT_ID, jwks=[public], scopes=DEFAULT_SCOPES, roles=BOT_ROLES)
    async with okta_rig(state) as rig:
        connector = _oauth_connector(rig, pem, scopes=("okta.users.manage", "okta.groups.manage"))
        ada = await connector.find_user_by_email("ada@example.com")
        # Reading role assignments needs okta.roles.read; the check must not pass silently.
        with pytest.raises(PermissionDenied):
            await connector.protections(ada, [])


async def test_scope_not_granted_to_the_app_is_refused(
    key_pair: tuple[str, dict[str, Any]],
) -> None:
    pem, public = key_pair
    state = contract_state()
    state.add_oauth_client(CLIENT_ID, jwks=[public], scopes=["okta.users.read"], roles=BOT_ROLES)
    async with okta_rig(state) as rig:
        connector = _oauth_connector(rig, pem)
        with pytest.raises(PermissionDenied, match="scope") as info:
            await connector.find_user_by_email("ada@example.com")
        assert info.value.code == "invalid_scope"


async def test_wrong_private_key_is_refused(key_pair: tuple[str, dict[str, Any]]) -> None:
    _, public = key_pair
    other_pem, _ = _key_pair("k1")
    state = contract_state()
    state.add_oauth_client(CLIENT_ID, jwks=[public], scopes=DEFAULT_SCOPES, roles=BOT_ROLES)
    async with okta_rig(state) as rig:
        connector = _oauth_connector(rig, other_pem)
        with pytest.raises(PermissionDenied) as info:
            await connector.find_user_by_email("ada@example.com")
        assert info.value.code == "invalid_client"
        assert len(rig.seen("/api/v1/*")) == 0


async def test_expired_access_token_is_renewed_and_the_call_resent(
    key_pair: tuple[str, dict[str, Any]],
) -> None:
    pem, public = key_pair
    clock = ManualClock(1_700_000_000.0)
    state = contract_state()
    state.add_oauth_client(CLIENT_ID, jwks=[public], scopes=DEFAULT_SCOPES, roles=BOT_ROLES)
    async with okta_rig(state, clock=clock) as rig:
        connector = _oauth_connector(rig, pem)
        ada = await connector.find_user_by_email("ada@example.com")
        clock.advance(2 * 3600)  # the sandbox's token lived one hour; the SDK still holds it
        grant = await connector.start_password_reset(ada, ResetDelivery.LINK)
        assert grant.secret.reveal().startswith(rig.sandbox.url)
        answers = [(e.request.path, e.response.status) for e in rig.exchanges]
        refused = [path for path, status in answers if status == 401]
        assert refused, "the expired token was never used"
        # Each refused call was resent with the renewed token and then answered.
        assert all((path, 200) in answers[answers.index((path, 401)) :] for path in refused)
        assert answers.count(("/oauth2/v1/token", 200)) == 2
