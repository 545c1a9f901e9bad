"""Active Directory lookups every role needs: the bind, users, groups, the protected-account check.

:class:`AdDirectory` is the ``Directory`` part of the connector and the base its
other parts (:mod:`~connectors.ad.groups`, :mod:`~connectors.ad.accounts`,
:mod:`~connectors.ad.expiry`) build on: one pool of bound, encrypted connections
(:mod:`~connectors.ad.ldap`), the domain policy, users and groups found by
objectGUID, and why an account or a group is protected.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from config.clock import Now, utc_now
from config.logging import get_logger
from config.secrets import Secret
from connectors.ad.ldap import Conn, Endpoint, LdapTransport, TransportConfig, search
from connectors.ad.policy import DomainPolicy, read_domain_policy, user_status
from connectors.ad.settings import Settings
from connectors.ad.values import (
    GROUP_FILTER,
    MATCH_IN_CHAIN,
    PERSON_FILTER,
    Entry,
    escape,
    guid_filter_value,
    guid_to_str,
    is_privileged_sid,
    looks_like_dn,
    sid_to_str,
    split_sid,
)
from connectors.base import PASSWORD_CHANGED, DirectoryUser, Protection, ProtectionKind
from connectors.emails import same_email
from connectors.errors import ConnectorError, GroupNotFound, PermissionDenied, UserNotFound

log = get_logger("connectors.ad")

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


class AdDirectory:
    """Find people and groups in AD and tell whether they are protected (see the module docstring).

    Build the connector with :func:`connectors.ad.connector.build`; call :meth:`aclose`
    when done.
    """

    def __init__(
        self,
        name: str,
        settings: Settings,
        bind_password: Secret,
        *,
        clock: Now | None = None,
    ) -> None:
        self.name = name
        self._settings = settings
        self._clock = clock or utc_now
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
            f"{type(self).__name__}(name={self.name!r}, urls={self._settings.urls!r}, "
            f"bind_dn={self._settings.bind_dn!r})"
        )

    @property
    def settings(self) -> Settings:
        """The validated ``ad`` block this connector was built from."""
        return self._settings

    @property
    def transport(self) -> LdapTransport:
        """The pooled, bound LDAP connections (diagnostics run read-only searches on them)."""
        return self._transport

    # -- plumbing ------------------------------------------------------------
    @property
    def _users_base(self) -> str:
        return self._settings.users_dn or self._settings.base_dn

    @property
    def _groups_base(self) -> str:
        return self._settings.groups_dn or self._settings.base_dn

    def _now(self) -> datetime:
        return self._clock()

    async def domain_policy(self) -> DomainPolicy:
        """The domain's password and lockout policy, cached for ``policy_cache_seconds``."""
        now = self._now().timestamp()
        cached = self._policy_cache
        if cached is not None and now - cached[0] < self._settings.policy_cache_seconds:
            return cached[1]
        floor = self._settings.shortest_max_password_age
        policy = await self._transport.run(
            "read domain policy", lambda c: read_domain_policy(c, self.name, floor)
        )
        self._policy_cache = (now, policy)
        return policy

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
            attributes={
                "dn": entry.dn, "sAMAccountName": sam, "userPrincipalName": upn,
                PASSWORD_CHANGED: entry.text("pwdLastSet"),
            },
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
        policy = await self.domain_policy()
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
        return self._user(found[0], await self.domain_policy())

    async def find_user_by_email(self, email: str) -> DirectoryUser:
        """The one user whose mail or userPrincipalName is exactly ``email``.

        The directory's own matching folds more than ASCII case (and also matches
        ``sAMAccountName``), so the account it finds must carry the very address.
        """
        user = await self.find_user(email)
        if not (same_email(user.email, email) or same_email(user.login, email)):
            raise UserNotFound(self.name, "no user with exactly that email")
        return user

    async def get_user(self, user_id: str) -> DirectoryUser:
        """The user with this objectGUID (string form)."""
        entry = await self._user_entry(user_id)
        return self._user(entry, await self.domain_policy())

    async def protections(
        self, user: DirectoryUser, protected_groups: Collection[str]
    ) -> list[Protection]:
        """adminCount=1, and membership (nested or primary) of configured or given groups."""
        entry = await self._user_entry(user.id)
        return await self._protection(entry, [*self._settings.protected_groups, *protected_groups])

    async def aclose(self) -> None:
        await self._transport.aclose()
