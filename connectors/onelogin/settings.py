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

    model_config = ConfigDict(extra="forbid", frozen=True)

    subdomain: str | None = Field(
        default=None,
        description=(
            "The account's subdomain (acme for https://acme.onelogin.com); or region, or "
            "base_url."
        ),
    )
    region: Literal["us", "eu"] | None = Field(
        default=None,
        description="The API region (`us` or `eu`); or subdomain, or base_url.",
    )
    base_url: str | None = Field(
        default=None,
        description=(
            "The API root, https (plain http only for a local test server); or subdomain,"
            " or region."
        ),
    )
    client_id: str = Field(
        min_length=1,
        description="The API credential's client id.",
    )
    client_secret: SecretRef = Field(
        description="The API credential's client secret.",
    )
    connect_timeout: float = Field(
        default=5.0, gt=0,
        description="Seconds allowed to open a connection.",
    )
    read_timeout: float = Field(
        default=20.0, gt=0,
        description="Seconds allowed for a response.",
    )
    max_attempts: int = Field(
        default=4, ge=1, le=10,
        description="Attempts per call (rate-limited and transient failures are retried).",
    )
    max_retry_wait: float = Field(
        default=60.0, ge=0,
        description="Seconds one call may spend waiting between attempts.",
    )
    verify_ca_file: Path | None = Field(
        default=None,
        description="A PEM bundle to trust instead of the system CAs.",
    )
    temp_password_length: int = Field(
        default=16, ge=10, le=64,
        description="Length of temporary passwords (OneLogin offers temporary passwords only).",
    )
    require_password_change: bool = Field(
        default=True,
        description="The employee must change the temporary password at the next sign-in.",
    )
    validate_password_policy: bool = Field(
        default=True,
        description="Check temporary passwords against the user's password policy.",
    )
    protected_roles: list[str] = Field(
        default=[],
        description="Role names whose holders the bot must not touch.",
    )
    check_admin_privileges: bool = Field(
        default=True,
        description="Refuse users who hold OneLogin admin privileges.",
    )
    default_policy_id: int | None = Field(
        default=None,
        description="The password policy of users with none assigned (for expiry).",
    )
    policy_by_group: dict[int, int] = Field(
        default={},
        description="Password policy id by OneLogin group id, for expiry.",
    )
    max_password_age_days: int | None = Field(
        default=90, ge=0,
        description="Password lifetime when no policy says (null: passwords never expire).",
    )
    page_size: int = Field(
        default=100, ge=1, le=100,
        description="Users per page when listing.",
    )
    cache_ttl_seconds: float = Field(
        default=300.0, ge=0,
        description="How long roles, groups and policies read from OneLogin are reused.",
    )

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

    temp_password_length: int = Field(
        default=16,
        description="Length of temporary passwords (OneLogin offers temporary passwords only).",
    )
    require_password_change: bool = Field(
        default=True,
        description="The employee must change the temporary password at the next sign-in.",
    )
    validate_password_policy: bool = Field(
        default=True,
        description="Check temporary passwords against the user's password policy.",
    )
    protected_roles: tuple[str, ...] = Field(
        default=(),
        description="Role names whose holders the bot must not touch.",
    )
    check_admin_privileges: bool = Field(
        default=True,
        description="Refuse users who hold OneLogin admin privileges.",
    )
    default_policy_id: int | None = Field(
        default=None,
        description="The password policy of users with none assigned (for expiry).",
    )
    policy_by_group: Mapping[int, int] = Field(
        default=field(default_factory=dict),
        description="Password policy id by OneLogin group id, for expiry.",
    )
    max_password_age: timedelta | None = timedelta(days=90)
    page_size: int = Field(
        default=100,
        description="Users per page when listing.",
    )
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
