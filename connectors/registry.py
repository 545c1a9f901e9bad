"""The one list of connector kinds: each kind's package, imported when first used.

Every kind's module exports the same four names, and importing it does no I/O:

- ``Settings``: a pydantic model of the kind's connector block (secrets as ``SecretRef``);
- ``build(name, settings, environ)``: the connector, a ``Directory`` implementing
  the roles its ``capabilities`` declare;
- ``LABEL``: how employees and admins know the system ("Okta");
- ``diagnose(connector, settings, needs)``: the doctor's checks of that connector.

Adding a kind is one line in :data:`KINDS`. The configuration checks connector
blocks through :data:`CONFIG_KINDS` (``config`` knows no connector), the
``Providers`` labels and the doctor go through :func:`load_kind` and :func:`kind_label`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydantic import BaseModel, ValidationError

from config.problems import describe
from connectors.base import Directory

if TYPE_CHECKING:
    from connectors.doctor import Finding, Needs

KINDS: Mapping[str, str] = {
    "okta": "connectors.okta",
    "onelogin": "connectors.onelogin",
    "ad": "connectors.ad",
    "memory": "connectors.memory",
}


class ConnectorKind(Protocol):
    """What the registry reads from a kind's module (see the module docstring)."""

    Settings: type[BaseModel]
    LABEL: str

    def build(self, name: str, settings: Any, environ: Mapping[str, str]) -> Directory:
        """Make the connector for one validated ``Settings``; no network I/O."""
        ...

    async def diagnose(self, connector: Directory, settings: Any, needs: Needs) -> list[Finding]:
        """The doctor's read-only checks of a connector this kind built from ``settings``."""
        ...


def load_kind(kind: str) -> ConnectorKind:
    """Import the module of a connector kind; ``KeyError`` for an unknown kind."""
    return cast(ConnectorKind, importlib.import_module(KINDS[kind]))


def kind_label(kind: str) -> str:
    """The kind's display label ("Active Directory"); ``KeyError`` for an unknown kind."""
    return load_kind(kind).LABEL


class _ConfigKinds:
    """The kinds as the configuration checks them (``config.settings.KindChecker``)."""

    def names(self) -> list[str]:
        """Every kind, sorted (as listed in "unknown connector kind" problems)."""
        return sorted(KINDS)

    def check(
        self, kind: str, options: Mapping[str, Any]
    ) -> list[tuple[tuple[int | str, ...], str]]:
        """Problems of one connector block's options under its kind's ``Settings``.

        Each problem is its location inside the block and pydantic's message;
        none means the block is valid. ``KeyError`` for an unknown kind.
        """
        model = load_kind(kind).Settings
        try:
            model.model_validate(dict(options))
        except ValidationError as exc:
            return [(tuple(err["loc"]), describe(err, model)) for err in exc.errors()]
        return []


CONFIG_KINDS = _ConfigKinds()
