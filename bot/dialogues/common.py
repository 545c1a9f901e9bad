"""What every dialogue shares: the dispatch-table entries, the stale answer, confirmations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from actions.audit import Actor
from actions.self_service import SelfService
from bot.replies import ActionId, Button, FormResult, Reply
from bot.routing import Intent
from config.i18n import current, t
from connectors.base import Capability

#: How long a confirmation button (and an access request's prompt) stays usable.
CONFIRM_TTL = timedelta(minutes=10)

#: A click: the clicker and the button's value; the replies.
ButtonHandler = Callable[[Actor, str], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class FormHandler:
    """A form's two steps, keyed by its action id in the conversation's table.

    ``check(slack_user, value, values)``: problems by field, cheap (Slack wants the
    answer within three seconds); ``submit(actor, value, values)``: act on it.
    """

    check: Callable[[str, str, Mapping[str, str]], Awaitable[dict[str, str]]]
    submit: Callable[[Actor, str, Mapping[str, str]], Awaitable[FormResult]]


def stale() -> Reply:
    """A button whose confirmation expired, was used, or was never ours."""
    return Reply(
        t(
            "This request has expired or was already handled, so nothing was changed. "
            "Send me a new message if you still need help."
        ),
        replaces_prompt=True,
    )


def reset_offer(service: SelfService) -> list[Button]:
    """A "Reset my password" button, when this deployment offers resets."""
    if not service.providers.offers(Capability.PASSWORD_RESET):
        return []
    return [
        Button(
            t("Reset my password"), ActionId.START, f"{Intent.PASSWORD_RESET.value}:{current()}"
        )
    ]
