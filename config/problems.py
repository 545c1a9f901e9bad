"""Pydantic's validation errors as a person reads them: one line, saying what to write instead.

``explain(error, model)`` turns one entry of ``ValidationError.errors()`` into the text
after ``field.path:`` in a configuration problem. Two messages change:

* an unknown key names the nearest known one ("unknown key `delivry`; did you mean
  `delivery`?", :mod:`difflib`), or lists the keys when none is near;
* anything wrong at a secret says what a secret is ("secrets must be `{env: NAME}` or
  `{file: PATH}`, never the value itself"); the value given is never repeated.

Both the application's settings and each connector kind's ``Settings`` are explained
here, so a typo reads the same wherever it is.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping, Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from config.secrets import SecretRef

SECRET_HINT = "secrets must be `{env: NAME}` or `{file: PATH}`, never the value itself"


def _unwrap(tp: Any, part: int | str | None) -> Any:
    """The type found one step inside ``tp`` (at ``part``, for containers)."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
        if models and part is not None and str(part) in models[0].model_fields:
            return models[0]
        containers = [a for a in members if get_origin(a) is not None]
        return containers[0] if containers and isinstance(part, int) else (
            models[0] if models else (members[0] if members else tp)
        )
    return tp


def model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class whose field ``loc`` ends in (``loc[:-1]`` walked from ``model``)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current, part)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
            continue
        origin = get_origin(current)
        args = get_args(current)
        if origin in (list, tuple, set, frozenset, Sequence) and args:
            current = args[0]
        elif origin in (dict, Mapping) and len(args) == 2:
            current = args[1]
        else:
            return None
    current = _unwrap(current, None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _parent(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    if not loc:
        return None
    if len(loc) == 1:
        return model
    return model_at(model, loc[:-1])


def unknown_key(key: str, known: Sequence[str]) -> str:
    """"unknown key `delivry`; did you mean `delivery`?" (or the keys allowed there)."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key `{key}`; did you mean `{close[0]}`?"
    return f"unknown key `{key}`; allowed here: {', '.join(sorted(known))}"


def explain(error: ErrorDetails, model: type[BaseModel]) -> str:
    """One readable message for one pydantic error found validating ``model``."""
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    kind = error["type"]
    here = model_at(model, loc) if loc else model
    parent = _parent(model, loc)
    secret = parent is SecretRef or ctx.get("class_name") == "SecretRef"
    if secret or (here is SecretRef and kind != "missing"):
        return SECRET_HINT + (", exactly one of the two" if kind == "value_error" else "")
    if kind == "extra_forbidden" and loc and parent is not None:
        return unknown_key(str(loc[-1]), list(parent.model_fields))
    return str(error["msg"])
