"""Active Directory connector (ldap3): find people, groups, temporary passwords, unlock, expiry.

Talks LDAP over TLS (ldaps:// or ldap:// with StartTLS) as a delegated service
account; certificates are verified by default. Users are keyed by objectGUID
(string form). AD has no MFA of its own and no reset links, so the connector
implements neither: ``MfaResetter`` is absent and a LINK reset is
``NotSupported`` (configure ``password_reset.delivery: temp_password``).

Accounts with ``adminCount=1`` or in a protected group (nested membership
included) are reported by ``protections``, and the connector refuses to
reset or unlock them itself as a second line of defence.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from config.logging import get_logger
from config.secrets import Secret, SecretRef
from connectors.ad_errors import error_from_result
from connectors.ad_ldap import Conn, Endpoint, LdapTransport, TransportConfig, modify, search
from connectors.ad_ldap3 import ldap3
from connectors.ad_values import (
    DOMAIN_PASSWORD_COMPLEX,
    GROUP_FILTER,
    INTERVAL_NEVER,
    MATCH_BIT_AND,
    MATCH_IN_CHAIN,
    PERSON_FILTER,
    UAC,
    Entry,
    datetime_to_filetime,
    escape,
    filetime_to_datetime,
    forbidden_tokens,
    generate_temp_password,
    guid_filter_value,
    guid_to_str,
    interval_to_timedelta,
    is_privileged_sid,
    looks_like_dn,
    sid_to_str,
    split_sid,
)
from connectors.base import (
    Capability,
    DirectoryGroup,
    DirectoryUser,
    ExpiringUser,
    MembershipChange,
    PasswordResetGrant,
    PasswordStatus,
    Protection,
    ProtectionKind,
    ResetDelivery,
    UnlockResult,
    UserStatus,
)
from connectors.errors import (
    ConnectorError,
    GroupNotFound,
    InvalidState,
    NotSupported,
    PermissionDenied,
    UserNotFound,
)

log = get_logger("connectors.ad")

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

USER_ATTRIBUTES = (
    "objectGUID",
    "objectSid",
    "sAMAccountName",
    "userPrincipalName",
    "mail",
    "displayName",
    "cn",
    "userAccountControl",
    "msDS-User-Account-Control-Computed",
    "lockoutTime",
    "pwdLastSet",
    "msDS-UserPasswordExpiryTimeComputed",
    "adminCount",
    "primaryGroupID",
)
GROUP_ATTRIBUTES = ("objectGUID", "objectSid", "sAMAccountName", "cn", "description", "adminCount")


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

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(min_length=1, validation_alias=AliasChoices("urls", "url"))
    start_tls: bool = False
    base_dn: str
    users_dn: str | None = None
    groups_dn: str | None = None
    bind_dn: str
    bind_password: SecretRef
    ca_file: FilePath | None = None
    verify_tls: bool = True
    tls_server_name: str | None = None
    pool_size: int = Field(4, ge=1, le=64)
    connect_timeout: float = Field(5.0, gt=0, le=120)
    operation_timeout: float = Field(15.0, gt=0, le=600)
    retry_attempts: int = Field(3, ge=1, le=10)
    idle_seconds: float = Field(300.0, gt=0)
    protected_groups: list[str] = Field(default_factory=lambda: list(DEFAULT_PROTECTED_GROUPS))
    temp_password_length: int = Field(16, ge=8, le=128)
    page_size: int = Field(1000, ge=1, le=100_000)
    policy_cache_seconds: float = Field(300.0, ge=0)
    shortest_max_password_age: timedelta | None = None

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


class ActiveDirectoryConnector:
    """Directory, GroupManager, PasswordResetter (temporary passwords), Unlocker, ExpiryReporter."""

    capabilities = (
        Capability.GROUPS
        | Capability.PASSWORD_RESET
        | Capability.UNLOCK
        | Capability.PASSWORD_EXPIRY
    )

    def __init__(
        self,
        name: str,
        settings: Settings,
        bind_password: Secret,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = name
        self._settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self._transport = LdapTransport(
            TransportConfig(
                provider=name,
                endpoints=tuple(Endpoint.parse(u) for u in settings.urls),
                start_tls=settings.start_tls,
                bind_dn=settings.bind_dn,
                ca_file=str(settings.ca_file) if settings.ca_file else None,
                verify_tls=settings.verify_tls,
                tls_server_name=settings.tls_server_name,
                pool_size=settings.pool_size,
                connect_timeout=settings.connect_timeout,
                operation_timeout=settings.operation_timeout,
                retry_attempts=settings.retry_attempts,
                idle_seconds=settings.idle_seconds,
            ),
            bind_password,
        )
        self._policy_cache: tuple[float, DomainPolicy] | None = None
        self._warned_unresolved: set[str] = set()
        if not settings.verify_tls:
            log.warning("ad.tls_verification_disabled", provider=name)

    def __repr__(self) -> str:
        return (
            f"ActiveDirectoryConnector(name={self.name!r}, urls={self._settings.urls!r}, "
            f"bind_dn={self._settings.bind_dn!r})"
        )

    # -- plumbing ------------------------------------------------------------
    @property
    def _users_base(self) -> str:
        return self._settings.users_dn or self._settings.base_dn

    @property
    def _groups_base(self) -> str:
        return self._settings.groups_dn or self._settings.base_dn

    def _now(self) -> datetime:
        return self._clock()

    async def _policy(self) -> DomainPolicy:
        """The domain policy, cached for ``policy_cache_seconds``."""
        now = self._now().timestamp()
        cached = self._policy_cache
        if cached is not None and now - cached[0] < self._settings.policy_cache_seconds:
            return cached[1]
        policy = await self._transport.run("read domain policy", self._read_policy)
        self._policy_cache = (now, policy)
        return policy

    def _read_policy(self, conn: Conn) -> DomainPolicy:
        root = search(
            conn,
            self.name,
            "read rootDSE",
            "",
            "(objectClass=*)",
            ["defaultNamingContext"],
            scope=ldap3.BASE,
        )
        domain_dn = root[0].text("defaultNamingContext") if root else ""
        if not domain_dn:
            raise ConnectorError(self.name, "rootDSE has no defaultNamingContext", code="rootdse")
        found = search(
            conn,
            self.name,
            "read domain policy",
            domain_dn,
            "(objectClass=domain)",
            ["minPwdLength", "pwdProperties", "maxPwdAge", "lockoutDuration", "lockoutThreshold"],
            scope=ldap3.BASE,
        )
        if not found:
            raise ConnectorError(
                self.name, f"domain object {domain_dn} not readable", code="domain"
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
                self.name,
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
        if self._settings.shortest_max_password_age:
            ages.append(self._settings.shortest_max_password_age)
        return DomainPolicy(
            domain_dn=domain_dn,
            min_pwd_length=domain.integer("minPwdLength") or 0,
            complexity=bool((domain.integer("pwdProperties") or 0) & DOMAIN_PASSWORD_COMPLEX),
            max_pwd_age=max_age,
            lockout_duration=_lockout_duration(domain.integer("lockoutDuration")),
            lockout_threshold=domain.integer("lockoutThreshold") or 0,
            shortest_max_age=min(ages) if ages else None,
        )

    def _user(self, entry: Entry, policy: DomainPolicy) -> DirectoryUser:
        guid = entry.first("objectGUID")
        if guid is None:
            raise ConnectorError(self.name, f"entry {entry.dn} has no objectGUID", code="guid")
        sam = entry.text("sAMAccountName")
        upn = entry.text("userPrincipalName")
        return DirectoryUser(
            provider=self.name,
            id=guid_to_str(guid),
            email=entry.text("mail") or upn,
            login=upn or sam,
            display_name=entry.text("displayName") or entry.text("cn") or sam,
            status=user_status(entry, policy, self._now()),
            attributes={"dn": entry.dn, "sAMAccountName": sam, "userPrincipalName": upn},
        )

    async def _user_entry(self, user_id: str) -> Entry:
        value = guid_filter_value(user_id)
        if value is None:
            raise UserNotFound(self.name, f"no user with id {user_id!r}", code="bad_id")
        flt = f"(&{PERSON_FILTER}(objectGUID={value}))"
        found = await self._transport.run(
            "get user",
            lambda c: search(c, self.name, "get user", self._users_base, flt, USER_ATTRIBUTES),
        )
        if not found:
            raise UserNotFound(self.name, f"no user with id {user_id}")
        return found[0]

    async def _group_entry(self, group_id: str) -> Entry:
        value = guid_filter_value(group_id)
        if value is None:
            raise GroupNotFound(self.name, f"no group with id {group_id!r}", code="bad_id")
        flt = f"(&{GROUP_FILTER}(objectGUID={value}))"
        found = await self._transport.run(
            "get group",
            lambda c: search(
                c,
                self.name,
                "get group",
                self._groups_base,
                flt,
                GROUP_ATTRIBUTES,
                missing=GroupNotFound,
            ),
        )
        if not found:
            raise GroupNotFound(self.name, f"no group with id {group_id}")
        return found[0]

    # -- protection ----------------------------------------------------------
    async def _protection(self, entry: Entry, refs: Collection[str]) -> list[Protection]:
        """Why ``entry`` (a user or a group) is protected: adminCount, protected groups."""
        policy = await self._policy()
        reasons: list[Protection] = []
        # adminCount=1 marks accounts SDProp protects (members, now or once, of
        # privileged groups): https://learn.microsoft.com/en-us/windows/win32/adschema/a-admincount
        if entry.integer("adminCount") == 1:
            reasons.append(Protection(
                ProtectionKind.ADMIN_ROLE, "adminCount=1 (AdminSDHolder-protected account)"
            ))
        wanted = list(dict.fromkeys(r.strip() for r in refs if r.strip()))
        if wanted:
            groups, memberships = await self._transport.run(
                "check protected groups",
                lambda c: self._protected_groups_of(c, policy.domain_dn, entry.dn, wanted),
            )
            self._warn_unresolved(wanted, groups)
            reasons += self._group_reasons(entry, groups, memberships)
        return reasons

    def _protected_groups_of(
        self, conn: Conn, domain_dn: str, dn: str, refs: list[str]
    ) -> tuple[list[Entry], set[str]]:
        clauses = "".join(
            f"(distinguishedName={escape(r)})"
            if looks_like_dn(r)
            else f"(sAMAccountName={escape(r)})(cn={escape(r)})"
            for r in refs
        )
        groups = search(
            conn,
            self.name,
            "resolve protected groups",
            domain_dn,
            f"(&{GROUP_FILTER}(|{clauses}))",
            ["sAMAccountName", "cn", "objectSid"],
        )
        if not groups:
            return [], set()
        # LDAP_MATCHING_RULE_IN_CHAIN walks nested membership on the server.
        # https://learn.microsoft.com/en-us/windows/win32/adsi/search-filter-syntax
        dns = "".join(f"(distinguishedName={escape(g.dn)})" for g in groups)
        containing = search(
            conn,
            self.name,
            "check nested membership",
            domain_dn,
            f"(&{GROUP_FILTER}(member:{MATCH_IN_CHAIN}:={escape(dn)})(|{dns}))",
            ["cn"],
        )
        return groups, {g.dn.lower() for g in containing}

    def _group_reasons(
        self, entry: Entry, groups: Sequence[Entry], memberships: set[str]
    ) -> list[Protection]:
        reasons: list[Protection] = []
        sid = entry.first("objectSid")
        primary = entry.integer("primaryGroupID")
        own_domain = split_sid(sid)[0] if sid else None
        for group in groups:
            label = group.text("sAMAccountName") or group.text("cn") or group.dn
            group_sid = group.first("objectSid")
            # Membership of a built-in privileged group is an admin role; of any other
            # protected group, a protection the configuration chose.
            kind = (
                ProtectionKind.ADMIN_ROLE
                if group_sid and is_privileged_sid(sid_to_str(group_sid))
                else ProtectionKind.PROTECTED_GROUP
            )
            if group.dn.lower() == entry.dn.lower():
                reasons.append(Protection(kind, f"{label} (itself)"))
            elif group.dn.lower() in memberships:
                reasons.append(Protection(kind, label))
            elif (
                # The primary group is not in member/memberOf, so the chain rule misses it.
                # https://learn.microsoft.com/en-us/windows/win32/adschema/a-primarygroupid
                primary is not None
                and group_sid
                and split_sid(group_sid) == (own_domain, primary)
            ):
                reasons.append(Protection(kind, f"{label} (primary group)"))
        return reasons

    def _warn_unresolved(self, refs: Sequence[str], groups: Sequence[Entry]) -> None:
        known: set[str] = set()
        for g in groups:
            known |= {g.dn.lower(), g.text("sAMAccountName").lower(), g.text("cn").lower()}
        for ref in refs:
            if ref.lower() not in known and ref.lower() not in self._warned_unresolved:
                self._warned_unresolved.add(ref.lower())
                log.warning("ad.protected_group_not_found", provider=self.name, group=ref)

    async def _refuse_if_protected(self, entry: Entry, action: str) -> None:
        reasons = await self._protection(entry, self._settings.protected_groups)
        if reasons:
            raise PermissionDenied(
                self.name,
                f"refusing to {action} protected account {entry.dn}: "
                + "; ".join(map(str, reasons)),
                code="protected",
            )

    # -- Directory -----------------------------------------------------------
    async def find_user(self, identifier: str) -> DirectoryUser:
        """The one user whose mail, userPrincipalName or sAMAccountName equals ``identifier``.

        Every value is escaped for the filter, so ``*`` or ``)(`` match only themselves;
        more than one match is refused rather than guessed (``UserNotFound``, code ``ambiguous``).
        """
        value = identifier.strip()
        if not value or len(value) > 320:
            raise UserNotFound(self.name, "no user with that identifier")
        v = escape(value)
        flt = f"(&{PERSON_FILTER}(|(mail={v})(userPrincipalName={v})(sAMAccountName={v})))"
        found = await self._transport.run(
            "find user",
            lambda c: search(
                c, self.name, "find user", self._users_base, flt, USER_ATTRIBUTES, size_limit=2
            ),
        )
        if not found:
            raise UserNotFound(self.name, "no user with that identifier")
        if len(found) > 1:
            raise UserNotFound(
                self.name, "more than one account matches; refusing to guess", code="ambiguous"
            )
        return self._user(found[0], await self._policy())

    async def find_user_by_email(self, email: str) -> DirectoryUser:
        """The one user whose mail or userPrincipalName is ``email`` (any case)."""
        return await self.find_user(email)

    async def get_user(self, user_id: str) -> DirectoryUser:
        """The user with this objectGUID (string form)."""
        entry = await self._user_entry(user_id)
        return self._user(entry, await self._policy())

    async def protections(
        self, user: DirectoryUser, protected_groups: Collection[str]
    ) -> list[Protection]:
        """adminCount=1, and membership (nested or primary) of configured or given groups."""
        entry = await self._user_entry(user.id)
        return await self._protection(entry, [*self._settings.protected_groups, *protected_groups])

    async def aclose(self) -> None:
        await self._transport.aclose()

    # -- GroupManager --------------------------------------------------------
    async def find_group(self, name: str) -> DirectoryGroup:
        """The group whose sAMAccountName or cn (or DN) is ``name``."""
        value = name.strip()
        if not value:
            raise GroupNotFound(self.name, "no group with an empty name")
        v = escape(value)
        match = (
            f"(distinguishedName={v})"
            if looks_like_dn(value)
            else (f"(|(sAMAccountName={v})(cn={v}))")
        )
        flt = f"(&{GROUP_FILTER}{match})"
        found = await self._transport.run(
            "find group",
            lambda c: search(
                c,
                self.name,
                "find group",
                self._groups_base,
                flt,
                GROUP_ATTRIBUTES,
                size_limit=2,
                missing=GroupNotFound,
            ),
        )
        if not found:
            raise GroupNotFound(self.name, f"no group named {value!r}")
        if len(found) > 1:
            raise GroupNotFound(self.name, f"more than one group named {value!r}", code="ambiguous")
        return self._group(found[0])

    def _group(self, entry: Entry) -> DirectoryGroup:
        guid = entry.first("objectGUID")
        assert guid is not None
        return DirectoryGroup(
            provider=self.name,
            id=guid_to_str(guid),
            name=entry.text("sAMAccountName") or entry.text("cn"),
            description=entry.text("description"),
        )

    def _is_direct_member(self, conn: Conn, group_dn: str, user_dn: str) -> bool:
        found = search(
            conn,
            self.name,
            "check membership",
            group_dn,
            f"(member={escape(user_dn)})",
            ["1.1"],
            scope=ldap3.BASE,
            missing=GroupNotFound,
        )
        return bool(found)

    async def is_member(self, user: DirectoryUser, group: DirectoryGroup) -> bool:
        """Direct membership (the kind ``add_to_group``/``remove_from_group`` change)."""
        user_entry = await self._user_entry(user.id)
        group_entry = await self._group_entry(group.id)
        return await self._transport.run(
            "check membership",
            lambda c: self._is_direct_member(c, group_entry.dn, user_entry.dn),
        )

    async def _guard_group(self, group_entry: Entry) -> None:
        reasons = await self._protection(group_entry, self._settings.protected_groups)
        if reasons:
            raise PermissionDenied(
                self.name,
                f"refusing to change membership of protected group {group_entry.dn}: "
                + "; ".join(map(str, reasons)),
                code="protected_group",
            )

    async def add_to_group(self, user: DirectoryUser, group: DirectoryGroup) -> MembershipChange:
        """Add ``user`` to the group's ``member``; an existing member is ``ALREADY_MEMBER``."""
        user_entry = await self._user_entry(user.id)
        group_entry = await self._group_entry(group.id)
        await self._guard_group(group_entry)

        def add(conn: Conn) -> MembershipChange:
            if self._is_direct_member(conn, group_entry.dn, user_entry.dn):
                return MembershipChange.ALREADY_MEMBER
            ok, result = modify(
                conn, group_entry.dn, {"member": [(ldap3.MODIFY_ADD, [user_entry.dn])]}
            )
            if ok:
                return MembershipChange.ADDED
            # A concurrent add: AD answers entryAlreadyExists (Samba too), some servers
            # attributeOrValueExists.
            if result.get("description") in ("entryAlreadyExists", "attributeOrValueExists"):
                return MembershipChange.ALREADY_MEMBER
            raise error_from_result(self.name, "add member", result, missing=GroupNotFound)

        change = await self._transport.run("add member", add)
        log.info(
            "ad.membership",
            provider=self.name,
            user_id=user.id,
            group_id=group.id,
            change=change.value,
        )
        return change

    async def remove_from_group(
        self, user: DirectoryUser, group: DirectoryGroup
    ) -> MembershipChange:
        """Remove ``user`` from the group's ``member``; a non-member is ``NOT_MEMBER``."""
        user_entry = await self._user_entry(user.id)
        group_entry = await self._group_entry(group.id)
        await self._guard_group(group_entry)

        def remove(conn: Conn) -> MembershipChange:
            if not self._is_direct_member(conn, group_entry.dn, user_entry.dn):
                return MembershipChange.NOT_MEMBER
            ok, result = modify(
                conn, group_entry.dn, {"member": [(ldap3.MODIFY_DELETE, [user_entry.dn])]}
            )
            if ok:
                return MembershipChange.REMOVED
            # Removing a value that is not there: AD answers unwillingToPerform
            # (ERROR_MEMBER_NOT_IN_ALIAS), other servers noSuchAttribute. Only a
            # re-check tells a concurrent removal from a real refusal.
            if result.get("description") in ("unwillingToPerform", "noSuchAttribute") and (
                not self._is_direct_member(conn, group_entry.dn, user_entry.dn)
            ):
                return MembershipChange.NOT_MEMBER
            raise error_from_result(self.name, "remove member", result, missing=GroupNotFound)

        change = await self._transport.run("remove member", remove)
        log.info(
            "ad.membership",
            provider=self.name,
            user_id=user.id,
            group_id=group.id,
            change=change.value,
        )
        return change

    # -- PasswordResetter ----------------------------------------------------
    async def start_password_reset(
        self, user: DirectoryUser, delivery: ResetDelivery
    ) -> PasswordResetGrant:
        """Set a generated temporary password (unicodePwd) and pwdLastSet=0 in one modify.

        Only ``TEMP_PASSWORD``: AD has no reset links, and falling back silently would
        hand a password to a flow that expected a link. The password meets the domain
        policy (at least minPwdLength, all four character classes, no part of the
        account's names); a refusal by a stricter policy (a PSO, a password filter)
        is ``PolicyRejected`` with a message safe to show.
        """
        if delivery is not ResetDelivery.TEMP_PASSWORD:
            raise NotSupported(
                self.name,
                "Active Directory cannot send reset links; configure "
                "password_reset.delivery: temp_password for this connector",
                code="link_unsupported",
            )
        entry = await self._user_entry(user.id)
        await self._refuse_if_protected(entry, "reset the password of")
        uac = entry.integer("userAccountControl") or 0
        if uac & UAC.ACCOUNTDISABLE:
            raise InvalidState(self.name, f"user {user.id} is disabled", code="disabled")
        policy = await self._policy()
        length = max(self._settings.temp_password_length, policy.min_pwd_length)
        banned = forbidden_tokens(entry.text("sAMAccountName"), entry.text("displayName"))
        secret = Secret(generate_temp_password(length, banned))
        # unicodePwd takes the password in double quotes, UTF-16LE, over an encrypted
        # connection; a single replace is an administrative reset.
        # https://learn.microsoft.com/en-us/troubleshoot/windows-server/active-directory/change-windows-active-directory-user-password
        changes: dict[str, list[tuple[str, list[Any]]]] = {
            "unicodePwd": [(ldap3.MODIFY_REPLACE, [f'"{secret.reveal()}"'.encode("utf-16-le")])],
            "pwdLastSet": [(ldap3.MODIFY_REPLACE, ["0"])],
        }

        def reset(conn: Conn) -> None:
            ok, result = modify(conn, entry.dn, changes)
            if not ok:
                raise error_from_result(
                    self.name,
                    "reset password",
                    result,
                    password_change=True,
                    secrets=[secret.reveal()],
                )

        try:
            await self._transport.run("reset password", reset, idempotent=False)
        finally:
            changes.clear()
        # DONT_EXPIRE_PASSWORD overrides "must change at next logon": say so honestly.
        must_change = not uac & UAC.DONT_EXPIRE_PASSWORD
        if not must_change:
            log.warning("ad.reset_without_forced_change", provider=self.name, user_id=user.id)
        log.info("ad.password_reset", provider=self.name, user_id=user.id)
        return PasswordResetGrant(
            ResetDelivery.TEMP_PASSWORD, secret, None, must_change_at_next_login=must_change
        )

    # -- Unlocker ------------------------------------------------------------
    async def unlock(self, user: DirectoryUser) -> UnlockResult:
        """Write lockoutTime=0, only when the account is locked out now."""
        entry = await self._user_entry(user.id)
        await self._refuse_if_protected(entry, "unlock")
        policy = await self._policy()
        if not is_locked(entry, policy, self._now()):
            return UnlockResult.NOT_LOCKED

        def clear(conn: Conn) -> None:
            ok, result = modify(conn, entry.dn, {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]})
            if not ok:
                raise error_from_result(self.name, "unlock", result)

        await self._transport.run("unlock", clear)
        log.info("ad.unlock", provider=self.name, user_id=user.id)
        return UnlockResult.UNLOCKED

    # -- ExpiryReporter ------------------------------------------------------
    async def password_status(self, user: DirectoryUser) -> PasswordStatus:
        entry = await self._user_entry(user.id)
        return password_status(entry, await self._policy(), self._now())

    def expiring_filter(self, before: datetime, policy: DomainPolicy) -> str | None:
        """The server-side filter for passwords expiring before ``before``; None if none can.

        pwdLastSet <= before - (shortest maximum age) narrows on the server; the
        exact expiry of each candidate is then read from the computed attribute.
        pwdLastSet>=1 skips must-change accounts; DONT_EXPIRE_PASSWORD (0x10000)
        and disabled (0x2) accounts are excluded with the bitwise AND rule.
        """
        if policy.shortest_max_age is None:
            return None
        cutoff = datetime_to_filetime(before - policy.shortest_max_age)
        if cutoff < 1:
            return None
        return (
            f"(&{PERSON_FILTER}(pwdLastSet>=1)(pwdLastSet<={cutoff})"
            f"(!(userAccountControl:{MATCH_BIT_AND}:={int(UAC.DONT_EXPIRE_PASSWORD)}))"
            f"(!(userAccountControl:{MATCH_BIT_AND}:={int(UAC.ACCOUNTDISABLE)})))"
        )

    async def iter_expiring(self, before: datetime) -> AsyncGenerator[list[ExpiringUser], None]:
        """Yield non-empty pages of users whose password expires before ``before``.

        A paged search (``page_size`` entries per server page) on one connection.
        """
        if before.tzinfo is None:
            raise ValueError("before must be timezone-aware")
        policy = await self._policy()
        flt = self.expiring_filter(before, policy)
        if flt is None:
            return
        pages = self._transport.paged_search(
            self._users_base, flt, USER_ATTRIBUTES, self._settings.page_size
        )
        try:
            async for entries in pages:
                now = self._now()
                page: list[ExpiringUser] = []
                for entry in entries:
                    status = password_status(entry, policy, now)
                    if status.expires_at is not None and status.expires_at < before:
                        page.append(ExpiringUser(self._user(entry, policy), status))
                if page:
                    yield page
        finally:
            await pages.aclose()


def build(name: str, settings: Settings, environ: Mapping[str, str]) -> ActiveDirectoryConnector:
    """Resolve the bind password and make the connector (no connection until first use)."""
    return ActiveDirectoryConnector(name, settings, settings.bind_password.resolve(environ))


__all__ = [
    "ActiveDirectoryConnector",
    "DomainPolicy",
    "Settings",
    "build",
    "is_locked",
    "password_status",
    "user_status",
]
