"""When a OneLogin password expires: ``password_changed_at`` plus the applicable policy's age.

OneLogin assigns user policies through groups and the user resource does not name
its policy, so the policy id is taken from the user's ``policy_id`` when the
answer has one, else from ``policy_by_group`` (OneLogin group id -> policy id),
else ``default_policy_id``. The policy's ``password_expiration_days`` (0 = never)
is read from ``GET /api/2/policies/{id}`` and cached; when no policy applies or
it cannot be read, ``max_password_age_days`` is the fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from config.logging import get_logger
from connectors.base import PasswordStatus
from connectors.errors import ConnectorError, Unavailable
from connectors.onelogin.cache import TtlCache
from connectors.onelogin.errors import Subject
from connectors.onelogin.http import OneLoginHttp
from connectors.onelogin.settings import ConnectorOptions
from connectors.onelogin.values import as_datetime, as_int

log = get_logger("connectors.onelogin")


class PasswordExpiry:
    """Reads each user's password status, each policy once per ``cache_ttl`` seconds."""

    def __init__(
        self,
        name: str,
        http: OneLoginHttp,
        options: ConnectorOptions,
        monotonic: Callable[[], float],
    ) -> None:
        self.name = name
        self._http = http
        self._options = options
        self._policy_days: TtlCache[int, int | None] = TtlCache(options.cache_ttl, monotonic)

    async def status_of(self, raw: Mapping[str, Any]) -> PasswordStatus:
        """The password status of a user as OneLogin answered it (``/api/2/users`` JSON)."""
        changed = as_datetime(raw.get("password_changed_at"))
        max_age = await self._max_age_for(raw)
        if changed is None or max_age is None:
            return PasswordStatus(changed, None, never_expires=True)
        return PasswordStatus(changed, changed + max_age, never_expires=False)

    async def _max_age_for(self, raw: Mapping[str, Any]) -> timedelta | None:
        policy_id = as_int(raw.get("policy_id"))
        if policy_id is None:
            group_id = as_int(raw.get("group_id"))
            if group_id is not None:
                policy_id = self._options.policy_by_group.get(group_id)
        if policy_id is None:
            policy_id = self._options.default_policy_id
        if policy_id is not None:
            days = await self._policy_expiration_days(policy_id)
            if days is not None:
                return None if days <= 0 else timedelta(days=days)
        return self._options.max_password_age

    async def _policy_expiration_days(self, policy_id: int) -> int | None:
        found, days = self._policy_days.get(policy_id)
        if found:
            return days
        try:
            body = await self._http.get_json(f"/api/2/policies/{policy_id}", subject=Subject.POLICY)
        except Unavailable:
            raise
        except ConnectorError as exc:
            # Expiry reminders are worth more with the fallback age than not at all.
            log.warning(
                "onelogin.policy_unreadable",
                provider=self.name,
                policy_id=policy_id,
                error=exc.message,
            )
            self._policy_days.put(policy_id, None)
            return None
        days = as_int(body.get("password_expiration_days")) if isinstance(body, dict) else None
        self._policy_days.put(policy_id, days)
        return days
