"""The ``onelogin`` connector block: where the account is, the API credential, how it is used."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.secrets import SecretRef


class Settings(BaseModel):
    """One OneLogin account: where it is, the API credential and how the bot uses it.

    Give exactly one of ``subdomain`` (``acme`` -> ``https://acme.onelogin.com``),
    ``region`` (``us``/``eu`` -> ``https://api.us.onelogin.com``) or ``base_url``.
    ``base_url`` must be https unless it points at this machine (a local test server).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    subdomain: str | None = None
    """The account's subdomain: `acme` for `https://acme.onelogin.com`."""
    region: Literal["us", "eu"] | None = None
    """Or the API region: `us` or `eu`."""
    base_url: str | None = None
    """Or the API's base URL (https, unless a local test server)."""
    client_id: str = Field(min_length=1)
    """The API credential's client id (Manage Users)."""
    client_secret: SecretRef
    """The API credential's client secret."""
    connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds to open a connection."""
    read_timeout: float = Field(default=20.0, gt=0)
    """Seconds to wait for an answer."""
    max_attempts: int = Field(default=4, ge=1, le=10)
    """Attempts per call (429s and retryable failures)."""
    max_retry_wait: float = Field(default=60.0, ge=0)
    """Seconds one call may spend waiting between attempts."""
    verify_ca_file: Path | None = None
    """A PEM bundle to trust instead of the system's."""
    # Reset delivery: OneLogin offers temporary passwords only.
    temp_password_length: int = Field(default=16, ge=10, le=64)
    """Length of temporary passwords (OneLogin offers no reset links)."""
    require_password_change: bool = True
    """Temporary passwords must be changed at next sign-in."""
    validate_password_policy: bool = True
    """Check a temporary password against the user's policy before setting it."""
    # Privileged accounts.
    protected_roles: list[str] = []
    """Role names whose members are never changed from chat."""
    check_admin_privileges: bool = True
    """Refuse users holding OneLogin admin privileges."""
    # Password expiry.
    default_policy_id: int | None = None
    """The password policy of users without one (for expiry)."""
    policy_by_group: dict[int, int] = {}
    """Group id to password policy id, where policies follow groups."""
    max_password_age_days: int | None = Field(default=90, ge=0)
    """Password lifetime when the policy cannot be read (0: never expires)."""
    page_size: int = Field(default=100, ge=1, le=100)
    """Users per page when listing (OneLogin's maximum is 100)."""
    cache_ttl_seconds: float = Field(default=300.0, ge=0)
    """How long roles and policies are cached."""

    @field_validator("subdomain")
    @classmethod
    def _subdomain_shape(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", v):
            raise ValueError("a OneLogin subdomain is letters, digits and '-' (e.g. 'acme')")
        return v

    @field_validator("base_url")
    @classmethod
    def _base_url_shape(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("base_url must be an absolute https:// URL")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError("base_url must use https (plain http only for 127.0.0.1/localhost)")
        if parts.query or parts.fragment:
            raise ValueError("base_url must not have a query or fragment")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _one_location(self) -> Settings:
        given = [x for x in (self.subdomain, self.region, self.base_url) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'subdomain', 'region' or 'base_url'")
        return self

    def resolved_base_url(self) -> str:
        """The API root this configuration points at."""
        if self.base_url is not None:
            return self.base_url
        if self.subdomain is not None:
            return f"https://{self.subdomain}.onelogin.com"
        return f"https://api.{self.region}.onelogin.com"


@dataclass(frozen=True, slots=True)
class ConnectorOptions:
    """The behaviour knobs of :class:`OneLoginConnector`, separate from transport."""

    temp_password_length: int = 16
    require_password_change: bool = True
    validate_password_policy: bool = True
    protected_roles: tuple[str, ...] = ()
    check_admin_privileges: bool = True
    default_policy_id: int | None = None
    policy_by_group: Mapping[int, int] = field(default_factory=dict)
    max_password_age: timedelta | None = timedelta(days=90)
    page_size: int = 100
    cache_ttl: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectorOptions:
        days = settings.max_password_age_days
        return cls(
            temp_password_length=settings.temp_password_length,
            require_password_change=settings.require_password_change,
            validate_password_policy=settings.validate_password_policy,
            protected_roles=tuple(settings.protected_roles),
            check_admin_privileges=settings.check_admin_privileges,
            default_policy_id=settings.default_policy_id,
            policy_by_group=dict(settings.policy_by_group),
            max_password_age=timedelta(days=days) if days else None,
            page_size=settings.page_size,
            cache_ttl=settings.cache_ttl_seconds,
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
