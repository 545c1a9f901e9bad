"""An in-memory directory that implements every role: the reference implementation.

It defines, in the plainest code, what the contract suite expects of a real
connector, and it stands in for a directory in action tests. Faults can be
injected (``fail_next``) to exercise outage handling.

Like every kind's package it exports what the registry reads: ``Settings``,
``build``, ``LABEL`` and ``diagnose``.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from config.secrets import Secret
from connectors.base import (
    Capability,
    ContainStep,
    Directory,
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
from connectors.doctor import Finding, Needs, probe_only
from connectors.emails import same_email
from connectors.errors import (
    ConnectorError,
    GroupNotFound,
    InvalidState,
    UserNotFound,
)

LABEL = "memory"

_CLOSED_STATES = frozenset({UserStatus.SUSPENDED, UserStatus.DEPROVISIONED, UserStatus.STAGED})


@dataclass
class MemoryAccount:
    """Mutable state of one account."""

    user: DirectoryUser
    password_changed: datetime | None = None
    never_expires: bool = False
    admin_roles: list[str] = field(default_factory=list)
    factors: list[MfaFactor] = field(default_factory=list)
    #: Open sign-in sessions (a count: enough to show they were cleared).
    sessions: int = 1


@dataclass
class MemoryPush:
    """One push challenge: who it went to, the number to pick, and the answer so far."""

    challenge: PushChallenge
    state: PushState = PushState.WAITING


#: Factor kinds a push goes to (Okta's ``push``, OneLogin Protect's ``OneLogin Protect``).
PUSH_KINDS = frozenset({"push", "onelogin protect"})


class MemoryDirectory:
    """Every role, kept in dictionaries; ``max_age`` is the password policy."""

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
        name: str = "memory",
        *,
        max_age: timedelta = timedelta(days=90),
        page_size: int = 200,
        clock: type[datetime] = datetime,
        push_lifetime: timedelta = timedelta(minutes=5),
    ) -> None:
        self.name = name
        self.max_age = max_age
        self.page_size = page_size
        self._clock = clock
        self.accounts: dict[str, MemoryAccount] = {}
        self.groups: dict[str, DirectoryGroup] = {}
        self.members: dict[str, set[str]] = {}
        self._fail_next: list[ConnectorError] = []
        self.calls: list[str] = []
        # Push challenges by transaction id: their state and the number to pick.
        self.pushes: dict[str, MemoryPush] = {}
        self.push_lifetime = push_lifetime

    # -- seeding -------------------------------------------------------------
    def add_user(
        self,
        email: str,
        *,
        display_name: str = "",
        status: UserStatus = UserStatus.ACTIVE,
        password_changed: datetime | None = None,
        never_expires: bool = False,
        admin_roles: Sequence[str] = (),
        factors: Sequence[MfaFactor] = (),
        attributes: dict[str, str] | None = None,
    ) -> DirectoryUser:
        user = DirectoryUser(
            provider=self.name,
            id=f"mem{len(self.accounts) + 1:05d}",
            email=email,
            login=email,
            display_name=display_name or email.split("@")[0],
            status=status,
            attributes=dict(attributes or {}),
        )
        self.accounts[user.id] = MemoryAccount(
            user=user,
            password_changed=password_changed or self._now() - timedelta(days=1),
            never_expires=never_expires,
            admin_roles=list(admin_roles),
            factors=list(factors),
        )
        return user

    def add_group(self, name: str, description: str = "") -> DirectoryGroup:
        group = DirectoryGroup(self.name, f"grp{len(self.groups) + 1:04d}", name, description)
        self.groups[group.id] = group
        self.members[group.id] = set()
        return group

    def fail_next(self, error: ConnectorError, times: int = 1) -> None:
        """Make the next ``times`` calls raise ``error``."""
        self._fail_next.extend([error] * times)

    def set_status(self, user_id: str, status: UserStatus) -> None:
        acct = self.accounts[user_id]
        acct.user = replace(acct.user, status=status)

    # -- plumbing ------------------------------------------------------------
    def _now(self) -> datetime:
        return self._clock.now(UTC)

    def _enter(self, op: str) -> None:
        self.calls.append(op)
        if self._fail_next:
            raise self._fail_next.pop(0)

    def _account(self, user: DirectoryUser | str) -> MemoryAccount:
        user_id = user if isinstance(user, str) else user.id
        try:
            return self.accounts[user_id]
        except KeyError:
            raise UserNotFound(self.name, f"no user with id {user_id}") from None

    def _group(self, group: DirectoryGroup) -> DirectoryGroup:
        try:
            return self.groups[group.id]
        except KeyError:
            raise GroupNotFound(self.name, f"no group with id {group.id}") from None

    def _status_of(self, acct: MemoryAccount) -> PasswordStatus:
        if acct.never_expires or acct.password_changed is None:
            return PasswordStatus(acct.password_changed, None, never_expires=True)
        return PasswordStatus(
            acct.password_changed, acct.password_changed + self.max_age, never_expires=False
        )

    # -- Directory -----------------------------------------------------------
    async def find_user_by_email(self, email: str) -> DirectoryUser:
        self._enter("find_user_by_email")
        for acct in self.accounts.values():
            if same_email(acct.user.email, email):
                return acct.user
        raise UserNotFound(self.name, "no user with that email")

    async def get_user(self, user_id: str) -> DirectoryUser:
        self._enter("get_user")
        return self._account(user_id).user

    async def protections(
        self, user: DirectoryUser, protected_groups: Collection[str]
    ) -> list[Protection]:
        self._enter("protections")
        acct = self._account(user)
        reasons = [Protection(ProtectionKind.ADMIN_ROLE, role) for role in acct.admin_roles]
        wanted = {g.lower() for g in protected_groups}
        for gid, members in self.members.items():
            name = self.groups[gid].name
            if user.id in members and name.lower() in wanted:
                reasons.append(Protection(ProtectionKind.PROTECTED_GROUP, name))
        return reasons

    async def aclose(self) -> None:
        return None

    # -- GroupManager --------------------------------------------------------
    async def find_group(self, name: str) -> DirectoryGroup:
        self._enter("find_group")
        for group in self.groups.values():
            if group.name == name:
                return group
        raise GroupNotFound(self.name, f"no group named {name!r}")

    async def is_member(self, user: DirectoryUser, group: DirectoryGroup) -> bool:
        self._enter("is_member")
        return self._account(user).user.id in self.members[self._group(group).id]

    async def add_to_group(self, user: DirectoryUser, group: DirectoryGroup) -> MembershipChange:
        self._enter("add_to_group")
        members = self.members[self._group(group).id]
        acct = self._account(user)
        if acct.user.id in members:
            return MembershipChange.ALREADY_MEMBER
        members.add(acct.user.id)
        return MembershipChange.ADDED

    async def remove_from_group(
        self, user: DirectoryUser, group: DirectoryGroup
    ) -> MembershipChange:
        self._enter("remove_from_group")
        members = self.members[self._group(group).id]
        acct = self._account(user)
        if acct.user.id not in members:
            return MembershipChange.NOT_MEMBER
        members.discard(acct.user.id)
        return MembershipChange.REMOVED

    # -- PasswordResetter ----------------------------------------------------
    async def start_password_reset(
        self, user: DirectoryUser, delivery: ResetDelivery
    ) -> PasswordResetGrant:
        self._enter("start_password_reset")
        acct = self._account(user)
        if acct.user.status in _CLOSED_STATES:
            raise InvalidState(self.name, f"user {user.id} is {acct.user.status}")
        if delivery is ResetDelivery.LINK:
            acct.user = replace(acct.user, status=UserStatus.RECOVERY)
            token = secrets.token_urlsafe(24)
            return PasswordResetGrant(
                delivery,
                Secret(f"https://memory.invalid/reset/{token}"),
                self._now() + timedelta(hours=1),
                must_change_at_next_login=False,
            )
        acct.user = replace(acct.user, status=UserStatus.PASSWORD_EXPIRED)
        return PasswordResetGrant(
            delivery, Secret(secrets.token_urlsafe(12)), None, must_change_at_next_login=True
        )

    # -- Unlocker ------------------------------------------------------------
    async def unlock(self, user: DirectoryUser) -> UnlockResult:
        self._enter("unlock")
        acct = self._account(user)
        if acct.user.status is not UserStatus.LOCKED_OUT:
            return UnlockResult.NOT_LOCKED
        acct.user = replace(acct.user, status=UserStatus.ACTIVE)
        return UnlockResult.UNLOCKED

    # -- MfaResetter ---------------------------------------------------------
    async def list_factors(self, user: DirectoryUser) -> Sequence[MfaFactor]:
        self._enter("list_factors")
        return list(self._account(user).factors)

    async def reset_factors(self, user: DirectoryUser, factor_id: str | None = None) -> int:
        self._enter("reset_factors")
        acct = self._account(user)
        before = len(acct.factors)
        acct.factors = [f for f in acct.factors if factor_id is not None and f.id != factor_id]
        return before - len(acct.factors)

    # -- AccountContainer ----------------------------------------------------
    def containment_steps(self) -> frozenset[ContainStep]:
        return frozenset(ContainStep)

    async def contain(
        self, user: DirectoryUser, steps: Sequence[ContainStep]
    ) -> list[ContainStep]:
        done: list[ContainStep] = []
        for step in steps:
            self._enter(f"contain:{step.value}")
            acct = self._account(user)
            if step is ContainStep.CLEAR_SESSIONS:
                acct.sessions = 0
            elif step is ContainStep.SUSPEND:
                if acct.user.status is not UserStatus.DEPROVISIONED:
                    acct.user = replace(acct.user, status=UserStatus.SUSPENDED)
            elif step is ContainStep.RESET_FACTORS:
                acct.factors = []
            done.append(step)
        return done

    # -- PushVerifier --------------------------------------------------------
    async def push_factors(self, user: DirectoryUser) -> Sequence[MfaFactor]:
        self._enter("push_factors")
        return [
            f for f in self._account(user).factors
            if f.kind.lower() in PUSH_KINDS and f.status == "active"
        ]

    async def start_push(
        self, user: DirectoryUser, factor: MfaFactor, *, number_matching: bool = True
    ) -> PushChallenge:
        self._enter("start_push")
        acct = self._account(user)
        if factor.id not in {f.id for f in acct.factors}:
            raise ConnectorError(self.name, "no such factor")
        challenge = PushChallenge(
            provider=self.name,
            user_id=user.id,
            factor=factor,
            transaction=secrets.token_urlsafe(12),
            number=10 + secrets.randbelow(90) if number_matching else None,
            expires_at=self._now() + self.push_lifetime,
        )
        self.pushes[challenge.transaction] = MemoryPush(challenge)
        return challenge

    async def push_state(self, challenge: PushChallenge) -> PushState:
        self._enter("push_state")
        push = self.pushes.get(challenge.transaction)
        if push is None or push.challenge.user_id != challenge.user_id:
            raise ConnectorError(self.name, "no such push transaction")
        expires = push.challenge.expires_at
        if push.state is PushState.WAITING and expires is not None and self._now() >= expires:
            push.state = PushState.TIMED_OUT
        return push.state

    def answer_push(self, user: DirectoryUser, picked: int | None) -> PushChallenge:
        """The device's answer to the user's waiting push: the number picked, or ``None`` (deny).

        A wrong number is a rejection, as on Okta Verify.
        """
        waiting = [p for p in self.pushes.values()
                   if p.challenge.user_id == user.id and p.state is PushState.WAITING]
        if not waiting:
            raise LookupError(f"no push is waiting for {user.email}")
        push = waiting[-1]
        approved = picked is not None and picked == push.challenge.number
        push.state = PushState.APPROVED if approved else PushState.REJECTED
        return push.challenge

    def waiting_push(self, user: DirectoryUser) -> PushChallenge | None:
        """The user's latest unanswered push, if any (what their phone shows)."""
        for push in reversed(self.pushes.values()):
            if push.challenge.user_id == user.id and push.state is PushState.WAITING:
                return push.challenge
        return None

    def time_out_push(self, user: DirectoryUser) -> None:
        """Let the user's waiting pushes expire (nobody answered)."""
        for push in self.pushes.values():
            if push.challenge.user_id == user.id and push.state is PushState.WAITING:
                push.state = PushState.TIMED_OUT

    # -- ExpiryReporter ------------------------------------------------------
    async def password_status(self, user: DirectoryUser) -> PasswordStatus:
        self._enter("password_status")
        return self._status_of(self._account(user))

    async def iter_expiring(self, before: datetime) -> AsyncIterator[list[ExpiringUser]]:
        page: list[ExpiringUser] = []
        for acct in list(self.accounts.values()):
            status = self._status_of(acct)
            if status.expires_at is None or status.expires_at >= before:
                continue
            if acct.user.status in _CLOSED_STATES:
                continue
            page.append(ExpiringUser(acct.user, status))
            if len(page) == self.page_size:
                self._enter("iter_expiring")
                yield page
                page = []
        if page:
            self._enter("iter_expiring")
            yield page


class SeedUser(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    email: str
    """The user's email (how employees are matched)."""
    display_name: str = ""
    """The user's name."""
    status: UserStatus = UserStatus.ACTIVE
    """The account's state."""
    password_age_days: int = 1
    """Days since the password was set."""
    never_expires: bool = False
    """The password never expires."""
    admin_roles: list[str] = []
    """Directory admin roles the user holds."""
    factors: list[str] = []
    """Enrolled MFA factor types."""
    groups: list[str] = []
    """Groups the user is a member of."""


class Settings(BaseModel):
    """An in-memory directory seeded from the config (demos and tests only)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    max_password_age_days: int = 90
    """Password lifetime."""
    groups: list[str] = []
    """Groups to create."""
    users: list[SeedUser] = []
    """Users to create."""


def build(name: str, settings: Settings, environ: Mapping[str, str]) -> MemoryDirectory:
    directory = MemoryDirectory(name, max_age=timedelta(days=settings.max_password_age_days))
    by_name = {g: directory.add_group(g) for g in settings.groups}
    now = datetime.now(UTC)
    for seed in settings.users:
        user = directory.add_user(
            seed.email,
            display_name=seed.display_name,
            status=seed.status,
            password_changed=now - timedelta(days=seed.password_age_days),
            never_expires=seed.never_expires,
            admin_roles=seed.admin_roles,
            factors=[MfaFactor(f"f{i}", kind, kind) for i, kind in enumerate(seed.factors)],
        )
        for group in seed.groups:
            target = by_name.get(group) or by_name.setdefault(group, directory.add_group(group))
            directory.members[target.id].add(user.id)
    return directory


async def diagnose(connector: Directory, settings: Settings, needs: Needs) -> list[Finding]:
    """The doctor's check: reachable, and no more (an in-memory directory has no privileges)."""
    return await probe_only(connector, "memory")
