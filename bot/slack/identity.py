"""Who is asking: the Slack user from the signed request, then users.info, then their email."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from actions.audit import Actor


class IdentityRefused(Exception):
    """This Slack user may not use the bot; ``user_message`` says why, politely."""

    def __init__(self, code: str, user_message: str) -> None:
        super().__init__(code)
        self.code = code
        self.user_message = user_message


@dataclass
class _Cached:
    actor: Actor
    until: float


class SlackIdentity:
    """Resolve a Slack user id to an ``Actor``; caches briefly (users.info is Tier 4)."""

    def __init__(self, client: AsyncWebClient, where_to_go: str, ttl: float = 300.0) -> None:
        self.client = client
        self.where_to_go = where_to_go
        self.ttl = ttl
        self._cache: dict[str, _Cached] = {}

    async def resolve(self, slack_user_id: str) -> Actor:
        hit = self._cache.get(slack_user_id)
        if hit and hit.until > time.monotonic():
            return hit.actor
        try:
            resp = await self.client.users_info(user=slack_user_id)
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown") if exc.response else "unknown"
            raise IdentityRefused(
                f"slack_{error}",
                f"I couldn't look up your Slack profile. Please ask {self.where_to_go}.",
            ) from None
        user: dict[str, Any] = resp.get("user") or {}
        actor = self._check(user)
        self._cache[slack_user_id] = _Cached(actor, time.monotonic() + self.ttl)
        return actor

    def _check(self, user: dict[str, Any]) -> Actor:
        if user.get("is_bot") or user.get("id") == "USLACKBOT":
            raise IdentityRefused("bot", "I only help people, not other bots.")
        if user.get("deleted"):
            raise IdentityRefused("deleted", "This Slack account is deactivated.")
        if user.get("is_restricted") or user.get("is_ultra_restricted"):
            raise IdentityRefused(
                "guest",
                "Guest accounts can't use the IT helpdesk bot. "
                f"Please ask your contact at the company, or {self.where_to_go}.",
            )
        profile: dict[str, Any] = user.get("profile") or {}
        email = str(profile.get("email") or "").strip()
        if not email or "@" not in email:
            raise IdentityRefused(
                "no_email",
                "Your Slack profile has no email address, so I can't find your account. "
                f"Please ask {self.where_to_go}.",
            )
        name = str(profile.get("real_name") or user.get("real_name") or user.get("name") or "")
        return Actor(slack_user_id=str(user["id"]), email=email, display_name=name)
