"""The ``okta`` connector block of ``helpdesk.yaml``: where the org is and how to authenticate.

Authentication is an SSWS API token, or an OAuth 2.0 service app that signs a
``private_key_jwt`` client assertion with its private key and asks for scopes
(https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/).
Secrets are references (``{env: NAME}``, ``{file: PATH}``), never values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.secrets import SecretRef

DEFAULT_SCOPES = (
    "okta.users.manage",  # users, lifecycle operations, factors
    "okta.groups.manage",  # group lookups and membership changes
    "okta.policies.read",  # password policies, for expiry and reset-link lifetime
    "okta.roles.read",  # a user's admin role assignments (privilege checks)
)


class Settings(BaseModel):
    """The ``okta`` connector block of the config; secrets are references, never values.

    Authenticate with ``api_token``, or with an OAuth service app: ``client_id`` and
    ``private_key`` (PEM or JWK JSON), optionally ``key_id``, asking for ``scopes``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    org_url: str
    """The org's origin, `https://acme.okta.com`."""
    api_token: SecretRef | None = None
    """An SSWS API token of the service account (or use an OAuth service app below)."""
    client_id: str | None = None
    """The OAuth service app's client id (with `private_key`)."""
    private_key: SecretRef | None = None
    """The service app's private key (PEM or JWK JSON) signing its client assertion."""
    key_id: str | None = None
    """The key's `kid`, when the app has several keys."""
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    """OAuth scopes asked for (the service app must be granted them)."""
    ca_file: Path | None = None
    """A PEM bundle to trust instead of the system's (a proxy, a test server)."""
    request_timeout: Annotated[float, Field(gt=0)] = 30.0
    """Seconds for one HTTP attempt."""
    connect_timeout: Annotated[float, Field(gt=0)] = 10.0
    """Seconds to open a connection."""
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 4
    """Attempts per call (429s and retryable failures)."""
    max_retry_wait: Annotated[float, Field(ge=0)] = 75.0
    """Seconds one call may spend waiting between attempts (rate-limit resets included)."""
    max_concurrency: Annotated[int, Field(ge=1, le=75)] = 20
    """Requests in flight (Okta allows 75 per org, 35 on Integrator Free orgs)."""
    page_size: Annotated[int, Field(ge=1, le=200)] = 200
    """Users per page when listing (Okta's maximum is 200)."""
    policy_cache_seconds: Annotated[float, Field(ge=0)] = 300.0
    """How long password policies are cached."""
    reset_link_max_minutes: Annotated[int, Field(ge=1)] = 60
    """Upper bound on a reset link's announced lifetime (Identity Engine keeps them 60 min)."""
    revoke_sessions: bool = True
    """End the user's other sessions when a password is reset."""
    protected_groups: tuple[str, ...] = ()
    """Group names whose members the bot must not touch, on top of the caller's list."""

    @field_validator("org_url")
    @classmethod
    def _https_origin(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("org_url must be an https:// URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ValueError("org_url must be the org's origin, e.g. https://acme.okta.com")
        return f"https://{parts.netloc}"

    @model_validator(mode="after")
    def _one_auth_mode(self) -> Settings:
        oauth = self.client_id is not None or self.private_key is not None
        if (self.api_token is not None) == oauth:
            raise ValueError("configure either api_token or client_id + private_key")
        if oauth and (self.client_id is None or self.private_key is None):
            raise ValueError("an OAuth service app needs both client_id and private_key")
        if oauth and not self.scopes:
            raise ValueError("an OAuth service app needs at least one scope")
        return self
