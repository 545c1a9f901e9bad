"""Connector kinds by name, imported lazily so a deployment loads only what it uses.

Each connector module exposes ``Settings`` (a pydantic model of its config
block, secrets as ``SecretRef``) and ``build(name, settings, environ)``
returning a ``Directory`` that implements its declared roles.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Protocol, cast

from pydantic import BaseModel

from connectors.base import Directory

KINDS: dict[str, str] = {
    "okta": "connectors.okta",
    "onelogin": "connectors.onelogin",
    "ad": "connectors.ad",
    "memory": "connectors.memory",
}


class ConnectorModule(Protocol):
    Settings: type[BaseModel]

    def build(self, name: str, settings: Any, environ: Mapping[str, str]) -> Directory: ...


def load_kind(kind: str) -> ConnectorModule:
    """Import the module of a connector kind; ``KeyError`` for an unknown kind."""
    path = KINDS[kind]
    module: ModuleType = importlib.import_module(path)
    return cast(ConnectorModule, module)
