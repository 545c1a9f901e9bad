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

    model_config = ConfigDict(extra="forbid", frozen=True)

    org_url: str = Field(
        description="The Okta org's origin, e.g. https://acme.okta.com.",
    )
    api_token: SecretRef | None = Field(
        default=None,
        description="An API token (SSWS) of a service account; or use client_id + private_key.",
    )
    client_id: str | None = Field(
        default=None,
        description="OAuth service app: its client id (with private_key).",
    )
    private_key: SecretRef | None = Field(
        default=None,
        description="OAuth service app: its private key, PEM or JWK JSON (with client_id).",
    )
    key_id: str | None = Field(
        default=None,
        description="OAuth service app: the key's id (kid), when the app has several keys.",
    )
    scopes: tuple[str, ...] = Field(
        default=DEFAULT_SCOPES,
        description="OAuth service app: the okta.* scopes asked for.",
    )
    ca_file: Path | None = Field(
        default=None,
        description=(
            "A PEM bundle to trust instead of the system CAs (a TLS-inspecting proxy, a "
            "test server)."
        ),
    )
    request_timeout: Annotated[float, Field(gt=0)] = Field(
        default=30.0,
        description="Seconds one HTTP attempt may take.",
    )
    connect_timeout: Annotated[float, Field(gt=0)] = Field(
        default=10.0,
        description="Seconds allowed to open a connection.",
    )
    max_attempts: Annotated[int, Field(ge=1, le=10)] = Field(
        default=4,
        description="Attempts per call (rate-limited and transient failures are retried).",
    )
    max_retry_wait: Annotated[float, Field(ge=0)] = Field(
        default=75.0,
        description="Seconds one call may spend waiting between attempts.",
    )
    max_concurrency: Annotated[int, Field(ge=1, le=75)] = Field(
        default=20,
        description="Requests in flight (Okta allows 75 per org, 35 on Integrator Free orgs).",
    )
    page_size: Annotated[int, Field(ge=1, le=200)] = Field(
        default=200,
        description="Users per page when listing.",
    )
    policy_cache_seconds: Annotated[float, Field(ge=0)] = Field(
        default=300.0,
        description="How long password policies read from Okta are reused.",
    )
    reset_link_max_minutes: Annotated[int, Field(ge=1)] = Field(
        default=60,
        description=(
            "Upper bound on a reset link's announced lifetime (Identity Engine keeps them"
            " 60 minutes)."
        ),
    )
    revoke_sessions: bool = Field(
        default=True,
        description="End the user's other sessions when a password is reset.",
    )
    protected_groups: tuple[str, ...] = Field(
        default=(),
        description=(
            "Group names whose members the bot must not touch, on top of "
            "protected.groups."
        ),
    )

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
