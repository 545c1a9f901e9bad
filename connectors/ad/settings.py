"""The ``ad`` connector block: domain controllers, the delegated service account, its limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    field_validator,
    model_validator,
)

from config.durations import parse_duration
from config.secrets import SecretRef
from connectors.ad.ldap import Endpoint

DEFAULT_PROTECTED_GROUPS = [
    "Domain Admins",
    "Enterprise Admins",
    "Schema Admins",
    "Administrators",
    "Account Operators",
    "Backup Operators",
    "Server Operators",
    "Print Operators",
]


class Settings(BaseModel):
    """The ``ad`` connector block.

    - ``urls`` (or ``url``): domain controllers, tried in order; each is
      ``ldaps://host:636``, or ``ldap://host:389`` with ``start_tls: true``.
    - ``base_dn``: the domain (or subtree) searched; ``users_dn``/``groups_dn``
      narrow user and group lookups. Protected groups are resolved domain-wide.
    - ``bind_dn`` / ``bind_password``: the delegated service account (reset
      password, write pwdLastSet and lockoutTime on users, write member on groups).
    - ``ca_file``: PEM bundle for the DC certificates (system CAs without it);
      ``verify_tls`` stays on outside experiments; ``tls_server_name`` is the name
      the certificate must carry when it differs from the host dialled.
    - ``protected_groups``: DNs or names (sAMAccountName/cn) whose members,
      nested included, the connector refuses to reset or unlock. Names of the
      built-in groups are localised on non-English domains; list them as DNs there.
    - ``temp_password_length``: raised to the domain's minPwdLength when shorter.
    - ``page_size``: entries per page of the expiry sweep (AD's MaxPageSize is 1000).
    - ``shortest_max_password_age``: the shortest maximum password age of any
      fine-grained policy (PSO), for domains where the service account cannot read
      the Password Settings Container (by default only administrators can). The
      expiry sweep's server-side cutoff uses the shortest age it knows; without this,
      passwords under a shorter unreadable PSO are not fetched.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    urls: list[str] = Field(min_length=1, validation_alias=AliasChoices("urls", "url"))
    """Domain controllers, tried in order: `ldaps://host:636`, or `ldap://host:389` with
    `start_tls` (`url` for one)."""
    start_tls: bool = False
    """Upgrade `ldap://` connections with StartTLS."""
    base_dn: str
    """The domain (or subtree) searched."""
    users_dn: str | None = None
    """Narrows user lookups to this subtree."""
    groups_dn: str | None = None
    """Narrows group lookups to this subtree."""
    bind_dn: str
    """The delegated service account's DN."""
    bind_password: SecretRef
    """The service account's password."""
    ca_file: FilePath | None = None
    """A PEM bundle for the domain controllers' certificates (system CAs without it)."""
    verify_tls: bool = True
    """Verify the certificates (leave on outside experiments)."""
    tls_server_name: str | None = None
    """The name the certificate must carry when it differs from the host dialled."""
    pool_size: int = Field(4, ge=1, le=64)
    """LDAP connections kept open."""
    connect_timeout: float = Field(5.0, gt=0, le=120)
    """Seconds to open a connection."""
    operation_timeout: float = Field(15.0, gt=0, le=600)
    """Seconds one LDAP operation may take."""
    retry_attempts: int = Field(3, ge=1, le=10)
    """Attempts per operation on a connection failure (another controller is tried)."""
    idle_seconds: float = Field(300.0, gt=0)
    """An idle connection is closed after this many seconds."""
    protected_groups: list[str] = Field(default_factory=lambda: list(DEFAULT_PROTECTED_GROUPS))
    """DNs or names whose members (nested included) are never reset or unlocked; list built-in
    groups as DNs on non-English domains."""
    temp_password_length: int = Field(16, ge=8, le=128)
    """Length of temporary passwords (raised to the domain's minPwdLength)."""
    page_size: int = Field(1000, ge=1, le=100_000)
    """Entries per page of the expiry sweep (AD's MaxPageSize is 1000)."""
    policy_cache_seconds: float = Field(300.0, ge=0)
    """How long password policies are cached."""
    shortest_max_password_age: timedelta | None = None
    """The shortest maximum password age of any fine-grained policy, where the service account
    cannot read the Password Settings Container."""

    @field_validator("shortest_max_password_age", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @field_validator("urls", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("urls")
    @classmethod
    def _parse(cls, value: list[str]) -> list[str]:
        for url in value:
            Endpoint.parse(url)
        return value

    @model_validator(mode="after")
    def _encrypted(self) -> Settings:
        plain = [u for u in self.urls if not Endpoint.parse(u).use_ssl]
        if plain and not self.start_tls:
            raise ValueError(
                f"{plain[0]} would send the bind password in clear text "
                "(and AD refuses password writes without TLS): use ldaps:// or start_tls: true"
            )
        return self
