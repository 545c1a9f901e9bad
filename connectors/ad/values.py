"""Active Directory value encodings: FILETIME, intervals, account flags, GUIDs, SIDs, entries.

Pure functions with no I/O, so the quirks of AD's wire formats are tested
without a domain controller. Everything here is decoded from the raw bytes
the server sent (the connection never loads the schema), so the result does
not depend on ldap3's formatters.
"""

from __future__ import annotations

import enum
import re
import secrets
import struct
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connectors.ad.ldap3 import escape_bytes, escape_filter_chars

# FILETIME: 100-nanosecond ticks since 1601-01-01 UTC.
# https://learn.microsoft.com/en-us/windows/win32/adschema/a-pwdlastset
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
TICKS_PER_SECOND = 10_000_000
# "No expiry" in msDS-UserPasswordExpiryTimeComputed and accountExpires.
# https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/f9e9b7e2-c7ac-4db6-ba38-71d9696981e9
FILETIME_NEVER = 0x7FFFFFFFFFFFFFFF
# Durations (maxPwdAge, lockoutDuration) are stored negated; this value means "forever".
INTERVAL_NEVER = -0x8000000000000000

# Matching rules: bitwise AND on flags, and transitive (nested) group membership.
# https://learn.microsoft.com/en-us/windows/win32/adsi/search-filter-syntax
MATCH_BIT_AND = "1.2.840.113556.1.4.803"
MATCH_IN_CHAIN = "1.2.840.113556.1.4.1941"

PERSON_FILTER = "(objectCategory=person)(objectClass=user)"
GROUP_FILTER = "(objectCategory=group)"


class UAC(enum.IntFlag):
    """userAccountControl / msDS-User-Account-Control-Computed bits the connector reads.

    https://learn.microsoft.com/en-us/windows/win32/api/iads/ne-iads-ads_user_flag_enum
    """

    ACCOUNTDISABLE = 0x0002
    LOCKOUT = 0x0010  # only meaningful in the computed attribute
    NORMAL_ACCOUNT = 0x0200
    DONT_EXPIRE_PASSWORD = 0x10000
    SMARTCARD_REQUIRED = 0x40000
    PASSWORD_EXPIRED = 0x800000  # only meaningful in the computed attribute


# pwdProperties bit: https://learn.microsoft.com/en-us/windows/win32/adschema/a-pwdproperties
DOMAIN_PASSWORD_COMPLEX = 0x1


def filetime_to_datetime(ticks: int) -> datetime | None:
    """Decode a FILETIME; ``None`` for 0 and for the "never" sentinel."""
    if ticks <= 0 or ticks >= FILETIME_NEVER:
        return None
    seconds, rest = divmod(ticks, TICKS_PER_SECOND)
    return FILETIME_EPOCH + timedelta(seconds=seconds, microseconds=rest // 10)


def datetime_to_filetime(moment: datetime) -> int:
    """Encode an aware datetime as a FILETIME (clamped at the 1601 epoch)."""
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    delta = moment - FILETIME_EPOCH
    ticks = (delta.days * 86_400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * 10
    return max(ticks, 0)


def interval_to_timedelta(value: int) -> timedelta | None:
    """Decode a negated AD interval such as ``maxPwdAge``; ``None`` for the "forever" value."""
    if value == INTERVAL_NEVER:
        return None
    return timedelta(microseconds=abs(value) // 10)


def guid_to_str(raw: bytes) -> str:
    """objectGUID bytes to the string form AD tools show (first three fields little-endian)."""
    return str(uuid.UUID(bytes_le=raw))


def guid_filter_value(guid: str) -> str | None:
    """The escaped filter value for ``(objectGUID=...)``; ``None`` when ``guid`` is not a GUID."""
    try:
        parsed = uuid.UUID(guid.strip())
    except (ValueError, AttributeError):
        return None
    return str(escape_bytes(parsed.bytes_le))


def sid_to_str(raw: bytes) -> str:
    """Binary SID to ``S-1-5-21-...``."""
    if len(raw) < 8:
        raise ValueError("SID too short")
    revision, count = raw[0], raw[1]
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack(f"<{count}I", raw[8 : 8 + 4 * count])
    return "S-" + "-".join(str(x) for x in (revision, authority, *subs))


# Built-in groups whose members administer the domain, by SID: their names are
# localised on non-English domains, their SIDs are not (MS-DTYP 2.4.2.4).
PRIVILEGED_DOMAIN_RIDS = {
    512: "Domain Admins",
    518: "Schema Admins",
    519: "Enterprise Admins",
    520: "Group Policy Creator Owners",
    526: "Key Admins",
    527: "Enterprise Key Admins",
}
PRIVILEGED_BUILTIN = {
    "S-1-5-32-544": "Administrators",
    "S-1-5-32-548": "Account Operators",
    "S-1-5-32-549": "Server Operators",
    "S-1-5-32-550": "Print Operators",
    "S-1-5-32-551": "Backup Operators",
}


def is_privileged_sid(sid: str) -> bool:
    """Whether a group SID (``S-1-5-...``) is one of the built-in privileged groups."""
    if sid in PRIVILEGED_BUILTIN:
        return True
    domain, _, rid = sid.rpartition("-")
    return domain.startswith("S-1-5-21-") and rid.isdigit() and int(rid) in PRIVILEGED_DOMAIN_RIDS


def split_sid(raw: bytes) -> tuple[str, int]:
    """Binary SID to (domain part, RID)."""
    text = sid_to_str(raw)
    domain, _, rid = text.rpartition("-")
    return domain, int(rid)


def escape(value: str) -> str:
    """Escape a value for an LDAP filter (RFC 4515): ``*``, ``(``, ``)``, ``\\`` and NUL."""
    return str(escape_filter_chars(value))


def looks_like_dn(value: str) -> bool:
    """Whether a configured group reference is a DN rather than a name."""
    return "=" in value and "," in value


@dataclass(frozen=True, slots=True)
class Entry:
    """One search result: its DN and raw attribute values keyed by lower-cased name."""

    dn: str
    raw: Mapping[str, Sequence[bytes]] = field(default_factory=dict)

    @classmethod
    def from_response(cls, item: Mapping[str, object]) -> Entry:
        raw = item.get("raw_attributes") or {}
        assert isinstance(raw, Mapping)
        values = {str(k).lower(): [bytes(v) for v in vs] for k, vs in raw.items() if vs}
        return cls(dn=str(item.get("dn") or ""), raw=values)

    def first(self, name: str) -> bytes | None:
        values = self.raw.get(name.lower())
        return values[0] if values else None

    def text(self, name: str, default: str = "") -> str:
        value = self.first(name)
        return value.decode("utf-8", errors="replace") if value is not None else default

    def texts(self, name: str) -> list[str]:
        return [v.decode("utf-8", errors="replace") for v in self.raw.get(name.lower(), [])]

    def integer(self, name: str) -> int | None:
        value = self.first(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            return None

    def has(self, name: str) -> bool:
        return name.lower() in self.raw


# Typing-friendly alphabet: no characters that look alike (0/O, 1/l/I) and no quote or
# backslash, since a person reads the temporary password from chat and types it.
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_LOWER = "abcdefghijkmnopqrstuvwxyz"
_DIGITS = "23456789"
_SYMBOLS = "!#%+-=?@_"
_ALL = _UPPER + _LOWER + _DIGITS + _SYMBOLS
_NAME_SPLIT = re.compile(r"[,.\-_#\s\t]+")


def forbidden_tokens(sam_account_name: str, display_name: str) -> list[str]:
    """Name parts AD's complexity rule forbids inside a password (three characters or more).

    The account name, and each display-name token split on , . - _ # space and tab,
    compared case-insensitively: https://learn.microsoft.com/en-us/previous-versions/ms813420(v=msdn.10)
    """
    tokens = [sam_account_name] if len(sam_account_name) >= 3 else []
    tokens += [t for t in _NAME_SPLIT.split(display_name) if len(t) >= 3]
    return [t.lower() for t in tokens]


def generate_temp_password(length: int, forbidden: Iterable[str] = ()) -> str:
    """A random password of ``length`` with all four character classes and no forbidden token.

    All four classes (AD asks for three of four) so the password passes complexity
    whichever three a custom filter counts.
    """
    if length < 8:
        raise ValueError("temporary passwords are at least 8 characters")
    banned = [t.lower() for t in forbidden if len(t) >= 3]
    rng = secrets.SystemRandom()
    while True:
        chars = [rng.choice(cls) for cls in (_UPPER, _LOWER, _DIGITS, _SYMBOLS)]
        chars += [rng.choice(_ALL) for _ in range(length - len(chars))]
        rng.shuffle(chars)
        candidate = "".join(chars)
        lowered = candidate.lower()
        if not any(token in lowered for token in banned):
            return candidate


def character_classes(password: str) -> int:
    """How many of AD's four complexity categories a password uses."""
    checks = (str.isupper, str.islower, str.isdigit, lambda c: not c.isalnum())
    return sum(1 for check in checks if any(check(c) for c in password))
