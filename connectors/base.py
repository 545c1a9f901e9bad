"""The provider interface: value objects, capabilities and one small protocol per role.

An action asks only for the role it needs (``Unlocker``, ``GroupManager``...).
What a connector can do is declared in its ``capabilities`` attribute and must
equal what it implements (``implemented_capabilities``); the contract tests
check the two agree, so a missing capability is known from configuration,
never discovered by catching an error.

Users are keyed by the provider's stable id; email is only how we find them.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from config.secrets import Secret


class Capability(enum.Flag):
    """What a connector can do for the helpdesk."""

    NONE = 0
    GROUPS = enum.auto()
    PASSWORD_RESET = enum.auto()
    UNLOCK = enum.auto()
    MFA_RESET = enum.auto()
    PASSWORD_EXPIRY = enum.auto()
    #: Not offered to employees: a push to a factor they already have, to verify them
    #: before a change (``verification:`` in the configuration).
    PUSH_VERIFY = enum.auto()
    #: Not offered to employees: contain an account its owner reported ("This wasn't
    #: me" after a change): clear its sessions, suspend it, reset its factors.
    CONTAIN = enum.auto()

    @classmethod
    def parse(cls, name: str) -> Capability:
        """Map a config name such as ``password_reset`` to its flag."""
        try:
            return cls[name.strip().upper().replace("-", "_")]
        except KeyError:
            raise ValueError(f"unknown capability {name!r}") from None

    @property
    def label(self) -> str:
        """The config spelling (``password_reset``)."""
        return (self.name or "none").lower()


ALL_CAPABILITIES: tuple[Capability, ...] = (
    Capability.GROUPS,
    Capability.PASSWORD_RESET,
    Capability.UNLOCK,
    Capability.MFA_RESET,
    Capability.PASSWORD_EXPIRY,
)


class UserStatus(enum.StrEnum):
    """Account state, normalised across providers."""

    ACTIVE = "active"
    LOCKED_OUT = "locked_out"
    PASSWORD_EXPIRED = "password_expired"
    RECOVERY = "recovery"
    SUSPENDED = "suspended"
    DEPROVISIONED = "deprovisioned"
    STAGED = "staged"
    OTHER = "other"


#: ``DirectoryUser.attributes`` key of the profile's secondary email (Okta's
#: ``secondEmail``), where a connector reads one: change notices go there too.
SECONDARY_EMAIL = "secondary_email"

#: ``DirectoryUser.attributes`` key of when the password was last set, as the directory
#: reports it (compared, never parsed): a change shows a password write was applied.
PASSWORD_CHANGED = "password_changed"


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A person in one identity provider, keyed by that provider's stable ``id``."""

    provider: str
    id: str
    email: str
    login: str
    display_name: str
    status: UserStatus
    attributes: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def locked(self) -> bool:
        return self.status is UserStatus.LOCKED_OUT

    @property
    def notice_addresses(self) -> list[str]:
        """Where a change to this account is announced: the primary and secondary emails."""
        out: list[str] = []
        for address in (self.email, self.attributes.get(SECONDARY_EMAIL, "")):
            address = address.strip()
            if "@" in address and address.lower() not in {a.lower() for a in out}:
                out.append(address)
        return out


@dataclass(frozen=True, slots=True)
class DirectoryGroup:
    """A group in one identity provider, keyed by the provider's stable ``id``."""

    provider: str
    id: str
    name: str
    description: str = ""


class MembershipChange(enum.StrEnum):
    """What an idempotent membership call did."""

    ADDED = "added"
    ALREADY_MEMBER = "already_member"
    REMOVED = "removed"
    NOT_MEMBER = "not_member"


class ResetDelivery(enum.StrEnum):
    """How a password reset reaches the employee."""

    LINK = "link"
    TEMP_PASSWORD = "temp_password"


class ProtectionKind(enum.StrEnum):
    """Why the bot must not change an account from chat.

    ``ADMIN_ROLE``: the directory gives the account administrative power (an admin
    role or privilege, AD's ``adminCount=1``); ``protected.refuse_admin_roles: false``
    waives only this kind. ``PROTECTED_GROUP``: a member of a group (a OneLogin role)
    the configuration protects.
    """

    ADMIN_ROLE = "admin_role"
    PROTECTED_GROUP = "protected_group"


@dataclass(frozen=True, slots=True)
class Protection:
    """One reason an account is protected: its ``kind`` and the directory's ``detail``."""

    kind: ProtectionKind
    detail: str

    def __str__(self) -> str:
        if self.kind is ProtectionKind.ADMIN_ROLE:
            return f"admin role {self.detail}"
        return f"member of protected group {self.detail}"


@dataclass(frozen=True, slots=True)
class PasswordResetGrant:
    """The result of starting a reset: a one-time link or a temporary password."""

    delivery: ResetDelivery
    secret: Secret
    expires_at: datetime | None
    must_change_at_next_login: bool


class UnlockResult(enum.StrEnum):
    UNLOCKED = "unlocked"
    NOT_LOCKED = "not_locked"


@dataclass(frozen=True, slots=True)
class MfaFactor:
    """One enrolled MFA factor or device."""

    id: str
    kind: str
    name: str
    status: str = "active"


@dataclass(frozen=True, slots=True)
class PasswordStatus:
    """When the password was last changed and when it expires (``None`` with ``never_expires``)."""

    last_changed: datetime | None
    expires_at: datetime | None
    never_expires: bool

    def days_left(self, now: datetime) -> int | None:
        """Whole days until expiry (negative when expired), ``None`` when it never expires."""
        if self.never_expires or self.expires_at is None:
            return None
        return (self.expires_at - now).days


@dataclass(frozen=True, slots=True)
class ExpiringUser:
    """One row of an expiry sweep."""

    user: DirectoryUser
    status: PasswordStatus


@runtime_checkable
class Directory(Protocol):
    """Every connector: find people, tell whether they are privileged, close."""

    name: str
    capabilities: Capability

    async def find_user_by_email(self, email: str) -> DirectoryUser:
        """Return the one user with this email; ``UserNotFound`` otherwise."""
        ...

    async def get_user(self, user_id: str) -> DirectoryUser:
        """Return the user by the provider's stable id; ``UserNotFound`` otherwise."""
        ...

    async def protections(
        self, user: DirectoryUser, protected_groups: Collection[str]
    ) -> list[Protection]:
        """Why the bot must not touch this account: admin roles, membership of protected groups.

        An empty list means an ordinary account. Any failure raises: an unknown
        answer is never "ordinary".
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class GroupManager(Protocol):
    async def find_group(self, name: str) -> DirectoryGroup:
        """Return the group with exactly this name; ``GroupNotFound`` otherwise."""
        ...

    async def is_member(self, user: DirectoryUser, group: DirectoryGroup) -> bool: ...

    async def add_to_group(self, user: DirectoryUser, group: DirectoryGroup) -> MembershipChange:
        """Idempotent: an existing member is ``ALREADY_MEMBER``, not an error."""
        ...

    async def remove_from_group(
        self, user: DirectoryUser, group: DirectoryGroup
    ) -> MembershipChange:
        """Idempotent: a non-member is ``NOT_MEMBER``, not an error."""
        ...


@runtime_checkable
class PasswordResetter(Protocol):
    async def start_password_reset(
        self, user: DirectoryUser, delivery: ResetDelivery
    ) -> PasswordResetGrant:
        """Issue a one-time reset link, or a temporary password to change at next login."""
        ...


@runtime_checkable
class Unlocker(Protocol):
    async def unlock(self, user: DirectoryUser) -> UnlockResult:
        """Unlock a locked account; ``NOT_LOCKED`` when there was nothing to do."""
        ...


@runtime_checkable
class MfaResetter(Protocol):
    async def list_factors(self, user: DirectoryUser) -> Sequence[MfaFactor]: ...

    async def reset_factors(self, user: DirectoryUser, factor_id: str | None = None) -> int:
        """Remove one factor, or all when ``factor_id`` is None; return how many were removed."""
        ...


@runtime_checkable
class ExpiryReporter(Protocol):
    async def password_status(self, user: DirectoryUser) -> PasswordStatus: ...

    def iter_expiring(self, before: datetime) -> AsyncIterator[list[ExpiringUser]]:
        """Yield pages of users whose password expires before ``before``.

        Users whose password never expires are not yielded. Filtering happens on
        the server where the directory allows it.
        """
        ...


class PushState(enum.StrEnum):
    """Where a push challenge stands."""

    WAITING = "waiting"
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True, slots=True)
class PushChallenge:
    """A push sent to one enrolled factor, to be polled until it is answered.

    ``transaction`` is the provider's opaque handle (Okta's poll link, OneLogin's
    verification id); ``number`` is the number-matching answer the employee must
    pick on the device (shown in chat), ``None`` when the push has no number.
    """

    provider: str
    user_id: str
    factor: MfaFactor
    transaction: str
    number: int | None
    expires_at: datetime | None


@runtime_checkable
class PushVerifier(Protocol):
    """Proves the employee holds a factor they already have, before a self-service change."""

    async def push_factors(self, user: DirectoryUser) -> Sequence[MfaFactor]:
        """The user's active factors a push can be sent to (empty: push is not usable)."""
        ...

    async def start_push(
        self, user: DirectoryUser, factor: MfaFactor, *, number_matching: bool = True
    ) -> PushChallenge:
        """Send a push; with ``number_matching``, one whose number the user must pick."""
        ...

    async def push_state(self, challenge: PushChallenge) -> PushState:
        """The challenge's state now; ``TIMED_OUT`` once the provider gave up waiting."""
        ...


class ContainStep(enum.StrEnum):
    """One thing done to an account reported as taken over, in the order given."""

    CLEAR_SESSIONS = "clear_sessions"
    SUSPEND = "suspend"
    RESET_FACTORS = "reset_factors"


@runtime_checkable
class AccountContainer(Protocol):
    """Contains an account whose owner says a change through the bot wasn't them."""

    def containment_steps(self) -> frozenset[ContainStep]:
        """The steps this connector can take (the others are left to a person)."""
        ...

    async def contain(
        self, user: DirectoryUser, steps: Sequence[ContainStep]
    ) -> list[ContainStep]:
        """Take ``steps`` in order; return those done. Idempotent: a step already in
        effect (a suspended account, no sessions) counts as done. A failure raises
        ``ConnectorError`` after the steps before it were taken."""
        ...


ROLE_OF_CAPABILITY: dict[Capability, type] = {
    Capability.GROUPS: GroupManager,
    Capability.PASSWORD_RESET: PasswordResetter,
    Capability.UNLOCK: Unlocker,
    Capability.MFA_RESET: MfaResetter,
    Capability.PASSWORD_EXPIRY: ExpiryReporter,
    Capability.PUSH_VERIFY: PushVerifier,
    Capability.CONTAIN: AccountContainer,
}


def implemented_capabilities(connector: object) -> Capability:
    """Derive the capabilities from the role protocols an object implements."""
    found = Capability.NONE
    for cap, role in ROLE_OF_CAPABILITY.items():
        if isinstance(connector, role):
            found |= cap
    return found
