"""Which Okta password policy governs a user, and when that user's password expires.

Okta evaluates ``PASSWORD`` policies by ascending priority and applies the first
``ACTIVE`` one whose ``conditions.people.groups.include`` holds one of the user's
groups and whose ``conditions.authProvider`` matches the user's credential provider
(https://developer.okta.com/docs/concepts/policies/#policy-evaluation,
https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Policy/).
The default policy includes the built-in ``Everyone`` group, so it catches everyone
the others did not; a policy that names no group is treated the same way. A
password's age limit is ``settings.password.age.maxAgeDays``, 0 meaning no limit.
Okta only ages passwords it holds itself (credential provider ``OKTA``, or
``IMPORT`` until the first sign-in); directory- and IdP-mastered passwords expire
where they live.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.base import PasswordStatus

# Password-holding providers Okta applies its own age limit to.
OKTA_MANAGED_PROVIDERS = frozenset({"OKTA", "IMPORT"})


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The parts of an Okta ``PASSWORD`` policy that decide expiry and link lifetime."""

    id: str
    name: str
    priority: int
    active: bool
    include_groups: frozenset[str]
    auth_provider: str | None
    max_age_days: int
    recovery_token_minutes: int | None = None

    def covers_everyone(self, everyone_groups: Collection[str]) -> bool:
        """Whether the policy's people condition matches every user."""
        return not self.include_groups or not self.include_groups.isdisjoint(everyone_groups)

    def applies_to(
        self, group_ids: Collection[str], provider: str, everyone_groups: Collection[str]
    ) -> bool:
        """Whether Okta would pick this policy for a user in ``group_ids`` with ``provider``."""
        if not self.active:
            return False
        if self.auth_provider is not None and self.auth_provider != _policy_provider(provider):
            return False
        if self.covers_everyone(everyone_groups):
            return True
        return not self.include_groups.isdisjoint(group_ids)


def policy_from_json(item: Mapping[str, Any]) -> PasswordPolicy:
    """Read a ``PasswordPolicy`` object (policies are paged raw, see ``OktaApi.pages``)."""
    conditions = item.get("conditions") or {}
    include = ((conditions.get("people") or {}).get("groups") or {}).get("include") or []
    provider = (conditions.get("authProvider") or {}).get("provider")
    settings = item.get("settings") or {}
    age = (settings.get("password") or {}).get("age") or {}
    email = ((settings.get("recovery") or {}).get("factors") or {}).get("okta_email") or {}
    token = (email.get("properties") or {}).get("recoveryToken") or {}
    minutes = token.get("tokenLifetimeMinutes")
    return PasswordPolicy(
        id=str(item.get("id") or ""),
        name=str(item.get("name") or ""),
        priority=int(item.get("priority") or 0),
        active=item.get("status") == "ACTIVE",
        include_groups=frozenset(str(g) for g in include),
        auth_provider=str(provider) if provider else None,
        max_age_days=int(age.get("maxAgeDays") or 0),
        recovery_token_minutes=int(minutes) if minutes else None,
    )


def _policy_provider(credential_provider: str) -> str:
    # Imported-hash users are Okta-mastered as far as password policies go.
    return "OKTA" if credential_provider in OKTA_MANAGED_PROVIDERS else credential_provider


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The org's password policies by priority and the ids of its ``Everyone`` groups."""

    policies: tuple[PasswordPolicy, ...]
    everyone_groups: frozenset[str]

    @classmethod
    def of(cls, policies: Iterable[PasswordPolicy], everyone_groups: Iterable[str]) -> PolicySet:
        ordered = tuple(sorted(policies, key=lambda p: (p.priority, p.id)))
        return cls(ordered, frozenset(everyone_groups))

    def policy_for(self, group_ids: Collection[str], provider: str) -> PasswordPolicy | None:
        """Return the policy Okta applies to such a user, or None when none matches."""
        for policy in self.policies:
            if policy.applies_to(group_ids, provider, self.everyone_groups):
                return policy
        return None

    def relevant(self) -> Sequence[PasswordPolicy]:
        """The active policies that can age a password.

        Those for the Okta provider, up to the first catch-all one: later ones never
        win, and Okta does not age other providers' passwords.
        """
        found: list[PasswordPolicy] = []
        for policy in self.policies:
            if not policy.active or policy.auth_provider not in (None, "OKTA"):
                continue
            found.append(policy)
            if policy.covers_everyone(self.everyone_groups):
                break
        return found

    def groups_to_expand(self) -> frozenset[str]:
        """Group ids whose members must be known to evaluate every user (catch-alls excluded)."""
        ids: set[str] = set()
        for policy in self.relevant():
            ids.update(policy.include_groups - self.everyone_groups)
        return frozenset(ids)

    def shortest_max_age(self) -> int | None:
        """The smallest non-zero ``maxAgeDays`` of the policies that can apply, if any."""
        ages = [p.max_age_days for p in self.relevant() if p.max_age_days > 0]
        return min(ages) if ages else None


def password_status(
    password_changed: datetime | None, provider: str, policy: PasswordPolicy | None
) -> PasswordStatus:
    """Expiry of one password under the policy that governs it."""
    never = (
        policy is None
        or policy.max_age_days <= 0
        or password_changed is None
        or provider not in OKTA_MANAGED_PROVIDERS
    )
    if never or policy is None or password_changed is None:
        return PasswordStatus(password_changed, None, never_expires=True)
    return PasswordStatus(
        password_changed,
        password_changed + timedelta(days=policy.max_age_days),
        never_expires=False,
    )
