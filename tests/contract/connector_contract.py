"""The contract every connector passes: subclass ``ConnectorContract`` and provide ``world``.

The ``world`` fixture (async) yields a ``ContractWorld``: a connector plus the
names of accounts seeded in the directory behind it. Tests for a capability
the connector does not declare are skipped, and the declared capabilities must
equal the implemented ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from actions.errors import protections_that_count
from connectors.base import (
    AccountContainer,
    Capability,
    ContainStep,
    Directory,
    ExpiryReporter,
    GroupManager,
    MembershipChange,
    MfaResetter,
    PasswordResetter,
    ProtectionKind,
    ResetDelivery,
    Unlocker,
    UnlockResult,
    UserStatus,
    implemented_capabilities,
)
from connectors.errors import ConnectorError, GroupNotFound, PermissionDenied, UserNotFound


@dataclass
class ContractWorld:
    """A connector and the accounts seeded behind it.

    - ``ordinary_email``: an active user, in no protected group, with no admin role.
    - ``admin_email``: a user with a directory admin role.
    - ``protected_group`` / ``protected_member_email``: a group whose members are protected.
    - ``group_name``: an existing group ``ordinary_email`` is not a member of.
    - ``locked_email``: a locked user (UNLOCK), or ``lock`` to lock one for real.
    - ``expiring_email``: password expires within 14 days; ``never_expiring_email``: never.
    - ``mfa_email``: a user with at least two MFA factors.
    """

    connector: Directory
    ordinary_email: str
    admin_email: str
    protected_group: str
    protected_member_email: str
    group_name: str
    locked_email: str | None = None
    lock: Callable[[str], Awaitable[None]] | None = None
    expiring_email: str | None = None
    never_expiring_email: str | None = None
    mfa_email: str | None = None
    temp_password_supported: bool = True
    link_supported: bool = True
    #: Whether the world's service account may suspend users (CONTAIN): where it may not,
    #: the suspend step must fail with ``PermissionDenied`` after the steps before it.
    suspend_allowed: bool = True


#: Look-alikes of ASCII letters (issue 16): each folds onto the letter under ``casefold``,
#: ``lower``/``upper``, NFKC or the eye, and must never find the plain address's account.
LOOKALIKES: dict[str, tuple[str, str]] = {
    "kelvin sign": ("k", "\u212a"),
    "long s": ("s", "\u017f"),
    "dotless i": ("i", "\u0131"),
    "dotted capital I": ("i", "\u0130"),
    "full-width a": ("a", "\uff41"),
    "full-width e": ("e", "\uff45"),
    "cyrillic a": ("a", "\u0430"),
    "cyrillic o": ("o", "\u043e"),
    "cyrillic e": ("e", "\u0435"),
    "greek omicron": ("o", "\u03bf"),
}


def lookalike_addresses(emails: list[str]) -> dict[str, str]:
    """Spellings of seeded addresses that are other addresses: homoglyphs, plus-addressing,
    a trailing dot, a zero-width space, a decomposed accent where there was none."""
    out: dict[str, str] = {}
    for kind, (letter, look) in LOOKALIKES.items():
        for email in emails:
            at = email.find(letter)
            if at >= 0:
                out[f"{kind} in {email}"] = email[:at] + look + email[at + 1:]
                break
    for email in emails[:2]:
        local, _, domain = email.partition("@")
        out[f"plus-addressing of {email}"] = f"{local}+helpdesk@{domain}"
        out[f"trailing dot of {email}"] = f"{email}."
        out[f"dot in the local part of {email}"] = f"{local[:1]}.{local[1:]}@{domain}"
        out[f"zero-width space in {email}"] = f"{local}\u200b@{domain}"
        out[f"prefix of {email}"] = f"{local[:-1]}@{domain}"
        out[f"combining accent on {email}"] = f"{local}\u0301@{domain}"
    return out


def _needs(world: ContractWorld, cap: Capability) -> None:
    if cap not in world.connector.capabilities:
        pytest.skip(f"{world.connector.name} does not declare {cap.label}")


class ConnectorContract:
    """Shared behaviour; a subclass supplies the async ``world`` fixture."""

    async def test_declared_capabilities_match_implemented(self, world: ContractWorld) -> None:
        assert isinstance(world.connector, Directory)
        assert world.connector.capabilities == implemented_capabilities(world.connector)

    async def test_find_user_by_email_any_case(self, world: ContractWorld) -> None:
        user = await world.connector.find_user_by_email(world.ordinary_email.upper())
        assert user.email.lower() == world.ordinary_email.lower()
        assert user.provider == world.connector.name
        again = await world.connector.get_user(user.id)
        assert again.id == user.id and again.email.lower() == user.email.lower()

    async def test_lookalike_emails_find_nobody(self, world: ContractWorld) -> None:
        seeded = [e for e in (
            world.ordinary_email, world.locked_email, world.expiring_email,
            world.never_expiring_email, world.mfa_email, world.protected_member_email,
            world.admin_email,
        ) if e]
        variants = lookalike_addresses(seeded)
        # The homoglyphs of the example need a k and an s among the seeded accounts.
        assert any(k.startswith("kelvin") for k in variants) or not any("k" in e for e in seeded)
        assert len(variants) >= 12, variants
        found: dict[str, str] = {}
        for kind, address in variants.items():
            try:
                user = await world.connector.find_user_by_email(address)
            except UserNotFound:
                continue
            found[kind] = user.email
        assert found == {}, f"look-alike addresses matched accounts: {found}"

    async def test_case_of_ascii_letters_still_matches(self, world: ContractWorld) -> None:
        local, _, domain = world.ordinary_email.partition("@")
        for spelling in (local.capitalize() + "@" + domain.upper(), world.ordinary_email.upper(),
                         f"  {world.ordinary_email}  "):
            user = await world.connector.find_user_by_email(spelling)
            assert user.email.lower() == world.ordinary_email.lower()

    async def test_contain_clears_sessions_and_suspends(self, world: ContractWorld) -> None:
        _needs(world, Capability.CONTAIN)
        c = world.connector
        assert isinstance(c, AccountContainer)
        assert ContainStep.SUSPEND in c.containment_steps()
        user = await c.find_user_by_email(world.ordinary_email)
        asked = [ContainStep.CLEAR_SESSIONS, ContainStep.SUSPEND]
        # A step the connector cannot take (AD has no sessions to end) is not done.
        steps = [s for s in asked if s in c.containment_steps()]
        before = [s for s in steps if s is not ContainStep.SUSPEND]
        if not world.suspend_allowed:
            assert await c.contain(user, before) == before
            with pytest.raises(PermissionDenied):
                await c.contain(user, asked)
            assert (await c.get_user(user.id)).status is UserStatus.ACTIVE
            return
        assert await c.contain(user, asked) == steps
        assert (await c.get_user(user.id)).status is UserStatus.SUSPENDED
        # Again: already suspended, no sessions left; both count as done.
        assert await c.contain(user, asked) == steps

    async def test_contain_resets_factors(self, world: ContractWorld) -> None:
        _needs(world, Capability.CONTAIN)
        c = world.connector
        assert isinstance(c, AccountContainer)
        if ContainStep.RESET_FACTORS not in c.containment_steps():
            # Then it has no factors of its own to reset (AD).
            assert not isinstance(c, MfaResetter)
            pytest.skip(f"{c.name} cannot reset factors")
        assert isinstance(c, MfaResetter) and world.mfa_email
        user = await c.find_user_by_email(world.mfa_email)
        assert await c.contain(user, [ContainStep.RESET_FACTORS]) == [ContainStep.RESET_FACTORS]
        assert list(await c.list_factors(user)) == []

    async def test_unknown_email_is_user_not_found(self, world: ContractWorld) -> None:
        with pytest.raises(UserNotFound):
            await world.connector.find_user_by_email("nobody-at-all@example.invalid")

    async def test_hostile_email_does_not_widen_search(self, world: ContractWorld) -> None:
        for hostile in ('x" or email sw "', 'a\\"@x', "*)(mail=*", "*", '") or (1 eq 1'):
            with pytest.raises((UserNotFound, ConnectorError)) as info:
                await world.connector.find_user_by_email(hostile)
            assert isinstance(info.value, UserNotFound), info.value
            # Not found, rather than several found and refused: the search did not widen.
            assert info.value.code != "ambiguous", (hostile, info.value)

    async def test_unknown_user_id(self, world: ContractWorld) -> None:
        with pytest.raises(UserNotFound):
            await world.connector.get_user("00uDoesNotExist000000")

    async def test_protections(self, world: ContractWorld) -> None:
        c = world.connector
        ordinary = await c.find_user_by_email(world.ordinary_email)
        assert await c.protections(ordinary, [world.protected_group]) == []
        admin = await c.find_user_by_email(world.admin_email)
        found = await c.protections(admin, [world.protected_group])
        assert found and {p.kind for p in found} == {ProtectionKind.ADMIN_ROLE}, found
        member = await c.find_user_by_email(world.protected_member_email)
        found = await c.protections(member, [world.protected_group])
        assert found and {p.kind for p in found} == {ProtectionKind.PROTECTED_GROUP}, found

    async def test_refuse_admin_roles_off_waives_admin_roles_only(
        self, world: ContractWorld
    ) -> None:
        # ``protected.refuse_admin_roles: false`` must work the same for every connector:
        # admin roles stop counting, protected groups still do.
        c = world.connector
        admin = await c.find_user_by_email(world.admin_email)
        found = await c.protections(admin, [world.protected_group])
        assert protections_that_count(found, refuse_admin_roles=True) == found
        assert protections_that_count(found, refuse_admin_roles=False) == []
        member = await c.find_user_by_email(world.protected_member_email)
        found = await c.protections(member, [world.protected_group])
        assert protections_that_count(found, refuse_admin_roles=False) == found

    async def test_group_membership_is_idempotent(self, world: ContractWorld) -> None:
        _needs(world, Capability.GROUPS)
        c = world.connector
        assert isinstance(c, GroupManager)
        user = await world.connector.find_user_by_email(world.ordinary_email)
        group = await c.find_group(world.group_name)
        assert group.name == world.group_name
        assert not await c.is_member(user, group)
        assert await c.add_to_group(user, group) is MembershipChange.ADDED
        assert await c.add_to_group(user, group) is MembershipChange.ALREADY_MEMBER
        assert await c.is_member(user, group)
        assert await c.remove_from_group(user, group) is MembershipChange.REMOVED
        assert await c.remove_from_group(user, group) is MembershipChange.NOT_MEMBER
        assert not await c.is_member(user, group)

    async def test_unknown_group(self, world: ContractWorld) -> None:
        _needs(world, Capability.GROUPS)
        assert isinstance(world.connector, GroupManager)
        with pytest.raises(GroupNotFound):
            await world.connector.find_group("no-such-group-anywhere")

    async def test_reset_link(self, world: ContractWorld) -> None:
        _needs(world, Capability.PASSWORD_RESET)
        if not world.link_supported:
            pytest.skip("reset links not offered by this directory")
        c = world.connector
        assert isinstance(c, PasswordResetter)
        user = await world.connector.find_user_by_email(world.ordinary_email)
        grant = await c.start_password_reset(user, ResetDelivery.LINK)
        assert grant.delivery is ResetDelivery.LINK
        assert grant.secret.reveal().startswith("http")
        assert grant.secret.reveal() not in repr(grant)

    async def test_temporary_password(self, world: ContractWorld) -> None:
        _needs(world, Capability.PASSWORD_RESET)
        if not world.temp_password_supported:
            pytest.skip("temporary passwords not offered by this directory")
        c = world.connector
        assert isinstance(c, PasswordResetter)
        user = await world.connector.find_user_by_email(world.ordinary_email)
        grant = await c.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
        assert grant.must_change_at_next_login
        assert len(grant.secret.reveal()) >= 8
        assert grant.secret.reveal() not in repr(grant)

    async def test_unlock(self, world: ContractWorld) -> None:
        _needs(world, Capability.UNLOCK)
        c = world.connector
        assert isinstance(c, Unlocker)
        if world.lock is not None:
            await world.lock(world.ordinary_email)
            email = world.ordinary_email
        else:
            assert world.locked_email, "a locked account or a way to lock one is needed"
            email = world.locked_email
        user = await world.connector.find_user_by_email(email)
        assert user.status is UserStatus.LOCKED_OUT
        assert await c.unlock(user) is UnlockResult.UNLOCKED
        user = await world.connector.find_user_by_email(email)
        assert user.status is not UserStatus.LOCKED_OUT
        assert await c.unlock(user) is UnlockResult.NOT_LOCKED

    async def test_mfa_factors(self, world: ContractWorld) -> None:
        _needs(world, Capability.MFA_RESET)
        c = world.connector
        assert isinstance(c, MfaResetter) and world.mfa_email
        user = await world.connector.find_user_by_email(world.mfa_email)
        factors = list(await c.list_factors(user))
        assert len(factors) >= 2
        assert await c.reset_factors(user, factors[0].id) == 1
        assert [f.id for f in await c.list_factors(user)] == [f.id for f in factors[1:]]
        assert await c.reset_factors(user) == len(factors) - 1
        assert list(await c.list_factors(user)) == []

    async def test_password_status_and_expiring_sweep(self, world: ContractWorld) -> None:
        _needs(world, Capability.PASSWORD_EXPIRY)
        c = world.connector
        assert isinstance(c, ExpiryReporter)
        now = datetime.now(UTC)
        if world.expiring_email:
            user = await world.connector.find_user_by_email(world.expiring_email)
            status = await c.password_status(user)
            assert not status.never_expires and status.expires_at is not None
            assert status.expires_at - now <= timedelta(days=14)
        if world.never_expiring_email:
            user = await world.connector.find_user_by_email(world.never_expiring_email)
            status = await c.password_status(user)
            assert status.never_expires and status.expires_at is None
        found: dict[str, datetime] = {}
        async for page in c.iter_expiring(now + timedelta(days=14)):
            for row in page:
                assert row.status.expires_at is not None
                assert row.status.expires_at < now + timedelta(days=14)
                found[row.user.email.lower()] = row.status.expires_at
        if world.expiring_email:
            assert world.expiring_email.lower() in found
        if world.never_expiring_email:
            assert world.never_expiring_email.lower() not in found
