"""Block Kit, built from conversation replies by pure functions that tests call directly."""

from __future__ import annotations

from typing import Any

from bot.conversation import Button, Reply


def button_action_id(button: Button, index: int) -> str:
    """Action ids are unique within a message: ``<action>.<index>``."""
    return f"{button.action}.{index}"


def parse_action_id(action_id: str) -> str:
    return action_id.split(".", 1)[0]


def _button(button: Button, index: int) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": button.label[:75], "emoji": True},
        "action_id": button_action_id(button, index),
        "value": button.value,
    }
    if button.style:
        block["style"] = button.style
    return block


def reply_blocks(reply: Reply) -> list[dict[str, Any]]:
    """A section with the text and, when there are buttons, an actions block."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": reply.text[:3000]}}
    ]
    if reply.buttons:
        blocks.append(
            {
                "type": "actions",
                "elements": [_button(b, i) for i, b in enumerate(reply.buttons)],
            }
        )
    return blocks


def home_view(lines: list[str]) -> dict[str, Any]:
    """The App Home tab: what the bot can do."""
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "IT helpdesk"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
        ],
    }
