"""Slack listeners, one module per kind, each with ``register(app, deps)``.

A listener acks, parses the payload, hands the employee's turn to
``deps.answer`` (which resolves who they are, runs the conversation and
delivers its replies, answering any failure) and, for the App Home, republishes
it. ``register_all`` is what ``SlackSurface`` calls.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners import actions, commands, home, messages, middleware, people, views
from bot.slack.listeners.deps import Answer, Deps, Work

__all__ = ["Answer", "Deps", "Work", "register_all"]


def register_all(app: AsyncApp, deps: Deps) -> None:
    """Register every listener; the middleware first, so it sees every request."""
    for kind in (middleware, messages, commands, actions, views, home, people):
        kind.register(app, deps)
