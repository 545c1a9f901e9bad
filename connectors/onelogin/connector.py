"""The OneLogin connector: API v2 (and v1 where v2 has no equivalent) over httpx.

A thin async client rather than the official ``onelogin`` SDK: the SDK is generated
onto urllib3 (blocking, so a thread per call here), hides the ``X-RateLimit-*`` headers
and ``After-Cursor`` this connector paces and pages with, and retries on its own terms,
where a POST must never be replayed blindly (:mod:`connectors.onelogin.http`).

Users are keyed by OneLogin's numeric user id (as a string). Group access is role
membership: a :class:`~connectors.base.DirectoryGroup` here is a OneLogin role.

How each role is served, and why:

* Find users: ``GET /api/2/users?email=...``. OneLogin's filters treat ``*`` as a
  wildcard and a leading ``!`` as negation, with no escape
  (https://developers.onelogin.com/api-docs/2/getting-started/using-query-parameters),
  so addresses containing them are refused before any request, every value is
  URL-encoded by httpx, and only exact (case-insensitive) matches are accepted.
* Groups: roles, ``POST``/``DELETE /api/2/roles/{id}/users`` with a bare JSON array
  of user ids; membership is read from the user's ``role_ids``.
* Password reset: OneLogin's API cannot issue a one-time reset link, so only a
  temporary password is offered: ``PUT /api/2/users/{id}`` with ``password`` (checked
  against the user policy, ``validate_policy``), then ``status: 5`` ("awaiting
  password reset": the user must change it at next login;
  https://developers.onelogin.com/api-docs/1/users/update-user).
* Unlock: ``POST /api/2/users/{id}/unlock``
  (https://developers.onelogin.com/api-docs/2/users/unlock-user). Status 3 or a
  future ``locked_until`` means locked.
* MFA: ``GET``/``DELETE /api/2/mfa/users/{id}/devices[/{device_id}]``.
* Password expiry: the user's ``password_changed_at`` plus the applicable user
  policy's ``password_expiration_days`` (0 = never), read from
  ``GET /api/2/policies/{id}`` (:mod:`connectors.onelogin.expiry` says which
  policy applies).
* Privileged accounts: holders of a protected role (the helpdesk's protected groups
  plus ``protected_roles``) and, with ``check_admin_privileges``, anyone assigned a
  delegated-administration privilege directly or through a role
  (``/api/1/privileges``, which needs a subscription with Delegated Administration;
  :mod:`connectors.onelogin.privileges`).

Transport, tokens, retries, rate limits and paging live in
:mod:`connectors.onelogin.http`; the status-to-error table in
:mod:`connectors.onelogin.errors`; the connector block in
:mod:`connectors.onelogin.settings`.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from config.clock import SYSTEM_CLOCK, Clock
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
)
from connectors.emails import same_email
from connectors.errors import (
    ConnectorError,
    GroupNotFound,
    InvalidState,
    NotSupported,
    OutcomeUnknown,
    Unavailable,
    UserNotFound,
)
from connectors.onelogin.accounts import is_locked, numeric_user_id, user_from
from connectors.onelogin.errors import Subject
from connectors.onelogin.expiry import PasswordExpiry
from connectors.onelogin.http import OneLoginHttp, RetryPolicy, TransportStats
from connectors.onelogin.privileges import Privileges
from connectors.onelogin.push import ProtectPush, protect_devices
from connectors.onelogin.roles import Roles
from connectors.onelogin.settings import ConnectorOptions, Settings
from connectors.onelogin.values import (
    CLOSED_STATES,
    EMAIL,
    STATUS_AWAITING_PASSWORD_RESET,
    STATUS_SUSPENDED,
    generate_temp_password,
)

log = get_logger("connectors.onelogin")


class OneLoginConnector:
    """Every helpdesk role, served by one OneLogin account (see the module docstring)."""

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
        http: OneLoginHttp,
        options: ConnectorOptions | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.name = name
        self._http = http
        self._options = options or ConnectorOptions()
        self._now = lambda: datetime.fromtimestamp(clock.wall(), UTC)
        ttl = self._options.cache_ttl
        self._roles = Roles(name, http, ttl, clock.monotonic)
        self._expiry = PasswordExpiry(name, http, self._options, clock.monotonic)
        self._privileges = Privileges(http, ttl, clock.monotonic)
        self._push = ProtectPush(name, http, self._now)

    def __repr__(self) -> str:
        return f"OneLoginConnector(name={self.name!r}, base_url={self._http.base_url!r})"

    @property
    def http(self) -> OneLoginHttp:
        """The API client (rate-limit state, token fetch count) for diagnostics."""
        return self._http

    @property
    def stats(self) -> TransportStats:
        """Running totals of retries and 429s (read for ``/metrics``)."""
        return self._http.stats

    # -- Directory ------------------------------------------------------------
    async def find_user_by_email(self, email: str) -> DirectoryUser:
        """Return the one user whose email is exactly ``email`` (``connectors.emails``)."""
        wanted = email.strip()
        if len(wanted) > 254 or not EMAIL.fullmatch(wanted):
            raise UserNotFound(self.name, "not an email address OneLogin can search for exactly")
        matches: dict[str, dict[str, Any]] = {}
        async for page in self._http.paginate(
            "/api/2/users", subject=Subject.USER, params={"email": wanted}, page_size=50
        ):
            for raw in page:
                # The server filter may be looser than equality; only exact matches count.
                if same_email(str(raw.get("email") or ""), wanted):
                    matches[str(raw.get("id"))] = raw
        if not matches:
            raise UserNotFound(self.name, "no OneLogin user with that email")
        if len(matches) > 1:
            raise UserNotFound(
                self.name, f"{len(matches)} OneLogin users share that email; refusing to guess",
                code="ambiguous",
            )
        return self._user_from(next(iter(matches.values())))

    async def get_user(self, user_id: str) -> DirectoryUser:
        """Return the user with OneLogin id ``user_id``."""
        return self._user_from(await self._raw_user(user_id))

    async def protections(
        self, user: DirectoryUser, protected_groups: Collection[str]
    ) -> list[Protection]:
        """Protected roles the user holds and admin privileges assigned to them or their roles."""
        raw = await self._raw_user(user.id)
        uid = int(user.id)
        reasons: list[Protection] = []
        names = {n.strip() for n in (*protected_groups, *self._options.protected_roles)}
        for name in sorted((n for n in names if n), key=str.lower):
            for role in await self._roles.named(name, exact=False):
                if await self._roles.held_by(raw, int(role.id)):
                    reasons.append(Protection(ProtectionKind.PROTECTED_GROUP, f"role {role.name}"))
        if self._options.check_admin_privileges:
            for privilege in await self._privileges.all():
                if uid in privilege.user_ids:
                    held = f"OneLogin privilege {privilege.name}"
                    reasons.append(Protection(ProtectionKind.ADMIN_ROLE, held))
                    continue
                for role_id in sorted(privilege.role_ids):
                    if await self._roles.held_by(raw, role_id):
                        reasons.append(Protection(
                            ProtectionKind.ADMIN_ROLE,
                            f"OneLogin privilege {privilege.name} through a role",
                        ))
                        break
        return reasons

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    # -- GroupManager ---------------------------------------------------------
    async def find_group(self, name: str) -> DirectoryGroup:
        """Return the role named exactly ``name`` (a unique case-insensitive match also counts)."""
        exact = await self._roles.named(name, exact=True)
        if len(exact) == 1:
            return exact[0]
        loose = await self._roles.named(name, exact=False)
        if len(loose) == 1 and not exact:
            return loose[0]
        if exact or loose:
            raise GroupNotFound(self.name, f"several OneLogin roles are named {name!r}")
        raise GroupNotFound(self.name, f"no OneLogin role named {name!r}")

    async def is_member(self, user: DirectoryUser, group: DirectoryGroup) -> bool:
        """Whether the user holds the role."""
        role_id = self._roles.role_id(group)
        return await self._roles.held_by(await self._raw_user(user.id), role_id)

    async def add_to_group(self, user: DirectoryUser, group: DirectoryGroup) -> MembershipChange:
        """Assign the role; ``ALREADY_MEMBER`` when the user holds it."""
        role_id = self._roles.role_id(group)
        if await self.is_member(user, group):
            return MembershipChange.ALREADY_MEMBER
        try:
            await self._http.request(
                "POST", f"/api/2/roles/{role_id}/users", subject=Subject.ROLE, json=[int(user.id)]
            )
        except Unavailable as exc:
            # The POST may have reached OneLogin before the failure; it is never sent
            # twice, so look at the outcome instead.
            try:
                held = await self.is_member(user, group)
            except ConnectorError:
                raise exc from None  # still unknown when the answer was lost
            if held:
                return MembershipChange.ADDED
            raise Unavailable(self.name, exc.message, code=exc.code) from None
        log.info("onelogin.role_added", provider=self.name, user_id=user.id, role_id=role_id)
        return MembershipChange.ADDED

    async def remove_from_group(
        self, user: DirectoryUser, group: DirectoryGroup
    ) -> MembershipChange:
        """Remove the role; ``NOT_MEMBER`` when the user does not hold it."""
        role_id = self._roles.role_id(group)
        if not await self.is_member(user, group):
            return MembershipChange.NOT_MEMBER
        # The body is a bare array of user ids, not an object
        # (https://developers.onelogin.com/api-docs/2/roles/remove-role-users).
        await self._http.request(
            "DELETE", f"/api/2/roles/{role_id}/users", subject=Subject.ROLE, json=[int(user.id)]
        )
        log.info("onelogin.role_removed", provider=self.name, user_id=user.id, role_id=role_id)
        return MembershipChange.REMOVED

    # -- PasswordResetter -----------------------------------------------------
    async def start_password_reset(
        self, user: DirectoryUser, delivery: ResetDelivery
    ) -> PasswordResetGrant:
        """Set a temporary password the user must change at next login; links are not offered."""
        if delivery is ResetDelivery.LINK:
            raise NotSupported(
                self.name,
                "OneLogin's API cannot issue a one-time reset link; "
                "set password_reset.delivery to temp_password",
            )
        current = self._user_from(await self._raw_user(user.id))
        if current.status in CLOSED_STATES:
            raise InvalidState(self.name, f"user {user.id} is {current.status}", code="status")
        password = Secret(generate_temp_password(self._options.temp_password_length))
        validate = "true" if self._options.validate_password_policy else "false"
        # Not replayed: a repeated PUT of the same password can be refused by the
        # policy's password history, and a failure leaves nothing to deliver anyway.
        await self._http.request(
            "PUT",
            f"/api/2/users/{int(user.id)}",
            subject=Subject.PASSWORD,
            params={"validate_policy": validate},
            json={"password": password.reveal(), "password_confirmation": password.reveal()},
            replay_safe=False,
        )
        if self._options.require_password_change:
            try:
                await self._http.request(
                    "PUT",
                    f"/api/2/users/{int(user.id)}",
                    subject=Subject.USER,
                    json={"status": STATUS_AWAITING_PASSWORD_RESET},
                )
            except Unavailable as exc:
                # The password is set but not yet temporary: the account did change.
                raise OutcomeUnknown(
                    self.name, f"password set, forced change not: {exc.message}", code=exc.code
                ) from None
        log.info("onelogin.temp_password_set", provider=self.name, user_id=user.id)
        return PasswordResetGrant(
            ResetDelivery.TEMP_PASSWORD,
            password,
            None,
            must_change_at_next_login=self._options.require_password_change,
        )

    # -- Unlocker -------------------------------------------------------------
    async def unlock(self, user: DirectoryUser) -> UnlockResult:
        """Unlock a locked account; ``NOT_LOCKED`` when OneLogin shows it unlocked."""
        if not is_locked(await self._raw_user(user.id), self._now):
            return UnlockResult.NOT_LOCKED
        try:
            await self._http.request(
                "POST", f"/api/2/users/{int(user.id)}/unlock", subject=Subject.UNLOCK
            )
        except OutcomeUnknown:
            raise  # the answer was lost: the caller re-reads the account
        except (Unavailable, InvalidState):
            # Never replayed; a refusal (or "cannot be unlocked" because a concurrent
            # unlock worked) is settled by reading the account.
            if not is_locked(await self._raw_user(user.id), self._now):
                return UnlockResult.UNLOCKED
            raise
        log.info("onelogin.unlocked", provider=self.name, user_id=user.id)
        return UnlockResult.UNLOCKED

    # -- MfaResetter ----------------------------------------------------------
    async def list_factors(self, user: DirectoryUser) -> Sequence[MfaFactor]:
        """The user's enrolled MFA devices."""
        body = await self._http.get_json(
            f"/api/2/mfa/users/{self._user_id(user.id)}/devices", subject=Subject.MFA
        )
        if not isinstance(body, list):
            raise ConnectorError(self.name, "OneLogin sent a non-list MFA device answer")
        factors: list[MfaFactor] = []
        for device in body:
            if not isinstance(device, dict) or device.get("device_id") in (None, ""):
                continue
            factors.append(
                MfaFactor(
                    id=str(device["device_id"]),
                    kind=str(device.get("auth_factor_name") or "unknown"),
                    name=str(
                        device.get("user_display_name")
                        or device.get("type_display_name")
                        or device.get("auth_factor_name")
                        or ""
                    ),
                )
            )
        return factors

    # -- PushVerifier (connectors.onelogin.push) -------------------------------
    async def push_factors(self, user: DirectoryUser) -> Sequence[MfaFactor]:
        """The user's OneLogin Protect devices."""
        return protect_devices(await self.list_factors(user))

    async def start_push(
        self, user: DirectoryUser, factor: MfaFactor, *, number_matching: bool = True
    ) -> PushChallenge:
        """Send a OneLogin Protect push (it has no number matching)."""
        return await self._push.start(self._user_id(user.id), factor)

    async def push_state(self, challenge: PushChallenge) -> PushState:
        return await self._push.state(challenge)

    async def reset_factors(self, user: DirectoryUser, factor_id: str | None = None) -> int:
        """Delete one device, or all when ``factor_id`` is None; return how many are gone."""
        uid = self._user_id(user.id)
        targets = [
            f for f in await self.list_factors(user) if factor_id is None or f.id == factor_id
        ]
        removed = 0
        lost: OutcomeUnknown | None = None
        for factor in targets:
            # Listed a moment ago: a 404 now means it is gone (perhaps by our own
            # retried DELETE whose first answer was lost).
            try:
                with contextlib.suppress(UserNotFound):
                    await self._http.request(
                        "DELETE",
                        f"/api/2/mfa/users/{uid}/devices/{quote(factor.id, safe='')}",
                        subject=Subject.MFA,
                    )
            except OutcomeUnknown as exc:
                lost = exc  # the other devices still go
                continue
            removed += 1
        if lost is not None:
            # Devices go one by one: say how many were due, the caller re-reads them.
            raise OutcomeUnknown(self.name, lost.message, planned=len(targets)) from lost
        if removed:
            log.info("onelogin.mfa_reset", provider=self.name, user_id=user.id, removed=removed)
        return removed

    # -- AccountContainer -----------------------------------------------------
    def containment_steps(self) -> frozenset[ContainStep]:
        return frozenset(ContainStep)

    async def contain(
        self, user: DirectoryUser, steps: Sequence[ContainStep]
    ) -> list[ContainStep]:
        """Log out (``PUT /api/1/users/{id}/logout``, "Log User Out": ends the OneLogin
        session, not those of apps already signed in to), suspend (API v2 Update User,
        ``status`` 2: nobody signs in until an admin reactivates), remove every MFA device.

        Logging out needs Manage users; suspending, Manage All (OneLogin's scope table).
        """
        uid = self._user_id(user.id)
        done: list[ContainStep] = []
        for step in steps:
            if step is ContainStep.CLEAR_SESSIONS:
                await self._http.request(
                    "PUT", f"/api/1/users/{uid}/logout", subject=Subject.USER,
                    replay_safe=True,
                )
            elif step is ContainStep.SUSPEND:
                await self._http.request(
                    "PUT", f"/api/2/users/{uid}", subject=Subject.USER,
                    json={"status": STATUS_SUSPENDED}, replay_safe=True,
                )
            elif step is ContainStep.RESET_FACTORS:
                await self.reset_factors(user)
            log.info("onelogin.contained", provider=self.name, user_id=user.id, step=step.value)
            done.append(step)
        return done

    # -- ExpiryReporter -------------------------------------------------------
    async def password_status(self, user: DirectoryUser) -> PasswordStatus:
        """Last change and expiry from ``password_changed_at`` and the applicable policy."""
        return await self._expiry.status_of(await self._raw_user(user.id))

    async def iter_expiring(self, before: datetime) -> AsyncIterator[list[ExpiringUser]]:
        """Pages of active users whose password expires before ``before``.

        OneLogin cannot filter users by password age, so every page of
        ``/api/2/users`` is read and filtered here; policies are read once each.
        """
        async for page in self._http.paginate(
            "/api/2/users", subject=Subject.USER, page_size=self._options.page_size
        ):
            rows: list[ExpiringUser] = []
            for raw in page:
                person = self._user_from(raw)
                if person.status in CLOSED_STATES:
                    continue
                status = await self._expiry.status_of(raw)
                if status.expires_at is None or status.expires_at >= before:
                    continue
                rows.append(ExpiringUser(person, status))
            if rows:
                yield rows

    # -- users ----------------------------------------------------------------
    def _user_id(self, user_id: str) -> int:
        return numeric_user_id(self.name, user_id)

    async def _raw_user(self, user_id: str) -> dict[str, Any]:
        uid = self._user_id(user_id)
        body = await self._http.get_json(f"/api/2/users/{uid}", subject=Subject.USER)
        if not isinstance(body, dict) or body.get("id") is None:
            raise UserNotFound(self.name, f"OneLogin returned no user for id {uid}")
        return body

    def _user_from(self, raw: Mapping[str, Any]) -> DirectoryUser:
        return user_from(self.name, raw, self._now)


def build(
    name: str,
    settings: Settings,
    environ: Mapping[str, str],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> OneLoginConnector:
    """Make the connector for one configured OneLogin account (secrets read from ``environ``).

    ``transport`` and ``clock`` exist for tests.
    """
    verify: Any = True
    if settings.verify_ca_file is not None:
        verify = ssl.create_default_context(cafile=str(settings.verify_ca_file))
    http = OneLoginHttp(
        name,
        settings.resolved_base_url(),
        settings.client_id,
        settings.client_secret.resolve(environ),
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        verify=verify,
        policy=RetryPolicy(max_attempts=settings.max_attempts, max_wait=settings.max_retry_wait),
        clock=clock,
        transport=transport,
    )
    return OneLoginConnector(name, http, ConnectorOptions.from_settings(settings), clock=clock)
