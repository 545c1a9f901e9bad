"""How Okta's answers read as the connector's values: users, statuses, factors, search literals.

Users are read from Okta's JSON (list pages are decoded raw, see
``OktaConnector.iter_user_pages``); groups and factors from the SDK's models,
whose enum fields are sometimes members and sometimes plain strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import (
    PASSWORD_CHANGED,
    SECONDARY_EMAIL,
    DirectoryUser,
    MfaFactor,
    UserStatus,
)

STATUS = {
    "ACTIVE": UserStatus.ACTIVE,
    "LOCKED_OUT": UserStatus.LOCKED_OUT,
    "PASSWORD_EXPIRED": UserStatus.PASSWORD_EXPIRED,
    "RECOVERY": UserStatus.RECOVERY,
    "SUSPENDED": UserStatus.SUSPENDED,
    "DEPROVISIONED": UserStatus.DEPROVISIONED,
    "STAGED": UserStatus.STAGED,
    "PROVISIONED": UserStatus.STAGED,
}
# Okta ids are base-62 (``00u...``); anything else would be resolved as a login.
OKTA_ID = re.compile(r"[0-9A-Za-z]{1,64}")
FACTOR_NAMES = {
    "push": "Okta Verify (push)",
    "signed_nonce": "Okta FastPass",
    "token:software:totp": "Authenticator app (TOTP)",
    "token:hotp": "Authenticator app (HOTP)",
    "token:hardware": "Hardware token",
    "token": "Token",
    "sms": "SMS",
    "call": "Voice call",
    "email": "Email",
    "question": "Security question",
    "web": "Web authenticator",
    "webauthn": "Security key or biometric",
    "u2f": "U2F security key",
}


def quote_search_value(value: str) -> str:
    """Quote a string literal for Okta's ``search``/``filter`` expressions.

    Inside double quotes, ``\\`` and ``"`` are the characters that can end or bend the
    literal (https://developer.okta.com/docs/api/#special-characters); both are
    backslash-escaped so any input stays one value.
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_time(value: Any) -> datetime | None:
    """An Okta timestamp (``2024-01-02T03:04:05.000Z``) as an aware datetime; None if unusable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def enum_value(value: Any) -> str:
    """The wire value of an SDK enum member (some SDK fields are plain strings)."""
    return str(getattr(value, "value", value) or "")


@dataclass(frozen=True, slots=True)
class OktaUser:
    """A user as read from Okta: the shared view plus what expiry needs."""

    user: DirectoryUser
    password_changed: datetime | None
    provider: str


def user_from_json(provider: str, data: Mapping[str, Any]) -> OktaUser:
    """Read an Okta ``User`` object; ``provider`` is the connector's name."""
    profile = data.get("profile") or {}
    login = str(profile.get("login") or "")
    email = str(profile.get("email") or login)
    first, last = profile.get("firstName") or "", profile.get("lastName") or ""
    display = str(profile.get("displayName") or f"{first} {last}".strip() or login)
    raw_status = str(data.get("status") or "")
    credential = str(((data.get("credentials") or {}).get("provider") or {}).get("type") or "")
    changed = parse_time(data.get("passwordChanged"))
    attributes = {"okta_status": raw_status, "credential_provider": credential}
    second = str(profile.get("secondEmail") or "").strip()
    if second:
        attributes[SECONDARY_EMAIL] = second
    if changed is not None:
        attributes[PASSWORD_CHANGED] = changed.isoformat()
    user = DirectoryUser(
        provider=provider,
        id=str(data.get("id") or ""),
        email=email,
        login=login,
        display_name=display,
        status=STATUS.get(raw_status, UserStatus.OTHER),
        attributes=attributes,
    )
    return OktaUser(user, changed, credential)


def factor_from_sdk(factor: Any) -> MfaFactor:
    """Read an SDK ``UserFactor``: its type, a name people know it by, its status."""
    kind = enum_value(getattr(factor, "factor_type", None))
    vendor = str(getattr(factor, "vendor_name", "") or getattr(factor, "provider", ""))
    name = FACTOR_NAMES.get(kind, kind)
    if kind == "token:software:totp" and vendor and vendor != "OKTA":
        name = f"{vendor.title()} authenticator (TOTP)"
    status = enum_value(getattr(factor, "status", None)).lower() or "active"
    return MfaFactor(str(factor.id), kind, name, status)


def group_name(group: Any) -> str:
    """The ``profile.name`` of an SDK ``Group`` (its profile is a one-of wrapper)."""
    profile = getattr(group, "profile", None)
    inner = getattr(profile, "actual_instance", profile)
    return str(getattr(inner, "name", "") or "")
