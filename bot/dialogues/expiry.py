"""When does my password expire: one answer, and a reset offered once it has expired."""

from __future__ import annotations

from datetime import UTC, datetime

from actions.audit import Actor
from actions.errors import Refusal
from actions.self_service import SelfService
from bot.dialogues.common import reset_offer
from bot.replies import Reply
from bot.views.text import when


class ExpiryDialogue:
    """Tells the employee when their password expires."""

    def __init__(self, service: SelfService) -> None:
        self.service = service

    async def answer(self, actor: Actor) -> list[Reply]:
        """The expiry date in words; a refusal's message when it can't be read."""
        try:
            target, status = await self.service.password_expiry(actor)
        except Refusal as refusal:
            return [Reply(refusal.user_message)]
        if status.never_expires or status.expires_at is None:
            return [Reply(f"Your {target.label} password never expires.")]
        now = datetime.now(UTC)
        days = status.days_left(now)
        assert days is not None
        if status.expires_at <= now:
            return [
                Reply(
                    f"Your {target.label} password expired on {when(status.expires_at)}.",
                    reset_offer(self.service),
                )
            ]
        in_days = "today" if days == 0 else ("in 1 day" if days == 1 else f"in {days} days")
        return [
            Reply(f"Your {target.label} password expires {in_days}, on {when(status.expires_at)}.")
        ]
