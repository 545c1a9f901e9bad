"""OneLogin roles, which serve as the directory's groups: found by name, held by a user."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors.base import DirectoryGroup
from connectors.errors import GroupNotFound
from connectors.onelogin.cache import TtlCache
from connectors.onelogin.errors import Subject
from connectors.onelogin.http import OneLoginHttp
from connectors.onelogin.values import NUMERIC_ID, as_int


class Roles:
    """Roles by name (found ones kept ``ttl`` seconds) and who holds them."""

    def __init__(
        self, provider: str, http: OneLoginHttp, ttl: float, monotonic: Callable[[], float]
    ) -> None:
        self._provider = provider
        self._http = http
        self._by_name: TtlCache[str, list[DirectoryGroup]] = TtlCache(ttl, monotonic)

    def role_id(self, group: DirectoryGroup) -> int:
        """OneLogin's id for the role behind ``group``."""
        if not NUMERIC_ID.fullmatch(group.id):
            raise GroupNotFound(self._provider, "OneLogin role ids are numeric")
        return int(group.id)

    async def named(self, name: str, *, exact: bool) -> list[DirectoryGroup]:
        """Roles named ``name`` in any case (``exact``: in this case only)."""
        wanted = name.strip()
        if not wanted:
            return []
        found, cached = self._by_name.get(wanted.lower())
        if not found or cached is None:
            cached = []
            async for page in self._http.paginate(
                "/api/2/roles", subject=Subject.ROLE, params={"role_name": wanted}
            ):
                for raw in page:
                    role_name = str(raw.get("name") or "")
                    if role_name.lower() == wanted.lower() and raw.get("id") is not None:
                        cached.append(DirectoryGroup(self._provider, str(raw["id"]), role_name))
            if cached:
                # Misses are not cached: a role created a minute later should be found.
                self._by_name.put(wanted.lower(), cached)
        if exact:
            return [r for r in cached if r.name == wanted]
        return list(cached)

    async def held_by(self, raw_user: Mapping[str, Any], role_id: int) -> bool:
        """Whether the user record holds the role (its ``role_ids``, else the role's members)."""
        role_ids = raw_user.get("role_ids")
        if isinstance(role_ids, list):
            return role_id in {as_int(r) for r in role_ids}
        # Answers without role_ids: list the role's members instead.
        uid = as_int(raw_user.get("id"))
        async for page in self._http.paginate(
            f"/api/2/roles/{role_id}/users", subject=Subject.ROLE
        ):
            if any(as_int(member.get("id")) == uid for member in page):
                return True
        return False
