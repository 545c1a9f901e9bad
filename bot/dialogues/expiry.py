"""When does my password expire: one answer, and a reset offered once it has expired.

Days are calendar days in the employee's own time zone (their Slack profile's,
else the organisation's default), counted by the same rule as the nudges
(``days_until``), and the date is shown in that zone.
"""

from __future__ import annotations

from actions.audit import Actor
from actions.errors import Refusal
from actions.nudges.decide import days_until
from actions.self_service import INACTIVE_STATES, SelfService
from bot.dialogues.common import reset_offer
from bot.replies import Reply
from bot.views.text import in_days, local_when, person_zone
from config.clock import Now, utc_now


class ExpiryDialogue:
    """Tells the employee when their password expires."""

    def __init__(self, service: SelfService, clock: Now = utc_now) -> None:
        self.service = service
        self.clock = clock

    async def answer(self, actor: Actor) -> list[Reply]:
        """The expiry date in words; a refusal's message when it can't be read."""
        try:
            target, status = await self.service.password_expiry(actor)
        except Refusal as refusal:
            return [Reply(refusal.user_message)]
        if status.never_expires or status.expires_at is None:
            return [Reply(f"Your {target.label} password never expires.")]
        now = self.clock()
        zone, theirs = person_zone(actor.tz, self.service.cfg.default_zone)
        today = now.astimezone(zone).date()
        on = local_when(status.expires_at, zone, theirs=theirs, today=today)
        if status.expires_at <= now:
            state = INACTIVE_STATES.get(target.user.status)
            if state is not None:
                return [
                    Reply(
                        f"Your {target.label} password expired on {on}, and the account is "
                        f"{state}. Please ask {self.service._where_to_go()}."
                    )
                ]
            return [
                Reply(
                    f"Your {target.label} password expired on {on}.",
                    reset_offer(self.service),
                )
            ]
        days = days_until(status.expires_at, now, zone)
        return [Reply(f"Your {target.label} password expires {in_days(days)}, on {on}.")]
