"""Validate fake-Slack traffic against Slack's own published schemas (tests/specs/slack).

``SlackSpec().validate_response(method, body)`` checks a Web API body against that method's
schema in ``slack_web_openapi_v2_without_examples.json`` (OpenAPI 2.0 / JSON Schema draft 4): the
``200`` schema when ``body["ok"]`` is true, else the ``default`` (error) schema.
``validate_event(payload)`` checks an Events API envelope against
``slack_common_event_wrapper_schema.json`` and the AsyncAPI topic schema of its event.

The spec dates from 2021. Where it disagrees with what Slack documents today, the schema is
patched in memory, one named quirk at a time (``_QUIRKS`` and the functions below); the files on
disk stay as published.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SPEC_DIR = Path(__file__).resolve().parents[1] / "specs" / "slack"
WEB_SPEC = "slack_web_openapi_v2_without_examples.json"
EVENTS_SPEC = "slack_events_api_async_v1.json"
WRAPPER_SPEC = "slack_common_event_wrapper_schema.json"

# Errors every method page lists today as possible for any call ("common errors"); the 2021
# per-method enums predate most of them (api.slack.com/methods/<method>, "Errors" table).
COMMON_ERRORS = frozenset(
    {
        "access_denied",
        "accesslimited",
        "account_inactive",
        "deprecated_endpoint",
        "ekm_access_denied",
        "enterprise_is_restricted",
        "fatal_error",
        "internal_error",
        "invalid_arg_name",
        "invalid_arguments",
        "invalid_array_arg",
        "invalid_auth",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "is_bot",
        "method_deprecated",
        "missing_post_type",
        "missing_scope",
        "no_permission",
        "not_allowed_token_type",
        "not_authed",
        "ratelimited",
        "request_timeout",
        "service_unavailable",
        "team_access_not_granted",
        "team_added_to_org",
        "token_expired",
        "token_revoked",
        "two_factor_setup_required",
        "invalid_json",
        "json_not_object",
    }
)

# Method-specific errors documented today but absent from the 2021 enums.
NEWER_ERRORS: Mapping[str, frozenset[str]] = {
    "chat.postMessage": frozenset(
        {"invalid_blocks", "invalid_blocks_format", "invalid_attachments"}
    ),
    "chat.update": frozenset({"invalid_blocks", "invalid_blocks_format", "invalid_attachments"}),
    "chat.postEphemeral": frozenset(
        {"invalid_blocks", "invalid_blocks_format", "invalid_attachments"}
    ),
    "usergroups.users.list": frozenset({"no_such_subteam", "plan_upgrade_required"}),
}

# Extra members Slack puts beside ``error``: ``needed``/``provided`` with missing_scope, and
# ``response_metadata.messages`` detailing invalid_blocks/invalid_arguments. The 2021 error
# schemas are ``additionalProperties: false`` without them (conversations.info has the first two).
ERROR_EXTRAS: dict[str, Any] = {
    "needed": {"type": "string"},
    "provided": {"type": "string"},
    "response_metadata": {
        "type": "object",
        "additionalProperties": False,
        "required": ["messages"],
        "properties": {"messages": {"type": "array", "items": {"type": "string"}}},
    },
}

# Message metadata (2022, after the spec): with ``include_all_metadata`` conversations.history
# returns each message's ``metadata`` as it was posted (api.slack.com/metadata/using).
MESSAGE_METADATA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["event_type", "event_payload"],
    "properties": {"event_type": {"type": "string"}, "event_payload": {"type": "object"}},
}

# The url_verification handshake is not an event_callback, yet the AsyncAPI file maps its topic to
# the generic wrapper; this is the shape from api.slack.com/events/url_verification.
URL_VERIFICATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["token", "challenge", "type"],
    "properties": {
        "token": {"type": "string"},
        "challenge": {"type": "string", "minLength": 1},
        "type": {"enum": ["url_verification"]},
    },
}


def _unions(node: Any) -> Any:
    """Rewrite Slack's ``items: [A, B]`` unions (on non-array schemas) as ``anyOf: [A, B]``.

    The generator behind the 2021 spec wrote "one of these" as a tuple ``items`` without
    ``type: array``. JSON Schema ignores ``items`` for non-arrays, so as published those schemas
    accept anything (e.g. every ``objs_user``); as ``anyOf`` they check what was meant.
    """
    if isinstance(node, list):
        return [_unions(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _unions(value) for key, value in node.items()}
    items = out.get("items")
    if isinstance(items, list) and out.get("type") != "array":
        del out["items"]
        out["anyOf"] = items
    return out


def _relax_error_schema(method: str, schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    props = schema.setdefault("properties", {})
    error = props.get("error", {})
    if "enum" in error:
        error["enum"] = sorted(set(error["enum"]) | COMMON_ERRORS | NEWER_ERRORS.get(method, set()))
    for name, extra in ERROR_EXTRAS.items():
        props.setdefault(name, extra)
    return schema


def _patch_success_schema(method: str, schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    if method == "chat.update":
        # The spec types the returned message's ``blocks`` as an object; Slack returns the
        # blocks array it stored (api.slack.com/methods/chat.update, example response).
        schema["properties"]["message"]["properties"]["blocks"] = {"$ref": "#/definitions/blocks"}
    if method == "conversations.history":
        # Message metadata (2022, after the spec): with ``include_all_metadata`` each message
        # carries the ``metadata`` it was posted with (api.slack.com/metadata/using).
        # (The spec's message object is shared: it is extended as an allOf here, not edited.)
        schema["properties"]["messages"]["items"] = {
            "allOf": [
                {"$ref": "#/definitions/objs_message_with_metadata"},
            ]
        }
    return schema


class SlackSpec:
    """Loaded, patched Slack schemas; see the module docstring."""

    def __init__(self, spec_dir: Path = SPEC_DIR) -> None:
        web = json.loads((spec_dir / WEB_SPEC).read_text(encoding="utf-8"))
        self.definitions: dict[str, Any] = _unions(web["definitions"])
        self.paths: dict[str, Any] = web["paths"]
        events = json.loads((spec_dir / EVENTS_SPEC).read_text(encoding="utf-8"))
        self.topics: dict[str, Any] = events["topics"]
        self.components: dict[str, Any] = events["components"]["schemas"]
        self.wrapper: dict[str, Any] = json.loads(
            (spec_dir / WRAPPER_SPEC).read_text(encoding="utf-8")
        )

    def methods(self) -> list[str]:
        """Every method the spec describes."""
        return sorted(path.lstrip("/") for path in self.paths)

    def response_schema(self, method: str, *, ok: bool) -> dict[str, Any]:
        """The (patched) schema of ``method``'s success or error body, definitions inlined."""
        operations = self.paths[f"/{method}"]
        operation = next(iter(operations.values()))
        raw = operation["responses"]["200" if ok else "default"]["schema"]
        schema: dict[str, Any] = _unions(raw)
        if method == "conversations.history" and ok:
            message = copy.deepcopy(self.definitions["objs_message"])
            message.setdefault("properties", {})["metadata"] = MESSAGE_METADATA
            self.definitions.setdefault("objs_message_with_metadata", message)
        schema = (
            _patch_success_schema(method, schema) if ok else _relax_error_schema(method, schema)
        )
        return {**schema, "definitions": self.definitions}

    def validate_response(self, method: str, body: Mapping[str, Any]) -> None:
        """Raise ``jsonschema.ValidationError`` unless ``body`` fits ``method``'s schema."""
        schema = self.response_schema(method, ok=body.get("ok") is True)
        jsonschema.Draft4Validator(schema).validate(dict(body))

    def event_wrapper_schema(self) -> dict[str, Any]:
        """The common event wrapper, minus ``authed_users`` in ``required``.

        Slack stopped sending the full ``authed_users`` list in 2021 and sends ``authorizations``
        instead (api.slack.com/changelog/2020-09-15-events-api-truncate-authed-users).
        """
        schema = copy.deepcopy(self.wrapper)
        schema["required"] = [r for r in schema["required"] if r != "authed_users"]
        return schema

    def topic_schema(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The AsyncAPI payload schema for an event, ``authed_users`` relaxed as above.

        ``message`` events use the ``message.<channel_type>`` topic: the bare ``message`` topic
        was generated from a ``message_deleted`` sample and requires its fields.
        """
        kind = str(event.get("type", ""))
        topic = kind.replace("_", ".")
        if kind == "message" and event.get("channel_type"):
            topic = f"message.{event['channel_type']}"
        # Events newer than the 2021 file (app_home_opened among them) get the generic wrapper.
        fallback = {"$ref": "#/components/schemas/GenericEventWrapper"}
        payload = self.topics.get(topic, {}).get("subscribe", {}).get("payload", fallback)
        ref = payload.get("$ref", "")
        source = self.components[ref.rsplit("/", 1)[-1]] if ref else payload
        schema: dict[str, Any] = copy.deepcopy(source)
        schema["required"] = [r for r in schema.get("required", []) if r != "authed_users"]
        return schema

    def validate_event(self, payload: Mapping[str, Any]) -> None:
        """Raise ``jsonschema.ValidationError`` unless an Events API request body fits the specs."""
        body = dict(payload)
        if body.get("type") == "url_verification":
            jsonschema.Draft7Validator(URL_VERIFICATION_SCHEMA).validate(body)
            return
        jsonschema.Draft7Validator(self.event_wrapper_schema()).validate(body)
        jsonschema.Draft4Validator(self.topic_schema(body["event"])).validate(body)


@cache
def slack_spec() -> SlackSpec:
    """The shared, loaded spec (parsing the 1 MB file once per test session)."""
    return SlackSpec()
