"""Replies into Slack: a DM, an update of the clicked message, an ephemeral note, a modal.

A reply goes to the DM channel the employee wrote from (the event names it); a message
the bot starts goes to the channel ``bot.slack.directory`` keeps, so no reply costs a
``conversations.open``. The clicked message is updated through the click's
``response_url`` (up to 5 uses within 30 minutes, outside the Web API tiers:
api.slack.com/interactivity/handling#message_responses), with ``chat.update`` (Tier 3)
only when Slack refuses it; an ephemeral answer to a click goes the same way, with
``chat.postEphemeral`` (Tier 4) only when Slack refuses it.

With an outbox (``bot.slack.outbox``, as the running bot has), every reply that carries an
outcome (posted, or replacing the clicked message) is written to the store first and sent
from there: a failed call is sent again by the outbox's worker until Slack accepts it or
it expires, never twice. Ephemeral notes and forms are not outcomes: they go straight out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.replies import Reply
from bot.slack.directory import SlackDirectory
from bot.views.blocks import form_view, reply_blocks
from config.i18n import N_, speaking, t
from config.logging import get_logger
from store.db import Store

if TYPE_CHECKING:
    from bot.slack.outbox.sender import Outbox

log = get_logger("helpdesk.slack")

#: When a click's form could not open in time (Slack allows 3 seconds from the click).
FORM_WINDOW_PASSED = N_(
    "I couldn't open the form in time (I was busy and Slack allows only a few seconds). "
    "Nothing has changed: please click the button again."
)


async def respond(
    client: AsyncWebClient, url: str, text: str, blocks: list[dict[str, Any]],
    *, replace: bool = True,
) -> bool:
    """Replace a clicked message through its click's response_url (``replace``), or show
    the clicker an ephemeral note there; False if refused."""
    body: dict[str, Any] = {"text": text, "blocks": blocks}
    if replace:
        body["replace_original"] = True
    else:
        body.update(replace_original=False, response_type="ephemeral")
    session = getattr(client, "session", None)
    try:
        resp = await AsyncWebhookClient(url, session=session).send_dict(body)
    except Exception as exc:
        log.warning("response_url_failed", error=type(exc).__name__)
        return False
    if resp.status_code == 200:
        return True
    # Used five times, older than 30 minutes, or the message is gone: chat.update.
    log.info("response_url_refused", status=resp.status_code, body=str(resp.body)[:100])
    return False


class Delivery:
    """Posts a conversation's replies where the employee will see them.

    A message showing a secret is remembered in the store, so the janitor can hide
    it when its time is up.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        store: Store,
        directory: SlackDirectory | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.directory = directory
        self.outbox = outbox

    async def deliver(
        self,
        user_id: str,
        replies: list[Reply],
        prompt: tuple[str, str] | None = None,
        trigger_id: str | None = None,
        *,
        dm: str | None = None,
        response_url: str | None = None,
    ) -> None:
        """Post replies in the user's DM; a reply to a click updates the clicked message.

        ``dm`` is the DM channel the turn came from, when known. An ephemeral reply
        shows only to the user, where they clicked; a form opens as a modal with the
        click's ``trigger_id``; the clicked message is replaced through ``response_url``
        when the click carried one.
        """
        for reply in replies:
            if reply.form is not None and trigger_id:
                await self._open_form(user_id, reply, prompt, trigger_id, dm)
            elif reply.ephemeral:
                if response_url is None or not await self._respond(
                    response_url, reply, replace=False
                ):
                    await self._ephemeral(user_id, reply, prompt[0] if prompt else dm, dm)
            elif reply.replaces_prompt and prompt is not None:
                if self.outbox is not None:
                    await self._replace_stored(user_id, reply, prompt, response_url)
                elif response_url is None or not await self._respond(response_url, reply):
                    channel, ts = prompt
                    await self.client.chat_update(
                        channel=channel, ts=ts, text=reply.text, blocks=reply_blocks(reply)
                    )
            elif not reply.in_place_only:
                await self.post(dm or await self.dm_channel(user_id), reply, user=user_id)

    async def _replace_stored(
        self, user_id: str, reply: Reply, prompt: tuple[str, str], response_url: str | None
    ) -> None:
        """Replace the clicked message through the outbox (response_url first, sealed: it
        is a bearer URL)."""
        from bot.slack.outbox.message import UPDATE, OutboxMessage

        assert self.outbox is not None
        channel, ts = prompt
        await self.outbox.send(
            OutboxMessage(
                UPDATE, channel, self.outbox.expiry(), text=reply.text,
                blocks=reply_blocks(reply), ts=ts, response_url=response_url,
                secret=response_url is not None, user=user_id,
            ),
            wait=False,
        )

    async def _respond(self, url: str, reply: Reply, *, replace: bool = True) -> bool:
        """Replace the clicked message through the click's response_url (``replace``), or
        show the clicker an ephemeral note there; False if refused."""
        return await respond(self.client, url, reply.text, reply_blocks(reply), replace=replace)

    async def tell(self, user_id: str, reply: Reply, *, dm: str | None = None) -> None:
        """Post one reply in the user's DM, as a last word: a failure is logged, not raised."""
        try:
            await self.post(dm or await self.dm_channel(user_id), reply, user=user_id)
        except Exception as exc:
            log.error("reply_not_delivered", slack_user=user_id, error=type(exc).__name__)

    async def post(self, channel: str, reply: Reply, *, user: str | None = None) -> None:
        """Post ``reply`` in ``channel``: through the outbox when there is one."""
        if self.outbox is not None:
            await self._post_stored(channel, reply, user)
            return
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

    async def _post_stored(self, channel: str, reply: Reply, user: str | None) -> None:
        from bot.slack.outbox.message import POST, RESET, OutboxMessage

        assert self.outbox is not None
        secret = reply.secret_hide_at is not None
        # A secret is sent until it is due to be hidden; after that it is wiped, audited.
        expires = reply.secret_hide_at if secret else None
        await self.outbox.send(
            OutboxMessage(
                POST, channel, expires or self.outbox.expiry(), text=reply.text,
                blocks=reply_blocks(reply), kind=RESET if secret else "reply", secret=secret,
                hide_at=reply.secret_hide_at, replacement=reply.secret_replacement, user=user,
                secrets=tuple(value.reveal() for value in reply.secrets),
            ),
            wait=False,
        )

    async def _open_form(
        self, user_id: str, reply: Reply, prompt: tuple[str, str] | None, trigger_id: str,
        dm: str | None,
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
            # In the form's language: the one its turn spoke (message, else locale, else
            # the organisation's), which has ended by the time it is delivered.
            with speaking(reply.form.language):
                late = Reply(t(FORM_WINDOW_PASSED))
            await self._ephemeral(user_id, late, prompt[0] if prompt else dm, dm)

    async def _ephemeral(
        self, user_id: str, reply: Reply, where: str | None, dm: str | None
    ) -> None:
        if where is None:
            where = dm = await self.dm_channel(user_id)
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
                channel=dm or await self.dm_channel(user_id), user=user_id,
                text=reply.text, blocks=reply_blocks(reply),
            )

    async def dm_channel(self, user_id: str) -> str:
        """The app's DM channel with the person (kept by the directory, when there is one)."""
        if self.directory is not None:
            return await self.directory.dm_channel(user_id)
        resp = await self.client.conversations_open(users=user_id)
        return str(resp["channel"]["id"])
