"""Configuration problems in words an IT admin acts on, not pydantic's.

``describe(error, model)`` turns one pydantic error into the sentence shown after its
location: an unknown key names the key it probably meant ("unknown key `delivry`; did you
mean `delivery`?"), a secret written as a value says how secrets are written, and
everything else keeps pydantic's message.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping, Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from config.secrets import SecretRef

_NOT_A_MAPPING = frozenset({"model_type", "model_attributes_type", "dict_type"})
SECRET_FORM = "secrets must be `{env: NAME}` or `{file: PATH}`, never the value itself"


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type inside ``Optional``/``list``/``dict``; True when a key or index follows."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else (None, False)
    if origin in (list, tuple, set, frozenset):
        inner, _ = _unwrap(get_args(annotation)[0])
        return inner, True
    if origin is dict:
        inner, _ = _unwrap(get_args(annotation)[1])
        return inner, True
    return annotation, False


def model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The settings model that holds what is at ``loc`` (None: not a model's field)."""
    current: Any = model
    skip = False
    for part in loc:
        if skip:
            skip = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current, skip = _unwrap(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _is_secret(model: type[BaseModel], loc: tuple[int | str, ...]) -> bool:
    holder = model_at(model, loc[:-1])
    if holder is None:
        return False
    field = holder.model_fields.get(str(loc[-1]))
    return field is not None and _unwrap(field.annotation)[0] is SecretRef


def describe(error: ErrorDetails, model: type[BaseModel]) -> str:
    """What is wrong at ``error['loc']`` inside ``model``, in one sentence."""
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden" and loc:
        key = str(loc[-1])
        holder = model_at(model, loc[:-1])
        known = sorted(holder.model_fields) if holder is not None else []
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if close:
            return f"unknown key `{key}`; did you mean `{close[0]}`?"
        if known:
            return f"unknown key `{key}`; the keys here are {', '.join(known)}"
        return f"unknown key `{key}`"
    # A secret written as a value where a SecretRef belongs.
    if error["type"] in _NOT_A_MAPPING and loc and _is_secret(model, loc):
        return SECRET_FORM
    if error["type"] == "missing":
        return "required, and missing"
    return str(error["msg"])


def log_level_override(environ: Mapping[str, str], levels: Sequence[str]) -> tuple[str, list[str]]:
    """``HELPDESK_LOG_LEVEL`` as a level (``""``: not set), or its problem, named as the
    environment's rather than the file's (the file may be right)."""
    given = environ.get("HELPDESK_LOG_LEVEL", "")
    level = given.strip().upper()
    if not level or level in levels:
        return level, []
    return "", [f"HELPDESK_LOG_LEVEL: {given!r} is not a log level; use {', '.join(levels)}"]
