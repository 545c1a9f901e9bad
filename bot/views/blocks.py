"""Block Kit for replies and forms, built by pure functions that tests call directly.

Also the inverse: a clicked button's action id and a submitted modal, parsed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.replies import Button, Form, FormField, Reply

#: ``callback_id`` of every modal form; what it does is in ``private_metadata``.
FORM_CALLBACK = "hd_form"
MAX_BLOCKS = 100  # Slack's limit per message and per view


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


def fields_block(fields: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A section of up to ten ``*label*`` / value fields."""
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": f"*{label}*\n{value}"[:2000]}
            for label, value in list(fields)[:10]
        ],
    }


def reply_blocks(reply: Reply) -> list[dict[str, Any]]:
    """A section with the text, one with the fields if any, and an actions block for buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": reply.text[:3000]}}
    ]
    if reply.fields:
        blocks.append(fields_block(reply.fields))
    if reply.buttons:
        blocks.append(
            {
                "type": "actions",
                "elements": [_button(b, i) for i, b in enumerate(reply.buttons)],
            }
        )
    return blocks


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def _input(field: FormField, choose: str) -> dict[str, Any]:
    element: dict[str, Any]
    if field.choices:
        element = {
            "type": "static_select",
            "action_id": field.name,
            "placeholder": plain(choose, 150),
            "options": [
                {"text": plain(label, 75), "value": value} for label, value in field.choices
            ][:100],
        }
    else:
        element = {
            "type": "plain_text_input",
            "action_id": field.name,
            "multiline": field.multiline,
            "max_length": field.max_length,
        }
        if field.min_length:
            element["min_length"] = field.min_length
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.name,
        "label": plain(field.label, 2000),
        "element": element,
    }
    if field.hint:
        block["hint"] = plain(field.hint, 2000)
    return block


def form_view(form: Form, prompt: tuple[str, str] | None = None) -> dict[str, Any]:
    """A modal asking ``form``'s questions.

    ``private_metadata`` carries what the submission does (action, value) and the
    message the form was opened from, to update it with the outcome.
    """
    meta: dict[str, str] = {"a": form.action, "v": form.value}
    if prompt is not None:
        meta.update(c=prompt[0], t=prompt[1])
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": plain(form.title, 24),
        "submit": plain(form.submit, 24),
        "close": plain(form.close, 24),
        "private_metadata": json.dumps(meta),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": form.intro[:3000]}},
            *(_input(f, form.choose) for f in form.fields),
        ],
    }


@dataclass(frozen=True)
class Submission:
    """A modal submission, parsed: what to do, on what, from which message, with which values."""

    action: str
    value: str
    prompt: tuple[str, str] | None
    values: dict[str, str]


def parse_submission(view: Mapping[str, Any]) -> Submission | None:
    """Read a submitted view; ``None`` when it isn't one of our forms or is malformed."""
    if view.get("callback_id") != FORM_CALLBACK:
        return None
    try:
        meta = json.loads(str(view.get("private_metadata") or ""))
    except ValueError:
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("a"), str):
        return None
    if not isinstance(meta.get("v"), str):
        return None
    channel, ts = meta.get("c"), meta.get("t")
    prompt = (channel, ts) if isinstance(channel, str) and isinstance(ts, str) else None
    values: dict[str, str] = {}
    state = (view.get("state") or {}).get("values") or {}
    if not isinstance(state, dict):
        return None
    for block_id, actions in state.items():
        if not isinstance(actions, dict):
            continue
        for item in actions.values():
            if not isinstance(item, dict):
                continue
            option = item.get("selected_option")
            if isinstance(option, dict):
                values[str(block_id)] = str(option.get("value") or "")
            elif item.get("value") is not None:
                values[str(block_id)] = str(item["value"])
    return Submission(meta["a"], meta["v"], prompt, values)


def form_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """Errors keyed by input block id, as ``response_action: errors`` wants them."""
    return {name: message[:150] for name, message in errors.items()}
