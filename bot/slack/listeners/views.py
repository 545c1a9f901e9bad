"""Modal submissions: checked before the ack (errors keep the modal open), then acted on."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from actions.audit import Actor
from bot.replies import Reply
from bot.slack.listeners.deps import Deps
from bot.views.blocks import FORM_CALLBACK, form_errors, parse_submission
from config.i18n import t
from config.logging import get_logger

log = get_logger("helpdesk.slack")


def register(app: AsyncApp, deps: Deps) -> None:
    conv = deps.conversation

    @app.view(FORM_CALLBACK)
    async def on_form(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = str(body["user"]["id"])
        submission = parse_submission(view)
        if submission is None:
            log.warning("malformed_form_submission", slack_user=user_id)
            await ack()
            return
        errors = await conv.form_errors(
            user_id, submission.action, submission.value, submission.values
        )
        if errors:
            await ack(response_action="errors", errors=form_errors(errors))
            return
        await ack()

        async def work(actor: Actor) -> list[Reply]:
            result = await conv.on_form(
                actor, submission.action, submission.value, submission.values
            )
            if result.errors:
                with conv.speaking_to(actor):
                    head = t("That didn't work:")
                return [Reply(head + " " + " ".join(result.errors.values()))]
            return list(result.replies)

        # The submission's answer (close the modal) must not wait for the work.
        deps.spawn(deps.answer(user_id, f"form:{submission.action}", work, submission.prompt))
