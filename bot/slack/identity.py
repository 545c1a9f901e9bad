"""Who is asking: the Slack user from the signed request, then their profile, then their email.

The profile is the stored one (``bot.slack.directory``: refreshed from users.list and
Slack's ``user_change`` events), users.info only for someone not stored yet; the rules
below apply to it the same way.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from actions.audit import Actor
from bot.slack.directory import SlackDirectory
from config.i18n import speaking, t


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
    """Resolve a Slack user id to an ``Actor``.

    With a ``directory`` the profile comes from it (stored profiles, kept in memory for
    its own short ttl); without one, from users.info, cached for ``ttl`` seconds.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        where_to_go: str,
        ttl: float = 300.0,
        directory: SlackDirectory | None = None,
    ) -> None:
        self.client = client
        self.where_to_go = where_to_go
        self.ttl = ttl
        self.directory = directory
        self._cache: dict[str, _Cached] = {}
        self._home: tuple[str, str] | None = None  # the bot's (team_id, enterprise_id)
        self._home_lock = asyncio.Lock()

    async def resolve(self, slack_user_id: str) -> Actor:
        hit = self._cache.get(slack_user_id)
        if hit and hit.until > time.monotonic():
            return hit.actor
        try:
            home = await self._home_team()
            if self.directory is not None:
                return self._check(await self.directory.user(slack_user_id), home)
            resp = await self.client.users_info(user=slack_user_id, include_locale=True)
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown") if exc.response else "unknown"
            raise IdentityRefused(
                f"slack_{error}",
                t("I couldn't look up your Slack profile. Please ask {where}.",
                  where=self.where_to_go),
            ) from None
        user: dict[str, Any] = resp.get("user") or {}
        actor = self._check(user, home)
        self._cache[slack_user_id] = _Cached(actor, time.monotonic() + self.ttl)
        return actor

    async def _home_team(self) -> tuple[str, str]:
        """The workspace (and Enterprise Grid org, if any) the bot is installed in."""
        if self._home is None:
            # One auth.test however many first clicks arrive together.
            async with self._home_lock:
                if self._home is None:
                    resp = await self.client.auth_test()
                    self._home = (str(resp.get("team_id") or ""),
                                  str(resp.get("enterprise_id") or ""))
        return self._home

    def _check(self, user: dict[str, Any], home: tuple[str, str] = ("", "")) -> Actor:
        with speaking(str(user.get("locale") or "")):
            return self._checked(user, home)

    def _checked(self, user: dict[str, Any], home: tuple[str, str]) -> Actor:
        if user.get("is_bot") or user.get("id") == "USLACKBOT":
            raise IdentityRefused("bot", t("I only help people, not other bots."))
        if user.get("deleted"):
            raise IdentityRefused("deleted", t("This Slack account is deactivated."))
        if self._foreign(user, home):
            # A Slack Connect user's profile email is vouched for by their own organisation,
            # not ours: it must never select an account in our directory.
            raise IdentityRefused(
                "external",
                t(
                    "You're in another organisation's Slack (Slack Connect), so I can't act on "
                    "accounts here. Please ask your own IT team."
                ),
            )
        if user.get("is_email_confirmed") is False:
            raise IdentityRefused(
                "email_unconfirmed",
                t(
                    "The email address on your Slack profile isn't confirmed yet, so I can't use "
                    "it to find your account. Please confirm it in Slack, or ask {where}.",
                    where=self.where_to_go,
                ),
            )
        if user.get("is_restricted") or user.get("is_ultra_restricted"):
            raise IdentityRefused(
                "guest",
                t(
                    "Guest accounts can't use the IT helpdesk bot. "
                    "Please ask your contact at the company, or {where}.",
                    where=self.where_to_go,
                ),
            )
        profile: dict[str, Any] = user.get("profile") or {}
        email = str(profile.get("email") or "").strip()
        if not email or "@" not in email:
            raise IdentityRefused(
                "no_email",
                t(
                    "Your Slack profile has no email address, so I can't find your account. "
                    "Please ask {where}.",
                    where=self.where_to_go,
                ),
            )
        name = str(profile.get("real_name") or user.get("real_name") or user.get("name") or "")
        tz = str(user.get("tz") or "").strip() or None
        locale = str(user.get("locale") or "").strip() or None
        return Actor(
            slack_user_id=str(user["id"]), email=email, display_name=name, tz=tz, locale=locale
        )

    @staticmethod
    def _foreign(user: dict[str, Any], home: tuple[str, str]) -> bool:
        """True for people outside the bot's workspace (or, on Grid, its organisation)."""
        if user.get("is_external") or user.get("is_stranger"):
            return True
        team, enterprise = home
        their_team = str(user.get("team_id") or "")
        if not team or not their_team or their_team == team:
            return False
        theirs = (user.get("enterprise_user") or {}).get("enterprise_id")
        return not (enterprise and theirs == enterprise)
