"""The objects of an Okta org: users, groups, factors, role assignments, policies, credentials.

Plain data; :class:`~sandboxes.okta.state.OktaState` keeps them consistent.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class UserStatus(enum.StrEnum):
    """A user's lifecycle status (the ``UserStatus`` enum of the management spec)."""

    STAGED = "STAGED"
    PROVISIONED = "PROVISIONED"
    ACTIVE = "ACTIVE"
    RECOVERY = "RECOVERY"
    LOCKED_OUT = "LOCKED_OUT"
    PASSWORD_EXPIRED = "PASSWORD_EXPIRED"
    SUSPENDED = "SUSPENDED"
    DEPROVISIONED = "DEPROVISIONED"


@dataclass(slots=True)
class User:
    """A user; ``profile`` holds ``login``, ``email``, ``firstName``, ``lastName`` and more."""

    id: str
    status: UserStatus
    created: datetime
    last_updated: datetime
    profile: dict[str, Any]
    activated: datetime | None = None
    status_changed: datetime | None = None
    last_login: datetime | None = None
    password_changed: datetime | None = None
    has_password: bool = True
    recovery_question: str | None = None
    provider: str = "OKTA"
    #: Open sign-in sessions (a count: enough to show they were revoked).
    sessions: int = 1

    @property
    def login(self) -> str:
        return str(self.profile["login"])


@dataclass(slots=True)
class Group:
    """A group; only ``OKTA_GROUP`` memberships can be changed through the API."""

    id: str
    name: str
    description: str
    type: str
    created: datetime
    last_updated: datetime
    last_membership_updated: datetime


@dataclass(slots=True)
class Factor:
    """An enrolled MFA factor of one user."""

    id: str
    user_id: str
    factor_type: str
    provider: str
    vendor_name: str
    status: str
    created: datetime
    last_updated: datetime
    profile: dict[str, Any]


@dataclass(slots=True)
class RoleAssignment:
    """A standard admin role assigned to a user, a group or an OAuth client."""

    id: str
    role_type: str
    assignment_type: str  # USER, GROUP or CLIENT
    assignee_id: str
    created: datetime
    last_updated: datetime
    status: str = "ACTIVE"


@dataclass(slots=True)
class Policy:
    """A policy; for ``PASSWORD`` policies ``settings`` follows Okta's password settings."""

    id: str
    type: str
    name: str
    description: str
    priority: int
    status: str
    system: bool
    created: datetime
    last_updated: datetime
    include_group_ids: list[str]
    settings: dict[str, Any]

    @property
    def max_age_days(self) -> int:
        """Days a password stays valid under this policy; 0 means it never expires."""
        age = self.settings.get("password", {}).get("age", {})
        return int(age.get("maxAgeDays", 0))


@dataclass(slots=True)
class PolicyRule:
    """A rule of a policy."""

    id: str
    policy_id: str
    type: str
    name: str
    priority: int
    status: str
    system: bool
    created: datetime
    last_updated: datetime
    conditions: dict[str, Any]
    actions: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An SSWS API token; it acts with its owner's admin roles."""

    value: str
    owner_id: str
    name: str


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """An OAuth 2.0 service app: its public JWKs, grantable scopes and admin roles."""

    client_id: str
    jwks: tuple[Mapping[str, Any], ...]
    scopes: frozenset[str]
    roles: frozenset[str]
