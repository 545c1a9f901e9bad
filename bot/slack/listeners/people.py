"""Slack's news about people: a changed profile (``user_change``), a new member (``team_join``).

Each carries the whole user object; it replaces the stored profile, so a deactivation,
a new email or a guest's promotion counts from the next message on (on other replicas
within the directory's memory ttl, under a minute). Subscribed in
``config/slack-manifest.yaml``; scope ``users:read``.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners.deps import Deps


def register(app: AsyncApp, deps: Deps) -> None:
    async def on_person(event: dict[str, Any]) -> None:
        user = event.get("user")
        if isinstance(user, dict):
            await deps.directory.learn(user)

    app.event("user_change")(on_person)
    app.event("team_join")(on_person)
