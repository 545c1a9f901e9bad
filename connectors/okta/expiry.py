"""Password expiry over Okta: the org's password policies, cached, and who each governs.

Okta cannot search on ``passwordChanged`` (the users ``search`` parameter covers
profile attributes and ``id``, ``status``, ``created``, ``activated``,
``statusChanged``, ``lastUpdated``; https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/#tag/User/operation/listUsers),
so the sweep asks Okta for the statuses whose password can expire and checks each
user's age here, against the policy that governs them (:mod:`connectors.okta.policy`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from connectors.base import DirectoryUser, ExpiringUser, PasswordStatus
from connectors.okta.api import OktaApi, gather_all
from connectors.okta.errors import Subject
from connectors.okta.policy import PasswordPolicy, PolicySet, password_status, policy_from_json
from connectors.okta.values import OktaUser, enum_value, group_name

# Statuses whose password can expire; the sweep asks Okta for these only.
SWEEP_STATUSES = ("ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY")


@dataclass(slots=True)
class _CachedPolicies:
    policies: PolicySet
    fetched_at: float


class OktaExpiry:
    """When passwords expire, for one org: ``fetch_user`` and ``user_pages`` read its users."""

    def __init__(
        self,
        api: OktaApi,
        policy_cache_seconds: float,
        fetch_user: Callable[[str], Awaitable[OktaUser]],
        user_pages: Callable[..., AsyncIterator[list[OktaUser]]],
    ) -> None:
        self.api = api
        self._ttl = policy_cache_seconds
        self._fetch_user = fetch_user
        self._user_pages = user_pages
        self._policies: _CachedPolicies | None = None
        self._policy_lock = asyncio.Lock()

    async def policy_set(self) -> PolicySet:
        """The org's password policies, cached for ``policy_cache_seconds``."""
        async with self._policy_lock:
            cached = self._policies
            if cached is not None and time.monotonic() - cached.fetched_at < self._ttl:
                return cached.policies
            policies: list[PasswordPolicy] = []
            params = {"type": "PASSWORD", "limit": "200"}
            async for page in self.api.pages("/api/v1/policies", params, Subject.OTHER):
                policies.extend(policy_from_json(item) for item in page)
            everyone = await self._everyone_groups(policies)
            result = PolicySet.of(policies, everyone)
            self._policies = _CachedPolicies(result, time.monotonic())
            return result

    async def _everyone_groups(self, policies: Sequence[PasswordPolicy]) -> set[str]:
        """Ids among the policies' groups that are Okta's built-in ``Everyone`` group."""
        ids = sorted({gid for p in policies if p.active for gid in p.include_groups})
        groups = await gather_all(
            *(self.api.sdk(Subject.GROUP, self.api.client.get_group(gid)) for gid in ids)
        )
        return {
            str(g.id)
            for g in groups
            if enum_value(g.type) == "BUILT_IN" and group_name(g) == "Everyone"
        }

    async def policy_and_user(self, user_id: str) -> tuple[PasswordPolicy | None, OktaUser]:
        """The policy that governs the user (None: no policy applies), and the user."""
        fetched, groups, policies = await gather_all(
            self._fetch_user(user_id),
            self.api.sdk(Subject.USER, self.api.client.list_user_groups(user_id)),
            self.policy_set(),
        )
        group_ids = {str(g.id) for g in groups or ()}
        return policies.policy_for(group_ids, fetched.provider), fetched

    async def password_status(self, user: DirectoryUser) -> PasswordStatus:
        """When the password changed and expires, under the policy that governs the user."""
        policy, fetched = await self.policy_and_user(user.id)
        return password_status(fetched.password_changed, fetched.provider, policy)

    async def iter_expiring(self, before: datetime) -> AsyncIterator[list[ExpiringUser]]:
        """Yield, page by page, users whose password expires before ``before``.

        The server filters by status only (see the module docstring). Members of the
        groups that policies target are read once up front, so evaluating a user
        costs no extra request. Pages without an expiring user are not yielded.
        """
        policies = await self.policy_set()
        if policies.shortest_max_age() is None:
            return
        members: dict[str, set[str]] = {}
        for group_id in sorted(policies.groups_to_expand()):
            async for page in self.api.pages(
                f"/api/v1/groups/{quote(group_id, safe='')}/users",
                {"limit": "1000"},
                Subject.GROUP,
            ):
                for item in page:
                    members.setdefault(str(item.get("id")), set()).add(group_id)
        search = " or ".join(f'status eq "{status}"' for status in SWEEP_STATUSES)
        async for users in self._user_pages(search=search):
            rows: list[ExpiringUser] = []
            for found in users:
                policy = policies.policy_for(members.get(found.user.id, set()), found.provider)
                status = password_status(found.password_changed, found.provider, policy)
                if status.expires_at is not None and status.expires_at < before:
                    rows.append(ExpiringUser(found.user, status))
            if rows:
                yield rows
