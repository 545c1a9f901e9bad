"""The App Home tab, published each time the employee opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners.deps import Deps


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        await deps.publish_home(str(event["user"]))
