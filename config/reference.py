"""The configuration reference (``docs/configuration.md``) and JSON Schema, from the models.

Every key's type, default and sentence come from the pydantic settings models (the
sentence is the field's docstring), so the reference cannot drift from what is
validated: ``helpdesk config reference`` writes it and a test fails when the committed
file differs. Connector blocks are documented per kind from each kind's ``Settings``,
passed in (``config`` imports no connector).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from config.durations import format_duration
from config.secrets import SecretRef


@dataclass(frozen=True)
class KindDoc:
    """One connector kind as the reference shows it."""

    kind: str
    label: str
    settings: type[BaseModel]


#: Environment variables the bot reads (beside the ones a configuration names in
#: ``{env: NAME}``), with what each does.
ENVIRONMENT: tuple[tuple[str, str], ...] = (
    ("HELPDESK_CONFIG", "Path of `helpdesk.yaml` when `--config` is not given (default: the "
     "packaged demo configuration, `config/helpdesk.yaml`)."),
    ("HELPDESK_LOG_LEVEL", "Overrides `log_level` (`DEBUG`, `INFO`, `WARNING`, `ERROR`)."),
    ("DATABASE_URL", "Used when the configuration has no `database_url`."),
    ("DATABASE_PASSWORD_FILE", "A file holding the database password, added to "
     "`database_url` at start-up so the password is never in the URL or the configuration."),
    ("SLACK_BOT_TOKEN", "The bot token (`xoxb-`), as the default `slack.bot_token` names it."),
    ("SLACK_SIGNING_SECRET", "The signing secret, as the default `slack.signing_secret` "
     "names it. Set both Slack secrets or neither: neither runs the terminal demo, one alone "
     "is a configuration error (exit 2)."),
    ("SLACK_APP_TOKEN", "The app-level token (`xapp-`) for Socket Mode, read when "
     "`slack.app_token` is `{env: SLACK_APP_TOKEN}`; set without that key it is a "
     "configuration error (it would go unused)."),
    ("HELPDESK_OUTBOX_KEY", "The key stored messages' secrets are encrypted with, when "
     "`slack.outbox.key` is not set (every replica needs the same; unset: a key per process, "
     "with a warning)."),
    ("OKTA_API_TOKEN", "The Okta API token the packaged configuration's `okta` connector "
     "names; a connector block's `{env: NAME}` may name any variable."),
    ("HELPDESK_ALLOW_EPHEMERAL_SQLITE", "`1` lets the container image start on SQLite in a "
     "path that is not a mounted volume (the audit trail would be lost on restart)."),
    ("HELPDESK_IN_CONTAINER", "Set by the image: no terminal demo, deployment checks apply."),
    ("HELPDESK_HEALTH_URL", "What the image's `HEALTHCHECK` fetches (default "
     "`http://127.0.0.1:3000/healthz`)."),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "Turns tracing on: spans are exported over OTLP/HTTP "
     "there (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` also works; the other standard `OTEL_*` "
     "variables apply)."),
    ("OTEL_SERVICE_NAME", "The traced service's name (default `helpdesk-bot`)."),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "Like `OTEL_EXPORTER_OTLP_ENDPOINT`, for traces "
     "only (taken first when both are set)."),
    ("HELPDESK_DEMO_OKTA_TOKEN", "Set by `helpdesk demo` for its own local Okta sandbox; "
     "never set it by hand."),
)


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Union or type(annotation).__name__ == "UnionType":
        names = [_type_name(a) for a in args if a is not type(None)]
        optional = type(None) in args
        return " or ".join(names) + (" or null" if optional else "")
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (list, tuple, set, frozenset):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if annotation is SecretRef:
        return "secret (`{env: NAME}` or `{file: PATH}`)"
    if annotation is timedelta:
        return "duration (`30s`, `15m`, `8h`, `3d`)"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if isinstance(annotation, type):
        return {"str": "text", "int": "integer", "float": "number", "bool": "true/false",
                "Path": "path"}.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def _value(value: Any) -> str:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, SecretRef):
        return json.dumps(value.model_dump(exclude_none=True)).replace('"', "")
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Path):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        factory: Any = field.default_factory
        value = factory()
    else:
        value = field.default
    if value is PydanticUndefined:
        return "required"
    shown = _value(value)
    if shown == "see below":
        return shown
    return "(empty)" if shown in ("", "[]", "{}") else f"`{shown}`"


def _sentence(field: FieldInfo) -> str:
    return " ".join((field.description or "").split())


def _nested(annotation: Any) -> type[BaseModel] | None:
    from config.problems import _unwrap

    inner, _ = _unwrap(annotation)
    if isinstance(inner, type) and issubclass(inner, BaseModel) and inner is not SecretRef:
        return inner
    return None


def _sections(
    model: type[BaseModel], path: str, out: list[tuple[str, type[BaseModel]]]
) -> None:
    out.append((path, model))
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        inner = _nested(field.annotation)
        if inner is not None and all(inner is not m for _, m in out):
            origin = get_origin(field.annotation)
            suffix = "[]" if origin is list else ".<name>" if origin is dict else ""
            _sections(inner, f"{path}.{name}{suffix}" if path else f"{name}{suffix}", out)


def undocumented(model: type[BaseModel], kinds: Sequence[KindDoc] = ()) -> list[str]:
    """Keys without a sentence (the reference test requires none)."""
    found: list[tuple[str, type[BaseModel]]] = []
    _sections(model, "", found)
    for kind in kinds:
        _sections(kind.settings, f"connectors.<name> (kind: {kind.kind})", found)
    return [
        f"{path or '(top level)'}.{name}"
        for path, section in found
        for name, field in section.model_fields.items()
        if not field.exclude and name != "kind" and not _sentence(field)
    ]


def _table(path: str, model: type[BaseModel]) -> list[str]:
    lines = ["| key | type | default | what |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        if field.exclude or (name == "kind" and path.startswith("connectors")):
            continue
        key = f"{path}.{name}" if path else name
        lines.append(
            f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | "
            f"{_sentence(field)} |"
        )
    return lines


def reference(model: type[BaseModel], kinds: Sequence[KindDoc]) -> str:
    """``docs/configuration.md``: every section, key, type, default and sentence."""
    out = [
        "# Configuration reference",
        "",
        "Generated from the settings models by `helpdesk config reference -o "
        "docs/configuration.md`; a test fails when this file is out of date. Check a file "
        "with `helpdesk config check FILE`; `helpdesk config schema` prints the JSON Schema.",
        "",
        "Durations are written `30s`, `15m`, `8h`, `3d` (or a number of seconds). Secrets are "
        "never values: `{env: NAME}` reads an environment variable, `{file: PATH}` a file "
        "(a mounted Kubernetes or Docker secret).",
        "",
    ]
    sections: list[tuple[str, type[BaseModel]]] = []
    _sections(model, "", sections)
    for path, section in sections:
        title = path or "Top level"
        out += [f"## {title}", ""]
        doc = (section.__doc__ or "").strip().split("\n\n")[0]
        if doc and not doc.startswith(("Usage docs", "A base class")):
            out += [" ".join(doc.split()), ""]
        out += [*_table(path, section), ""]
    out += [
        "## Connector kinds",
        "",
        "Each entry of `connectors:` is a name (used in `capabilities:` and `catalogue:`) "
        "mapped to a block whose `kind` chooses the identity system; the rest of the block "
        "is that kind's:",
        "",
    ]
    for kind in kinds:
        nested: list[tuple[str, type[BaseModel]]] = []
        _sections(kind.settings, "connectors.<name>", nested)
        out += [f"### `kind: {kind.kind}` ({kind.label})", ""]
        for path, section in nested:
            if path != "connectors.<name>":
                out += [f"#### {path}", ""]
            out += [*_table(path, section), ""]
    out += ["## Environment variables", "", "| variable | what |", "| --- | --- |"]
    out += [f"| `{name}` | {what} |" for name, what in ENVIRONMENT]
    return "\n".join(out) + "\n"


def schema(model: type[BaseModel], kinds: Sequence[KindDoc]) -> dict[str, Any]:
    """The configuration's JSON Schema; each connector block checked against its kind."""
    result = model.model_json_schema(mode="validation")
    blocks = []
    for kind in kinds:
        block = kind.settings.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
        for name, definition in block.pop("$defs", {}).items():
            result.setdefault("$defs", {})[name] = definition
        block.setdefault("properties", {})["kind"] = {"const": kind.kind}
        block["required"] = sorted({*block.get("required", []), "kind"})
        blocks.append(block)
    if blocks:
        result["properties"]["connectors"]["additionalProperties"] = {"oneOf": blocks}
    shaped: dict[str, Any] = _durations_as_written(result)
    return shaped


def _durations_as_written(node: Any) -> Any:
    """Durations as the configuration takes them: ``15m`` or a number of seconds (pydantic's
    schema says an ISO 8601 string only)."""
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "duration":
            rest = {k: v for k, v in node.items() if k not in ("type", "format")}
            return {**rest, "anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}]}
        return {k: _durations_as_written(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_durations_as_written(v) for v in node]
    return node
