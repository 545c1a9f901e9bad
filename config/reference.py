"""The configuration described from its models: JSON Schema and ``docs/configuration.md``.

Both are made from the pydantic settings models, so they cannot disagree with what
``helpdesk config check`` accepts: every field's type, default and ``description=``.
Connector blocks are described by each kind's ``Settings``, which the caller passes
(``config`` knows no connector: ``bot.config_cli`` takes them from the registry).
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from config.environment import ENVIRONMENT
from config.secrets import SecretRef
from config.settings import ConnectorBlock, HelpdeskConfig

COMMAND = "helpdesk config reference -o docs/configuration.md"


# -- JSON Schema -----------------------------------------------------------------------


def json_schema(kinds: Mapping[str, type[BaseModel]]) -> dict[str, Any]:
    """The JSON Schema of ``helpdesk.yaml``; a connector block is one of the kinds' blocks."""
    schema = HelpdeskConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "helpdesk.yaml"
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    choices: list[dict[str, Any]] = []
    for kind, model in sorted(kinds.items()):
        sub = model.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
        for name, definition in sub.pop("$defs", {}).items():
            defs.setdefault(name, definition)
        sub["title"] = f"{kind} connector"
        sub["properties"] = {"kind": {"const": kind}, **sub.get("properties", {})}
        sub["required"] = ["kind", *sub.get("required", [])]
        defs[f"{kind}_connector"] = sub
        choices.append({"$ref": f"#/$defs/{kind}_connector"})
    defs["ConnectorBlock"] = {
        "description": ConnectorBlock.__doc__,
        "oneOf": choices,
    }
    schema.get("properties", {}).pop("source", None)
    return schema


# -- Markdown --------------------------------------------------------------------------


def _models_in(tp: Any) -> Iterator[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp
        return
    for arg in get_args(tp):
        yield from _models_in(arg)


def type_name(tp: Any) -> str:
    """How a field's type reads in the reference."""
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        text = " or ".join(type_name(a) for a in members)
        return f"{text} or null" if len(members) < len(args) else text
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (list, tuple, set, frozenset):
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {type_name(args[1])}" if len(args) == 2 else "mapping"
    if origin is not None and hasattr(tp, "__metadata__"):
        return type_name(args[0])
    if tp is SecretRef:
        return "secret (`{env: NAME}` or `{file: PATH}`)"
    if tp is timedelta:
        return "duration (`90s`, `15m`, `1h`, `2d`, `1w`)"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "block"
    if tp is Path:
        return "path"
    simple = {str: "text", int: "integer", float: "number", bool: "true/false"}
    return simple.get(tp, getattr(tp, "__name__", str(tp)))


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, SecretRef):
        return f"{{env: {value.env}}}" if value.env else f"{{file: {value.file}}}"
    if isinstance(value, BaseModel):
        parts = [f"{k}: {_value(v)}" for k, v in value.model_dump().items() if v is not None]
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: …" for k in value) + "}" if value else "{}"
    return str(value)


def default_text(field: FieldInfo) -> str:
    """The default as a person would write it in YAML, or *required*."""
    if any(m is not SecretRef for m in _models_in(field.annotation)) and get_origin(
        field.annotation
    ) not in (list, tuple, dict):
        return "see below"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "*required*"
    else:
        value = field.default
    text = _value(value).replace("|", "\\|")
    return f"`{text}`" if text else "`\"\"`"


def missing_descriptions(
    root: type[BaseModel], kinds: Mapping[str, type[BaseModel]]
) -> list[str]:
    """``Model.field`` of every field with no ``description=`` (the reference needs one)."""
    missing: list[str] = []
    seen: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen or model is SecretRef:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            if field.exclude:
                continue
            if not field.description:
                missing.append(f"{model.__module__}.{model.__qualname__}.{name}")
            for sub in _models_in(field.annotation):
                walk(sub)

    walk(root)
    for model in kinds.values():
        walk(model)
    return sorted(missing)


def _rows(model: type[BaseModel], prefix: str) -> tuple[list[str], list[tuple[str, type]]]:
    rows: list[str] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        if field.exclude or (model is HelpdeskConfig and name == "connectors"):
            continue
        description = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append(
            f"| `{name}` | {type_name(field.annotation)} | {default_text(field)} | {description} |"
        )
        subs = [m for m in _models_in(field.annotation) if m is not SecretRef]
        if subs:
            origin = get_origin(field.annotation)
            inner = f"{prefix}{name}[]" if origin in (list, tuple) else f"{prefix}{name}"
            nested.append((inner, subs[0]))
    return rows, nested


_HEAD = ["| Key | Type | Default | Description |", "|---|---|---|---|"]


def _section(model: type[BaseModel], path: str, level: int) -> list[str]:
    rows, nested = _rows(model, f"{path}." if path else "")
    lines = [f"{'#' * level} `{path}`" if path else f"{'#' * level} Top level", ""]
    doc = " ".join((model.__doc__ or "").split()).replace("``", "`") if path else ""
    if doc and not doc.startswith("A base class"):
        lines += [doc, ""]
    lines += [*_HEAD, *rows, ""]
    for sub_path, sub in nested:
        lines += _section(sub, sub_path, min(level + 1, 4))
    return lines


def render_reference(kinds: Mapping[str, type[BaseModel]], labels: Mapping[str, str]) -> str:
    """``docs/configuration.md``: every key, type, default and description; the environment."""
    lines = [
        "# Configuration reference",
        "",
        f"Generated from the settings models by `{COMMAND}`; do not edit by hand",
        "(`tests/config/test_reference.py` fails when this file is out of date).",
        "",
        "The bot reads one YAML file, `helpdesk.yaml` (`--config FILE`, else `$HELPDESK_CONFIG`,",
        "else the packaged `config/helpdesk.yaml`). Secrets are never values in it: only",
        "`{env: NAME}` or `{file: PATH}`. `helpdesk config check FILE` validates a file and",
        "prints one line per problem; `helpdesk config schema` prints its JSON Schema.",
        "Durations are written `90s`, `15m`, `1h`, `2d` or `1w`.",
        "",
        "## Environment variables",
        "",
        "| Variable | Area | What it does |",
        "|---|---|---|",
    ]
    lines += [f"| `{v.name}` | {v.section} | {v.text} |" for v in ENVIRONMENT]
    lines += ["", "## Settings", ""]
    lines += _section(HelpdeskConfig, "", 3)
    lines += [
        "## Connectors",
        "",
        "`connectors` maps a name of your choosing to a block whose `kind` says which",
        "directory it is; `capabilities` then names, per capability (`groups`,",
        "`password_reset`, `unlock`, `mfa_reset`, `password_expiry`), the connector",
        "serving it. The rest of the block depends on the kind:",
        "",
    ]
    for kind, model in sorted(kinds.items()):
        rows, nested = _rows(model, "connectors.<name>.")
        lines += [f"### `kind: {kind}` ({labels.get(kind, kind)})", ""]
        doc = " ".join((model.__doc__ or "").split()).replace("``", "`")
        if doc:
            lines += [doc, ""]
        lines += [*_HEAD, *rows, ""]
        for sub_path, sub in nested:
            lines += _section(sub, sub_path, 4)
    return "\n".join(lines).rstrip() + "\n"
