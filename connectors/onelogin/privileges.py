"""Delegated-administration privileges and who holds them, read from OneLogin's v1 API.

Anyone assigned a privilege directly or through a role is an administrator the
bot refuses (``check_admin_privileges``). ``/api/1/privileges`` needs a
subscription with Delegated Administration and a credential that may read it
(*Read All* or *Manage All*). The list is cached for ``cache_ttl_seconds``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from connectors.onelogin.cache import TtlCache
from connectors.onelogin.errors import Subject
from connectors.onelogin.http import OneLoginHttp
from connectors.onelogin.values import as_int


@dataclass(frozen=True, slots=True)
class Privilege:
    """A delegated-administration privilege and who holds it."""

    id: str
    name: str
    user_ids: frozenset[int]
    role_ids: frozenset[int]


class Privileges:
    """Every privilege of the account with its holders, read once per ``ttl`` seconds."""

    def __init__(self, http: OneLoginHttp, ttl: float, monotonic: Callable[[], float]) -> None:
        self._http = http
        self._cache: TtlCache[str, list[Privilege]] = TtlCache(ttl, monotonic)
        self._lock = asyncio.Lock()

    async def all(self) -> list[Privilege]:
        """The privileges and their holders (users and roles); connector errors propagate."""
        async with self._lock:
            found, cached = self._cache.get("all")
            if found and cached is not None:
                return cached
            body = await self._http.get_json("/api/1/privileges", subject=Subject.PRIVILEGE)
            privileges: list[Privilege] = []
            for raw in body if isinstance(body, list) else []:
                if not isinstance(raw, dict) or not raw.get("id"):
                    continue
                pid = quote(str(raw["id"]), safe="")
                users = await self._id_list(f"/api/1/privileges/{pid}/users", "users")
                roles = await self._id_list(f"/api/1/privileges/{pid}/roles", "roles")
                privileges.append(
                    Privilege(str(raw["id"]), str(raw.get("name") or raw["id"]), users, roles)
                )
            self._cache.put("all", privileges)
            return privileges

    async def _id_list(self, path: str, key: str) -> frozenset[int]:
        """Ids from a v1 privilege listing: a bare array or ``{key: [...], after_cursor}``."""
        ids: set[int] = set()
        cursor: str | None = None
        for _ in range(1000):
            params = {"cursor": cursor} if cursor else None
            body = await self._http.get_json(path, subject=Subject.PRIVILEGE, params=params)
            items = body.get(key) if isinstance(body, dict) else body
            for item in items if isinstance(items, list) else []:
                value = as_int(item.get("id") if isinstance(item, dict) else item)
                if value is not None:
                    ids.add(value)
            cursor = body.get("after_cursor") if isinstance(body, dict) else None
            if not cursor:
                break
        return frozenset(ids)
