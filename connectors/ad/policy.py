"""The domain's password and lockout policy, and what it means for one account.

Read once from the domain object (``maxPwdAge``, ``lockoutDuration``...) plus the
maximum ages of the fine-grained password policies (PSOs) the bind can read; the
connector caches it for ``policy_cache_seconds``. Interval attributes are negative
100-nanosecond counts, and both 0 and the "forever" value mean "no limit".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.ad.ldap import Conn, search
from connectors.ad.ldap3 import ldap3
from connectors.ad.values import (
    DOMAIN_PASSWORD_COMPLEX,
    INTERVAL_NEVER,
    UAC,
    Entry,
    filetime_to_datetime,
    interval_to_timedelta,
)
from connectors.base import PasswordStatus, UserStatus
from connectors.errors import ConnectorError


@dataclass(frozen=True, slots=True)
class DomainPolicy:
    """The domain object's password and lockout policy (plus the shortest PSO maximum age)."""

    domain_dn: str
    min_pwd_length: int
    complexity: bool
    max_pwd_age: timedelta | None  # None: passwords never expire
    lockout_duration: timedelta | None  # None: locked until someone unlocks
    lockout_threshold: int
    shortest_max_age: timedelta | None  # across the domain and readable PSOs


def _max_age(value: int | None) -> timedelta | None:
    # 0 and the "forever" interval both mean no maximum age.
    # https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/f9e9b7e2-c7ac-4db6-ba38-71d9696981e9
    if value is None or value == 0 or value == INTERVAL_NEVER:
        return None
    return interval_to_timedelta(value)


def _lockout_duration(value: int | None) -> timedelta | None:
    # A non-negative duration (0) or the "forever" value locks until an administrator unlocks.
    # https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/b80798ae-1f8c-4d30-9d80-a1f3281e96e2
    if value is None or value >= 0 or value == INTERVAL_NEVER:
        return None
    return interval_to_timedelta(value)


def is_locked(entry: Entry, policy: DomainPolicy, now: datetime) -> bool:
    """Locked out now: the DC's computed UF_LOCKOUT bit, else lockoutTime + lockoutDuration.

    lockoutTime stays set after the lockout duration has passed, so it alone
    does not mean locked.
    """
    computed = entry.integer("msDS-User-Account-Control-Computed")
    if computed is not None:
        return bool(computed & UAC.LOCKOUT)
    ticks = entry.integer("lockoutTime") or 0
    if ticks <= 0:
        return False
    if policy.lockout_duration is None:
        return True
    locked_at = filetime_to_datetime(ticks)
    return locked_at is not None and now < locked_at + policy.lockout_duration


def user_status(entry: Entry, policy: DomainPolicy, now: datetime) -> UserStatus:
    """Disabled -> SUSPENDED, locked -> LOCKED_OUT, must change/expired -> PASSWORD_EXPIRED."""
    uac = entry.integer("userAccountControl") or 0
    if uac & UAC.ACCOUNTDISABLE:
        return UserStatus.SUSPENDED
    if is_locked(entry, policy, now):
        return UserStatus.LOCKED_OUT
    if entry.integer("pwdLastSet") == 0:
        return UserStatus.PASSWORD_EXPIRED
    computed = entry.integer("msDS-User-Account-Control-Computed") or 0
    if computed & UAC.PASSWORD_EXPIRED:
        return UserStatus.PASSWORD_EXPIRED
    return UserStatus.ACTIVE


def password_status(entry: Entry, policy: DomainPolicy, now: datetime) -> PasswordStatus:
    """Expiry from msDS-UserPasswordExpiryTimeComputed, or pwdLastSet + maxPwdAge without it.

    The computed value already applies DONT_EXPIRE_PASSWORD, smart-card-only
    accounts and fine-grained policies; it is 0x7FFFFFFFFFFFFFFF for "never" and
    0 when the password must be changed at next logon, reported as expired now.
    https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/f9e9b7e2-c7ac-4db6-ba38-71d9696981e9
    """
    uac = entry.integer("userAccountControl") or 0
    last_set = entry.integer("pwdLastSet") or 0
    last_changed = filetime_to_datetime(last_set)
    if uac & UAC.DONT_EXPIRE_PASSWORD:
        return PasswordStatus(last_changed, None, never_expires=True)
    computed = entry.integer("msDS-UserPasswordExpiryTimeComputed")
    if computed is None:  # not AD DS: apply the domain policy ourselves
        if last_set == 0:
            return PasswordStatus(None, now, never_expires=False)
        if policy.max_pwd_age is None or last_changed is None:
            return PasswordStatus(last_changed, None, never_expires=True)
        return PasswordStatus(last_changed, last_changed + policy.max_pwd_age, never_expires=False)
    if computed == 0 or last_set == 0:
        return PasswordStatus(None, now, never_expires=False)
    expires_at = filetime_to_datetime(computed)
    if expires_at is None:
        return PasswordStatus(last_changed, None, never_expires=True)
    return PasswordStatus(last_changed, expires_at, never_expires=False)


def read_domain_policy(
    conn: Conn, provider: str, shortest_max_password_age: timedelta | None = None
) -> DomainPolicy:
    """Read the domain object's policy (and the readable PSOs' maximum ages) on ``conn``.

    ``shortest_max_password_age`` is the configured floor for PSOs the bind cannot read.
    """
    root = search(
        conn,
        provider,
        "read rootDSE",
        "",
        "(objectClass=*)",
        ["defaultNamingContext"],
        scope=ldap3.BASE,
    )
    domain_dn = root[0].text("defaultNamingContext") if root else ""
    if not domain_dn:
        raise ConnectorError(provider, "rootDSE has no defaultNamingContext", code="rootdse")
    found = search(
        conn,
        provider,
        "read domain policy",
        domain_dn,
        "(objectClass=domain)",
        ["minPwdLength", "pwdProperties", "maxPwdAge", "lockoutDuration", "lockoutThreshold"],
        scope=ldap3.BASE,
    )
    if not found:
        raise ConnectorError(
            provider, f"domain object {domain_dn} not readable", code="domain"
        )
    domain = found[0]
    max_age = _max_age(domain.integer("maxPwdAge"))
    ages = [max_age] if max_age else []
    # Fine-grained password policies (PSOs) may expire passwords sooner than the
    # domain (the "Effective-MaximumPasswordAge" of the expiry attribute); by default
    # only administrators can read them, so widening the sweep by them is best effort.
    # https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/f9e9b7e2-c7ac-4db6-ba38-71d9696981e9
    try:
        psos = search(
            conn,
            provider,
            "read password settings",
            f"CN=Password Settings Container,CN=System,{domain_dn}",
            "(objectClass=msDS-PasswordSettings)",
            ["msDS-MaximumPasswordAge"],
            scope=ldap3.LEVEL,
        )
    except ConnectorError:
        psos = []
    for pso in psos:
        age = _max_age(pso.integer("msDS-MaximumPasswordAge"))
        if age:
            ages.append(age)
    if shortest_max_password_age:
        ages.append(shortest_max_password_age)
    return DomainPolicy(
        domain_dn=domain_dn,
        min_pwd_length=domain.integer("minPwdLength") or 0,
        complexity=bool((domain.integer("pwdProperties") or 0) & DOMAIN_PASSWORD_COMPLEX),
        max_pwd_age=max_age,
        lockout_duration=_lockout_duration(domain.integer("lockoutDuration")),
        lockout_threshold=domain.integer("lockoutThreshold") or 0,
        shortest_max_age=min(ages) if ages else None,
    )
