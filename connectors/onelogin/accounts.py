"""OneLogin user records as directory users: numeric ids, statuses and the lock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.clock import Now
from connectors.base import PASSWORD_CHANGED, DirectoryUser, UserStatus
from connectors.errors import UserNotFound
from connectors.onelogin.values import (
    NUMERIC_ID,
    STATE_MAP,
    STATUS_LOCKED,
    STATUS_MAP,
    as_datetime,
    as_int,
)


def numeric_user_id(provider: str, user_id: str) -> int:
    """OneLogin's id for ``user_id``; anything but digits is no OneLogin user."""
    if not NUMERIC_ID.fullmatch(user_id):
        raise UserNotFound(provider, "OneLogin user ids are numeric")
    return int(user_id)


def user_from(
    provider: str, raw: Mapping[str, Any], now: Now
) -> DirectoryUser:
    """The directory user for one ``/api/2/users`` record."""
    email = str(raw.get("email") or "")
    username = str(raw.get("username") or "")
    full_name = " ".join(
        str(raw.get(k) or "").strip() for k in ("firstname", "lastname")
    ).strip()
    attributes = {
        key: str(raw[key])
        for key in ("status", "state", "group_id", "locked_until", "password_changed_at")
        if raw.get(key) is not None
    }
    if "password_changed_at" in attributes:
        attributes[PASSWORD_CHANGED] = attributes["password_changed_at"]
    return DirectoryUser(
        provider=provider,
        id=str(raw.get("id")),
        email=email,
        login=username or email,
        display_name=full_name or username or email,
        status=status_of(raw, now),
        attributes=attributes,
    )


def status_of(raw: Mapping[str, Any], now: Now) -> UserStatus:
    """The record's state, else its lock, else its status code."""
    state = as_int(raw.get("state"))
    if state is not None and state in STATE_MAP:
        return STATE_MAP[state]
    if is_locked(raw, now):
        return UserStatus.LOCKED_OUT
    status = as_int(raw.get("status"))
    if status is None:
        return UserStatus.OTHER
    return STATUS_MAP.get(status, UserStatus.OTHER)


def is_locked(raw: Mapping[str, Any], now: Now) -> bool:
    """Status 3 (locked), or a ``locked_until`` still in the future."""
    if as_int(raw.get("status")) == STATUS_LOCKED:
        return True
    until = as_datetime(raw.get("locked_until"))
    return until is not None and until > now()
