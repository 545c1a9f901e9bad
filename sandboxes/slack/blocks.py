"""Block Kit checks: enough of Slack's validation to catch real mistakes, never stricter than Slack.

Slack answers a malformed ``blocks`` argument with ``invalid_blocks_format`` (not JSON, or not an
array) or ``invalid_blocks`` (an array whose items break a rule), and a malformed ``view`` with
``invalid_arguments``; all carry ``response_metadata.messages`` like
``"[ERROR] ... [json-pointer:/blocks/0/text]"``. The limits below are the documented ones
(api.slack.com/reference/block-kit/blocks, .../composition-objects, .../surfaces/views).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100

BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


class BlockKitError(Exception):
    """Blocks or a view Slack would reject: ``code`` is Slack's error, ``messages`` its details."""

    def __init__(self, code: str, messages: list[str]) -> None:
        super().__init__(f"{code}: {'; '.join(messages)}")
        self.code = code
        self.messages = messages


class _Checker:
    """Collects every problem in one pass, as Slack lists them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, pointer: str, message: str) -> None:
        self.problems.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text(
        self, obj: object, pointer: str, *, plain_only: bool = False, max_len: int = 3000
    ) -> None:
        if not isinstance(obj, Mapping):
            self.fail(pointer, "must be a text object")
            return
        kind = obj.get("type")
        allowed = {"plain_text"} if plain_only else TEXT_TYPES
        if kind not in allowed:
            self.fail(f"{pointer}/type", f"must be one of {sorted(allowed)}")
        value = obj.get("text")
        if not isinstance(value, str) or not value:
            self.fail(f"{pointer}/text", "must be more than 0 characters")
        elif len(value) > max_len:
            self.fail(f"{pointer}/text", f"must be less than {max_len + 1} characters")

    def element(self, element: object, pointer: str) -> None:
        if not isinstance(element, Mapping) or not isinstance(element.get("type"), str):
            self.fail(pointer, "missing required field: type")
            return
        action_id = element.get("action_id")
        if action_id is not None and (not isinstance(action_id, str) or len(action_id) > 255):
            self.fail(f"{pointer}/action_id", "must be a string of at most 255 characters")
        if element["type"] == "button":
            self.text(element.get("text"), f"{pointer}/text", plain_only=True, max_len=75)
            value = element.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > 2000):
                self.fail(f"{pointer}/value", "must be a string of at most 2000 characters")
            if element.get("style") not in (None, "primary", "danger"):
                self.fail(f"{pointer}/style", "must be one of primary, danger")

    def block(self, block: object, pointer: str) -> None:
        if not isinstance(block, Mapping):
            self.fail(pointer, "must be an object")
            return
        kind = block.get("type")
        if not isinstance(kind, str):
            self.fail(pointer, "missing required field: type")
            return
        if kind not in BLOCK_TYPES:
            self.fail(f"{pointer}/type", f"unsupported type: {kind}")
            return
        checks = {
            "actions": self._actions,
            "context": self._context,
            "header": self._header,
            "image": self._image,
            "input": self._input,
            "section": self._section,
        }
        check = checks.get(kind)
        if check is not None:
            check(block, pointer)

    def _section(self, block: Mapping[str, Any], pointer: str) -> None:
        has_text = "text" in block
        fields = block.get("fields")
        if not has_text and not fields and "expand" not in block:
            self.fail(pointer, "must provide text or fields")
        if has_text:
            self.text(block["text"], f"{pointer}/text")
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > 10:
                self.fail(f"{pointer}/fields", "must be an array of at most 10 text objects")
            else:
                for i, item in enumerate(fields):
                    self.text(item, f"{pointer}/fields/{i}", max_len=2000)
        if "accessory" in block:
            self.element(block["accessory"], f"{pointer}/accessory")

    def _header(self, block: Mapping[str, Any], pointer: str) -> None:
        self.text(block.get("text"), f"{pointer}/text", plain_only=True, max_len=150)

    def _elements(self, block: Mapping[str, Any], pointer: str, limit: int) -> list[Any]:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements or len(elements) > limit:
            self.fail(f"{pointer}/elements", f"must be an array of 1 to {limit} items")
            return []
        return elements

    def _actions(self, block: Mapping[str, Any], pointer: str) -> None:
        seen: set[str] = set()
        for i, element in enumerate(self._elements(block, pointer, 25)):
            self.element(element, f"{pointer}/elements/{i}")
            action_id = element.get("action_id") if isinstance(element, Mapping) else None
            if isinstance(action_id, str):
                if action_id in seen:
                    self.fail(f"{pointer}/elements/{i}/action_id", "duplicate action_id")
                seen.add(action_id)

    def _context(self, block: Mapping[str, Any], pointer: str) -> None:
        for i, element in enumerate(self._elements(block, pointer, 10)):
            if not isinstance(element, Mapping) or not isinstance(element.get("type"), str):
                self.fail(f"{pointer}/elements/{i}", "missing required field: type")

    def _image(self, block: Mapping[str, Any], pointer: str) -> None:
        if "image_url" not in block and "slack_file" not in block:
            self.fail(pointer, "must provide image_url or slack_file")
        if not isinstance(block.get("alt_text"), str):
            self.fail(f"{pointer}/alt_text", "missing required field: alt_text")

    def _input(self, block: Mapping[str, Any], pointer: str) -> None:
        self.text(block.get("label"), f"{pointer}/label", plain_only=True, max_len=2000)
        self.element(block.get("element"), f"{pointer}/element")

    def blocks(self, blocks: list[Any], pointer: str, limit: int) -> None:
        if len(blocks) > limit:
            self.fail(pointer, f"no more than {limit} items allowed")
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            self.block(block, f"{pointer}/{i}")
            block_id = block.get("block_id") if isinstance(block, Mapping) else None
            if block_id is None:
                continue
            if not isinstance(block_id, str) or len(block_id) > 255:
                self.fail(f"{pointer}/{i}/block_id", "must be a string of at most 255 characters")
            elif block_id in block_ids:
                self.fail(f"{pointer}/{i}/block_id", f"duplicate block_id: {block_id}")
            else:
                block_ids.add(block_id)


def _decode(raw: object) -> object:
    """A form field holds JSON text; a JSON body holds the value itself."""
    if isinstance(raw, str | bytes):
        return json.loads(raw)
    return raw


def parse_message_blocks(raw: object) -> list[dict[str, Any]] | None:
    """Decode and check a message's ``blocks`` argument; None when absent or empty.

    Raises ``BlockKitError`` (``invalid_blocks_format`` or ``invalid_blocks``).
    """
    if raw is None or raw == "":
        return None
    try:
        blocks = _decode(raw)
    except ValueError:
        raise BlockKitError("invalid_blocks_format", ["[ERROR] blocks is not valid JSON"]) from None
    if not isinstance(blocks, list):
        raise BlockKitError("invalid_blocks_format", ["[ERROR] blocks must be a JSON array"])
    checker = _Checker()
    checker.blocks(blocks, "/blocks", MESSAGE_BLOCK_LIMIT)
    if checker.problems:
        raise BlockKitError("invalid_blocks", checker.problems)
    return blocks or None


def parse_view(raw: object, *, expected_type: str | None = None) -> dict[str, Any]:
    """Decode and check a ``view`` argument (modal or home); raises ``BlockKitError``."""
    try:
        view = _decode(raw)
    except ValueError:
        raise BlockKitError("invalid_arguments", ["[ERROR] view is not valid JSON"]) from None
    checker = _Checker()
    if not isinstance(view, dict):
        raise BlockKitError("invalid_arguments", ["[ERROR] must be an object [json-pointer:/view]"])
    kind = view.get("type")
    if kind not in ("modal", "home") or (expected_type and kind != expected_type):
        checker.fail("/view/type", f"must be {expected_type or 'modal or home'}")
    if kind == "modal":
        checker.text(view.get("title"), "/view/title", plain_only=True, max_len=24)
        for key in ("submit", "close"):
            if key in view:
                checker.text(view[key], f"/view/{key}", plain_only=True, max_len=24)
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        checker.fail("/view/blocks", "missing required field: blocks")
    else:
        checker.blocks(blocks, "/view/blocks", VIEW_BLOCK_LIMIT)
        has_input = any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
        if kind == "modal" and has_input and "submit" not in view:
            checker.fail("/view/submit", "submit is required when an input block is present")
    for key, limit in (("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)):
        value = view.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            checker.fail(f"/view/{key}", f"must be a string of at most {limit} characters")
    if checker.problems:
        raise BlockKitError("invalid_arguments", checker.problems)
    return view
