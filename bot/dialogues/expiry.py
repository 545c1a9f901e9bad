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
from config.i18n import t


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
            return [Reply(t("Your {label} password never expires.", label=target.label))]
        now = self.clock()
        zone, theirs = person_zone(actor.tz, self.service.cfg.default_zone)
        today = now.astimezone(zone).date()
        on = local_when(status.expires_at, zone, theirs=theirs, today=today)
        if status.expires_at <= now:
            state = INACTIVE_STATES.get(target.user.status)
            if state is not None:
                return [
                    Reply(
                        t(
                            "Your {label} password expired on {on}, and the account is "
                            "{state}. Please ask {where}.",
                            label=target.label, on=on, state=t(state),
                            where=self.service._where_to_go(),
                        )
                    )
                ]
            return [
                Reply(
                    t("Your {label} password expired on {on}.", label=target.label, on=on),
                    reset_offer(self.service),
                )
            ]
        days = days_until(status.expires_at, now, zone)
        return [
            Reply(
                t(
                    "Your {label} password expires {when}, on {on}.",
                    label=target.label, when=in_days(days), on=on,
                )
            )
        ]
