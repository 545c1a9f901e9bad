"""OneLogin's values: user status and state codes, ids, timestamps, temporary passwords."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from connectors.base import UserStatus

# OneLogin user ``status`` values (https://developers.onelogin.com/api-docs/1/users/update-user).
STATUS_UNACTIVATED = 0
STATUS_ACTIVE = 1
STATUS_SUSPENDED = 2
STATUS_LOCKED = 3
STATUS_PASSWORD_EXPIRED = 4
STATUS_AWAITING_PASSWORD_RESET = 5
STATUS_PASSWORD_PENDING = 7
STATUS_SECURITY_QUESTIONS_REQUIRED = 8
# OneLogin user ``state`` values (https://developers.onelogin.com/api-docs/1/users/set-state).
STATE_UNAPPROVED = 0
STATE_APPROVED = 1
STATE_REJECTED = 2
STATE_UNLICENSED = 3

STATUS_MAP: dict[int, UserStatus] = {
    STATUS_UNACTIVATED: UserStatus.STAGED,
    STATUS_ACTIVE: UserStatus.ACTIVE,
    STATUS_SUSPENDED: UserStatus.SUSPENDED,
    STATUS_LOCKED: UserStatus.LOCKED_OUT,
    STATUS_PASSWORD_EXPIRED: UserStatus.PASSWORD_EXPIRED,
    STATUS_AWAITING_PASSWORD_RESET: UserStatus.PASSWORD_EXPIRED,
    STATUS_PASSWORD_PENDING: UserStatus.STAGED,
    STATUS_SECURITY_QUESTIONS_REQUIRED: UserStatus.ACTIVE,
}
STATE_MAP: dict[int, UserStatus] = {
    STATE_UNAPPROVED: UserStatus.STAGED,
    STATE_REJECTED: UserStatus.DEPROVISIONED,
    STATE_UNLICENSED: UserStatus.SUSPENDED,
}
# Accounts nobody signs in to: no resets, no expiry reminders.
CLOSED_STATES = frozenset({UserStatus.SUSPENDED, UserStatus.DEPROVISIONED, UserStatus.STAGED})

# Characters OneLogin's filters give no special meaning to; "*" (wildcard), "!"
# (negation), "," and anything needing quotes are refused rather than escaped,
# because OneLogin documents no escape.
EMAIL = re.compile(
    r"^[A-Za-z0-9.#$%&'+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
NUMERIC_ID = re.compile(r"^[0-9]{1,19}$")

# Temporary passwords: OneLogin's accepted specials
# (https://developers.onelogin.com/api-docs/1/users/set-password-in-cleartext), minus
# those Slack formatting would eat ("*", "_", "&", ":", ...).
_LOWER = "abcdefghijkmnopqrstuvwxyz"
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "23456789"
_SPECIALS = "!#%+=-.@$"


def generate_temp_password(length: int) -> str:
    """A random password with lower, upper, digit and special characters."""
    if length < 4:
        raise ValueError("a temporary password needs at least 4 characters")
    rng = secrets.SystemRandom()
    every = _LOWER + _UPPER + _DIGITS + _SPECIALS
    chars = [rng.choice(_LOWER), rng.choice(_UPPER), rng.choice(_DIGITS), rng.choice(_SPECIALS)]
    chars += [rng.choice(every) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


def as_int(value: object) -> int | None:
    """An id or code as OneLogin sends it (a number, or digits in a string); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and NUMERIC_ID.fullmatch(value.strip()):
        return int(value)
    return None


def as_datetime(value: object) -> datetime | None:
    """A OneLogin timestamp (ISO 8601, ``Z`` for UTC) as an aware datetime; None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
