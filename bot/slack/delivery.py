"""Replies into Slack: a DM, an update of the clicked message, an ephemeral note, a modal."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.replies import Reply
from bot.views.blocks import form_view, reply_blocks
from config.logging import get_logger
from store.db import Store

log = get_logger("helpdesk.slack")

#: When a click's form could not open in time (Slack allows 3 seconds from the click).
FORM_WINDOW_PASSED = (
    "I couldn't open the form in time (I was busy and Slack allows only a few seconds). "
    "Nothing has changed: please click the button again."
)


class Delivery:
    """Posts a conversation's replies where the employee will see them.

    A message showing a secret is remembered in the store, so the janitor can hide
    it when its time is up.
    """

    def __init__(self, client: AsyncWebClient, store: Store) -> None:
        self.client = client
        self.store = store

    async def deliver(
        self,
        user_id: str,
        replies: list[Reply],
        prompt: tuple[str, str] | None = None,
        trigger_id: str | None = None,
    ) -> None:
        """Post replies in the user's DM; a reply to a click updates the clicked message.

        An ephemeral reply shows only to the user, where they clicked; a form opens
        as a modal with the click's ``trigger_id``.
        """
        if not replies:
            return
        dm = await self.dm_channel(user_id)
        for reply in replies:
            if reply.form is not None and trigger_id:
                await self._open_form(user_id, reply, prompt, trigger_id, dm)
            elif reply.ephemeral:
                await self._ephemeral(user_id, reply, prompt[0] if prompt else dm, dm)
            elif reply.replaces_prompt and prompt is not None:
                channel, ts = prompt
                await self.client.chat_update(
                    channel=channel, ts=ts, text=reply.text, blocks=reply_blocks(reply)
                )
            elif not reply.in_place_only:
                await self.post(dm, reply)

    async def tell(self, user_id: str, reply: Reply) -> None:
        """Post one reply in the user's DM, as a last word: a failure is logged, not raised."""
        try:
            await self.post(await self.dm_channel(user_id), reply)
        except Exception as exc:
            log.error("reply_not_delivered", slack_user=user_id, error=type(exc).__name__)

    async def post(self, channel: str, reply: Reply) -> None:
        # No previews: Slack's unfurler would fetch a one-time reset link (and could use it).
        resp = await self.client.chat_postMessage(
            channel=channel, text=reply.text, blocks=reply_blocks(reply),
            unfurl_links=False, unfurl_media=False,
        )
        if reply.secret_hide_at is not None:
            await self.store.remember_secret_message(
                str(resp["channel"]), str(resp["ts"]), reply.secret_hide_at,
                reply.secret_replacement,
            )

    async def _open_form(
        self, user_id: str, reply: Reply, prompt: tuple[str, str] | None, trigger_id: str,
        dm: str,
    ) -> None:
        """Open the form as a modal; if Slack's 3-second window for it has passed, say so."""
        assert reply.form is not None
        try:
            await self.client.views_open(trigger_id=trigger_id, view=form_view(reply.form, prompt))
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error not in ("expired_trigger_id", "exchanged_trigger_id"):
                raise
            log.warning("form_window_passed", slack_user=user_id, error=error)
            await self._ephemeral(
                user_id, Reply(FORM_WINDOW_PASSED), prompt[0] if prompt else dm, dm
            )

    async def _ephemeral(self, user_id: str, reply: Reply, where: str, dm: str) -> None:
        try:
            await self.client.chat_postEphemeral(
                channel=where, user=user_id, text=reply.text, blocks=reply_blocks(reply)
            )
        except SlackApiError:
            if where == dm:
                raise
            # The click came from a conversation the user isn't in (a forged payload, or
            # they left the channel): answer them in their own DM instead.
            await self.client.chat_postEphemeral(
                channel=dm, user=user_id, text=reply.text, blocks=reply_blocks(reply)
            )

    async def dm_channel(self, user_id: str) -> str:
        resp = await self.client.conversations_open(users=user_id)
        return str(resp["channel"]["id"])
