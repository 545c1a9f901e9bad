"""The Okta connector: every helpdesk role over Okta's management API, through the Okta SDK.

Requests go through :class:`~connectors.okta.api.OktaApi` (the SDK's typed methods
where its models read what Okta returns, raw requests where they do not, each
place saying why), under one retry, pacing and timeout policy
(:mod:`connectors.okta.http`) and one table mapping Okta's errors onto the
connector errors (:mod:`connectors.okta.errors`). Authentication and the other
settings are in :mod:`connectors.okta.settings`.

Secrets never reach a log line or an exception message: reset links and temporary
passwords leave this module only inside :class:`~connectors.base.Secret`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from config.clock import Clock
from config.logging import get_logger
from config.secrets import Secret
from connectors.base import (
    Capability,
    ContainStep,
    DirectoryGroup,
    DirectoryUser,
    ExpiringUser,
    MembershipChange,
    MfaFactor,
    PasswordResetGrant,
    PasswordStatus,
    Protection,
    ProtectionKind,
    PushChallenge,
    PushState,
    ResetDelivery,
    UnlockResult,
    UserStatus,
)
from connectors.emails import same_email
from connectors.errors import ConnectorError, GroupNotFound, OutcomeUnknown, UserNotFound
from connectors.okta.api import OktaApi, gather_all
from connectors.okta.errors import Subject
from connectors.okta.expiry import OktaExpiry
from connectors.okta.push import push_state, start_push
from connectors.okta.settings import Settings
from connectors.okta.values import (
    OKTA_ID,
    OktaUser,
    enum_value,
    factor_from_sdk,
    group_name,
    quote_search_value,
    user_from_json,
)

log = get_logger("connectors.okta")

# Okta's default recovery-token lifetime (PasswordPolicyRecoveryEmailRecoveryToken).
_DEFAULT_RECOVERY_MINUTES = 10080


def build(
    name: str, settings: Settings, environ: Mapping[str, str], *, timer: Clock | None = None
) -> OktaConnector:
    """Resolve the secrets and make the connector (no network I/O happens here).

    ``timer`` replaces the clocks and sleep of the HTTP layer (tests).
    """
    return OktaConnector(
        name,
        settings,
        api_token=settings.api_token.resolve(environ) if settings.api_token else None,
        private_key=settings.private_key.resolve(environ) if settings.private_key else None,
        timer=timer,
    )


class OktaConnector:
    """Okta directory with every role: groups, resets, unlock, MFA and password expiry.

    Build it with :func:`build`; call :meth:`aclose` when done. ``settings`` is its
    validated config block, ``api`` the org's API session (read-only use is safe:
    the doctor reads through it), ``stats`` counts what the HTTP layer did
    (requests, retries, 429s, pacing waits).
    """

    capabilities = (
        Capability.GROUPS
        | Capability.PASSWORD_RESET
        | Capability.UNLOCK
        | Capability.MFA_RESET
        | Capability.PASSWORD_EXPIRY
        | Capability.PUSH_VERIFY
        | Capability.CONTAIN
    )

    def __init__(
        self,
        name: str,
        settings: Settings,
        *,
        api_token: Secret | None = None,
        private_key: Secret | None = None,
        timer: Clock | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.api = OktaApi(
            name, settings, api_token=api_token, private_key=private_key, timer=timer
        )
        self.stats = self.api.stats
        self._expiry = OktaExpiry(
            self.api, settings.policy_cache_seconds, self._fetch_user, self.iter_user_pages
        )

    # -- users ---------------------------------------------------------------------

    async def _fetch_user(self, user_id: str) -> OktaUser:
        # Read raw so users come from one converter whether found by id, search or
        # list (the list path skips the SDK models for speed, see iter_user_pages).
        if not OKTA_ID.fullmatch(user_id):
            raise UserNotFound(self.name, "not an Okta user id")
        data = await self.api.get(f"/api/v1/users/{user_id}", subject=Subject.USER)
        if not isinstance(data, dict) or data.get("id") != user_id:
            # ``/users/{idOrLogin}`` also resolves login short names; ids only here.
            raise UserNotFound(self.name, "no user with that id")
        return user_from_json(self.name, data)

    # -- Directory -----------------------------------------------------------------

    async def find_user_by_email(self, email: str) -> DirectoryUser:
        """Return the one user whose ``profile.email`` is ``email`` (``connectors.emails``).

        Searches ``profile.email eq "..."`` with the value quoted, so no input can
        change the expression. Deprovisioned accounts count only when no other matches;
        two live matches are ambiguous and raise ``UserNotFound``.
        """
        wanted = email.strip()
        if not wanted or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in wanted):
            raise UserNotFound(self.name, "not a usable email address")
        params = {
            "search": f"profile.email eq {quote_search_value(wanted)}",
            "limit": str(self.settings.page_size),
        }
        matches: list[DirectoryUser] = []
        async for page in self.api.pages("/api/v1/users", params, Subject.USER):
            for item in page:
                found = user_from_json(self.name, item).user
                # Okta's search ignores case more widely; only the exact address counts.
                if same_email(found.email, wanted):
                    matches.append(found)
        live = [u for u in matches if u.status is not UserStatus.DEPROVISIONED] or matches
        if len(live) != 1:
            detail = "no user" if not live else f"{len(live)} users"
            raise UserNotFound(
                self.name, f"{detail} with that email", code="ambiguous" if live else None
            )
        return live[0]

    async def get_user(self, user_id: str) -> DirectoryUser:
        """Return the user with this Okta id (``00u...``); ``UserNotFound`` otherwise."""
        return (await self._fetch_user(user_id)).user

    async def protections(
        self, user: DirectoryUser, protected_groups: Collection[str]
    ) -> list[Protection]:
        """Admin roles (direct or through groups) and membership of protected groups.

        Protected groups are the given names plus the configured ones, compared
        without case. Any failure raises: an unknown answer is never "ordinary".
        """
        roles, groups = await gather_all(
            self.api.sdk(Subject.USER, self.api.client.list_assigned_roles_for_user(user.id)),
            self.api.sdk(Subject.USER, self.api.client.list_user_groups(user.id)),
        )
        reasons: list[Protection] = []
        for item in roles or ():
            role = getattr(item, "actual_instance", item)
            kind = enum_value(getattr(role, "type", None)) or "CUSTOM"
            label = str(getattr(role, "label", "") or "")
            detail = kind + (f" ({label})" if kind == "CUSTOM" and label else "")
            reasons.append(Protection(ProtectionKind.ADMIN_ROLE, detail))
        protected = {g.casefold() for g in (*protected_groups, *self.settings.protected_groups)}
        for group in groups or ():
            name = group_name(group)
            if name.casefold() in protected:
                reasons.append(Protection(ProtectionKind.PROTECTED_GROUP, name))
        return reasons

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self.api.aclose()

    # -- GroupManager --------------------------------------------------------------

    async def find_group(self, name: str) -> DirectoryGroup:
        """Return the group named exactly ``name``; ``GroupNotFound`` otherwise.

        Okta compares search values without case, so the exact spelling is checked
        here; a case-insensitive match is taken only when it is the only one.
        """
        params = {"search": f"profile.name eq {quote_search_value(name)}", "limit": "200"}
        found: list[DirectoryGroup] = []
        async for page in self.api.pages("/api/v1/groups", params, Subject.GROUP):
            for item in page:
                profile = item.get("profile") or {}
                found.append(
                    DirectoryGroup(
                        self.name,
                        str(item.get("id") or ""),
                        str(profile.get("name") or ""),
                        str(profile.get("description") or ""),
                    )
                )
        exact = [g for g in found if g.name == name]
        loose = [g for g in found if g.name.casefold() == name.casefold()]
        chosen = exact or loose
        if len(chosen) != 1:
            raise GroupNotFound(self.name, f"no single group named {name!r}")
        return chosen[0]

    async def _group_ids_of(self, user: DirectoryUser) -> set[str]:
        groups = await self.api.sdk(Subject.USER, self.api.client.list_user_groups(user.id))
        return {str(g.id) for g in groups or ()}

    async def is_member(self, user: DirectoryUser, group: DirectoryGroup) -> bool:
        """Whether the user is in the group (from the user's group list)."""
        return group.id in await self._group_ids_of(user)

    async def add_to_group(self, user: DirectoryUser, group: DirectoryGroup) -> MembershipChange:
        """Idempotent add: Okta answers 204 either way, so membership is read first."""
        if await self.is_member(user, group):
            return MembershipChange.ALREADY_MEMBER
        await self.api.sdk(Subject.GROUP, self.api.client.assign_user_to_group(group.id, user.id))
        log.info("okta group member added", connector=self.name, user_id=user.id, group_id=group.id)
        return MembershipChange.ADDED

    async def remove_from_group(
        self, user: DirectoryUser, group: DirectoryGroup
    ) -> MembershipChange:
        """Idempotent removal: a non-member is ``NOT_MEMBER`` and nothing is sent."""
        if not await self.is_member(user, group):
            return MembershipChange.NOT_MEMBER
        await self.api.sdk(
            Subject.GROUP, self.api.client.unassign_user_from_group(group.id, user.id)
        )
        log.info(
            "okta group member removed", connector=self.name, user_id=user.id, group_id=group.id
        )
        return MembershipChange.REMOVED

    # -- PasswordResetter ----------------------------------------------------------

    async def start_password_reset(
        self, user: DirectoryUser, delivery: ResetDelivery
    ) -> PasswordResetGrant:
        """Issue a one-time reset link (no email from Okta) or a temporary password.

        Neither call is retried once it may have reached Okta: a second reset would
        invalidate the first link or password.
        """
        if delivery is ResetDelivery.LINK:
            return await self._reset_link(user)
        return await self._temporary_password(user)

    async def _reset_link(self, user: DirectoryUser) -> PasswordResetGrant:
        lifetime = await self._reset_link_lifetime(user)
        token = await self.api.sdk(
            Subject.USER,
            self.api.client.reset_password(
                user.id, send_email=False, revoke_sessions=self.settings.revoke_sessions
            ),
        )
        url = getattr(token, "reset_password_url", None)
        if not url:
            raise ConnectorError(self.name, "Okta's reset answer had no link")
        log.info("okta reset link issued", connector=self.name, user_id=user.id)
        return PasswordResetGrant(
            ResetDelivery.LINK,
            Secret(str(url)),
            datetime.now(UTC) + lifetime,
            must_change_at_next_login=False,
        )

    async def _reset_link_lifetime(self, user: DirectoryUser) -> timedelta:
        """How long Okta keeps the link valid: the governing policy's recovery-token
        lifetime, capped by ``reset_link_max_minutes``.

        Classic Engine honours ``recovery.factors.okta_email.properties.recoveryToken
        .tokenLifetimeMinutes`` (default 10080); Identity Engine keeps admin reset
        links for one hour whatever the policy says
        (https://support.okta.com/help/s/article/how-to-modify-the-reset-password-link-lifespan),
        hence the cap. A policy that cannot be read falls back to the cap, so this
        lookup never stops a reset.
        """
        cap = timedelta(minutes=self.settings.reset_link_max_minutes)
        try:
            policy = (await self._expiry.policy_and_user(user.id))[0]
        except ConnectorError as exc:
            log.warning("okta policy unreadable", connector=self.name, error=exc.message)
            return cap
        minutes = policy.recovery_token_minutes if policy else None
        return min(cap, timedelta(minutes=minutes or _DEFAULT_RECOVERY_MINUTES))

    async def _temporary_password(self, user: DirectoryUser) -> PasswordResetGrant:
        # Raw call: the SDK (3.4.6) types this operation's answer as ``User``, so its
        # model drops ``tempPassword``; the spec's answer is ``{"tempPassword": ...}``.
        query = {"revokeSessions": "true" if self.settings.revoke_sessions else "false"}
        path = f"/api/v1/users/{quote(user.id, safe='')}/lifecycle/"
        path += "expire_password_with_temp_password"
        data, _ = await self.api.request("POST", self.api.url(path, query), Subject.USER)
        temp = data.get("tempPassword") if isinstance(data, dict) else None
        if not temp:
            raise ConnectorError(self.name, "Okta's answer had no temporary password")
        log.info("okta temporary password issued", connector=self.name, user_id=user.id)
        return PasswordResetGrant(
            ResetDelivery.TEMP_PASSWORD, Secret(str(temp)), None, must_change_at_next_login=True
        )

    # -- Unlocker ------------------------------------------------------------------

    async def unlock(self, user: DirectoryUser) -> UnlockResult:
        """Unlock a ``LOCKED_OUT`` account; any other status is ``NOT_LOCKED``, nothing sent.

        The status is read fresh, since ``user`` may be stale.
        """
        current = (await self._fetch_user(user.id)).user
        if current.status is not UserStatus.LOCKED_OUT:
            return UnlockResult.NOT_LOCKED
        try:
            await self.api.sdk(Subject.USER, self.api.client.unlock_user(user.id))
        except ConnectorError as exc:
            if exc.code == "E0000032":  # unlocked meanwhile (or auto-unlocked)
                return UnlockResult.NOT_LOCKED
            raise
        log.info("okta user unlocked", connector=self.name, user_id=user.id)
        return UnlockResult.UNLOCKED

    # -- MfaResetter ---------------------------------------------------------------

    async def list_factors(self, user: DirectoryUser) -> Sequence[MfaFactor]:
        """The user's enrolled factors, in Okta's order."""
        factors = await self.api.sdk(Subject.USER, self.api.client.list_factors(user.id))
        return [factor_from_sdk(factor) for factor in factors or ()]

    async def reset_factors(self, user: DirectoryUser, factor_id: str | None = None) -> int:
        """Unenroll one factor (``DELETE .../factors/{id}``) or all (``reset_factors``).

        Returns how many were removed; an unknown factor id removes nothing.
        """
        factors = await self.list_factors(user)
        if factor_id is None:
            if not factors:
                return 0  # Okta offers reset_factors only to enrolled users
            try:
                await self.api.sdk(Subject.USER, self.api.client.reset_factors(user.id))
            except OutcomeUnknown as exc:
                # The answer was lost: the caller re-reads the factors; say how many were due.
                raise OutcomeUnknown(self.name, exc.message, planned=len(factors)) from exc
            log.info("okta factors reset", connector=self.name, user_id=user.id, count=len(factors))
            return len(factors)
        if factor_id not in {f.id for f in factors}:
            return 0
        try:
            await self.api.sdk(Subject.OTHER, self.api.client.unenroll_factor(user.id, factor_id))
        except ConnectorError as exc:
            # A DELETE retried after Okta had already done it answers 404.
            if exc.code == "E0000007":
                return 0
            raise
        log.info("okta factor removed", connector=self.name, user_id=user.id, factor_id=factor_id)
        return 1

    # -- AccountContainer ---------------------------------------------------------------

    def containment_steps(self) -> frozenset[ContainStep]:
        return frozenset(ContainStep)

    async def contain(
        self, user: DirectoryUser, steps: Sequence[ContainStep]
    ) -> list[ContainStep]:
        """Revoke sessions (``DELETE /users/{id}/sessions?oauthTokens=true``), suspend
        (``lifecycle/suspend``), reset factors, in the order given.

        Okta suspends only ``ACTIVE`` users: an account in another state (``RECOVERY``
        after a reset link, ``LOCKED_OUT``) is left unsuspended and the step is not in
        the result, for a person to finish. Suspending needs a role that may suspend
        (Group Administrator, or a custom role with ``okta.users.lifecycle.suspend``):
        a Help Desk Administrator's token gets ``PermissionDenied``.
        """
        done: list[ContainStep] = []
        for step in steps:
            if step is ContainStep.CLEAR_SESSIONS:
                path = f"/api/v1/users/{quote(user.id, safe='')}/sessions"
                await self.api.request(
                    "DELETE", self.api.url(path, {"oauthTokens": "true"}), Subject.USER
                )
            elif step is ContainStep.SUSPEND:
                current = (await self._fetch_user(user.id)).user
                if current.status is not UserStatus.SUSPENDED:
                    if current.status is not UserStatus.ACTIVE:
                        log.warning("okta suspend not possible", connector=self.name,
                                    user_id=user.id, status=current.status.value)
                        continue
                    path = f"/api/v1/users/{quote(user.id, safe='')}/lifecycle/suspend"
                    await self.api.request("POST", self.api.url(path), Subject.USER)
            elif step is ContainStep.RESET_FACTORS:
                await self.reset_factors(user)
            log.info("okta containment step", connector=self.name, user_id=user.id,
                     step=step.value)
            done.append(step)
        return done

    # -- PushVerifier -----------------------------------------------------------------

    async def push_factors(self, user: DirectoryUser) -> Sequence[MfaFactor]:
        """The user's active Okta Verify push enrolments."""
        return [f for f in await self.list_factors(user)
                if f.kind == "push" and f.status == "active"]

    async def start_push(
        self, user: DirectoryUser, factor: MfaFactor, *, number_matching: bool = True
    ) -> PushChallenge:
        """Send an Okta Verify push (:mod:`connectors.okta.push`)."""
        return await start_push(
            self.name, self.api, user, factor, number_matching=number_matching
        )

    async def push_state(self, challenge: PushChallenge) -> PushState:
        """The push transaction's state: waiting, approved, rejected or timed out."""
        return await push_state(self.name, self.api, challenge)

    # -- ExpiryReporter ------------------------------------------------------------

    async def password_status(self, user: DirectoryUser) -> PasswordStatus:
        """When the password changed and expires, under the policy that governs the user."""
        return await self._expiry.password_status(user)

    async def iter_expiring(self, before: datetime) -> AsyncIterator[list[ExpiringUser]]:
        """Yield, page by page, users whose password expires before ``before``."""
        async for page in self._expiry.iter_expiring(before):
            yield page

    async def iter_user_pages(self, *, search: str | None = None) -> AsyncIterator[list[OktaUser]]:
        """Yield the org's users (or a ``search``'s) one page of ``page_size`` at a time.

        Okta-specific (not on the shared protocols). Pages are read raw: with the
        SDK's ``User`` models a 200-user page took about 5x longer to decode
        (measured: 5.5 ms against 1.1 ms), which shows at 100k users, and the typed
        list method drops the ``Link`` relations it would page by (see ``OktaApi.pages``).
        """
        params = {"limit": str(self.settings.page_size)}
        if search is not None:
            params["search"] = search
        async for page in self.api.pages("/api/v1/users", params, Subject.USER):
            yield [user_from_json(self.name, item) for item in page]
