"""OAuth 2.0 for service apps: ``client_credentials`` with a ``private_key_jwt`` assertion.

A registered client (``OktaState.add_oauth_client``) posts to ``/oauth2/v1/token`` a
JWT signed with its private key whose ``iss`` and ``sub`` are its client id and whose
``aud`` is the token URL (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/).
The sandbox checks the signature against the client's public JWKs, the claims, and
that every requested scope was granted to the client, then returns a Bearer access
token carrying those scopes. Errors use OAuth's ``error``/``error_description`` body.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from sandboxes.okta.clock import Clock
from sandboxes.okta.state import OktaState

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME_SECONDS = 3600
_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]


class OAuthError(Exception):
    """An OAuth error response: HTTP status, ``error`` code and description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True, slots=True)
class Grant:
    """What an access token stands for."""

    client_id: str
    scopes: frozenset[str]
    expires_at: float


class AccessTokens:
    """Issued access tokens; they expire by the sandbox clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str, scopes: frozenset[str]) -> str:
        token = "eyS" + secrets.token_urlsafe(32)
        grant = Grant(client_id, scopes, self._clock() + TOKEN_LIFETIME_SECONDS)
        with self._lock:
            self._grants[token] = grant
        return token

    def lookup(self, token: str) -> Grant | None:
        """Return the grant of a live token, or None."""
        with self._lock:
            grant = self._grants.get(token)
        if grant is None or grant.expires_at <= self._clock():
            return None
        return grant


def issue_token(
    state: OktaState,
    tokens: AccessTokens,
    form: Mapping[str, str],
    token_url: str,
    clock: Clock,
) -> dict[str, Any]:
    """Check a client-credentials request and return the token response body.

    Raises :class:`OAuthError` for anything Okta would refuse.
    """
    if form.get("grant_type") != "client_credentials":
        raise OAuthError(400, "unsupported_grant_type", "The grant type is not supported.")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise OAuthError(401, "invalid_client", "A client_assertion is required.")
    claims = _verify_assertion(state, form.get("client_assertion", ""), token_url, clock)
    client = state.oauth_clients[claims["sub"]]
    requested = frozenset(form.get("scope", "").split())
    if not requested:
        raise OAuthError(400, "invalid_scope", "The authorization server requires a scope.")
    refused = requested - client.scopes
    if refused:
        raise OAuthError(
            400,
            "invalid_scope",
            f"The following scopes are not allowed: {' '.join(sorted(refused))}",
        )
    return {
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECONDS,
        "access_token": tokens.issue(client.client_id, requested),
        "scope": " ".join(sorted(requested)),
    }


def _verify_assertion(
    state: OktaState, assertion: str, token_url: str, clock: Clock
) -> dict[str, Any]:
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuthError(401, "invalid_client", "The client_assertion is not a JWT.") from None
    client_id = unverified.get("sub")
    client = state.oauth_clients.get(str(client_id))
    if client is None or unverified.get("iss") != client_id:
        raise OAuthError(401, "invalid_client", "The client_assertion token is invalid.")
    for jwk in client.jwks:
        try:
            key = jwt.PyJWK(dict(jwk)).key
            # Expiry is checked below against the sandbox clock, not the wall clock.
            claims: dict[str, Any] = jwt.decode(
                assertion,
                key=key,
                algorithms=_ALGORITHMS,
                audience=token_url,
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            continue
        if float(claims.get("exp", 0)) <= clock():
            raise OAuthError(401, "invalid_client", "The client_assertion token is expired.")
        return claims
    raise OAuthError(
        401, "invalid_client", "The client_assertion signature is invalid or its audience is wrong."
    )
