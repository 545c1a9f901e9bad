"""Button clicks: every ``hd_*`` action id, dispatched by the conversation's table.

The clicked message is the ``prompt`` a reply may replace; a click on the App
Home republishes it afterwards. "Done, hide it" on a message still showing its secret
hands the edit to the outbox (sent again until Slack confirms; only then is the message
marked hidden, which stops the janitor).
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.replies import ActionId
from bot.slack.listeners.deps import Deps
from bot.views.blocks import parse_action_id


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(re.compile(r"^hd_[a-z_]+\.\d+$"))
    async def on_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user_id = str(body["user"]["id"])
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        prompt = (str(channel), str(ts)) if channel and ts else None
        name = parse_action_id(str(action.get("action_id", "")))
        value = str(action.get("value") or "")[:200]
        trigger_id = body.get("trigger_id")
        response_url = body.get("response_url")
        from_home = (body.get("view") or {}).get("type") == "home"
        url = response_url if isinstance(response_url, str) else None
        if name == ActionId.SECRET_DONE and prompt is not None:
            if deps.hide is not None:
                if await deps.hide(prompt, user_id, url):
                    return
            else:
                row = await deps.store.find_secret_message(*prompt)
                if row is not None:
                    await deps.store.mark_secret_hidden(row.id)
        await deps.answer(
            user_id, f"button:{name}",
            lambda actor: deps.conversation.on_button(actor, name, value),
            prompt, str(trigger_id) if isinstance(trigger_id, str) else None, click=True,
            response_url=response_url if isinstance(response_url, str) else None,
        )
        if from_home:
            await deps.publish_home(user_id)
