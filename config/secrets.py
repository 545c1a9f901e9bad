"""Secrets: values that never show themselves, and where they come from.

``Secret`` wraps a value so ``repr``/``str``/logs never show it; ``SecretRef`` says where
one lives (an environment variable or a file), never the value: the YAML holds only refs.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

_LIVE_SECRETS: OrderedDict[str, None] = OrderedDict()
_LIVE_SECRETS_MAX = 10_000


def live_secret_values() -> list[str]:
    """Values of recently made ``Secret`` objects, longest first, for log redaction."""
    return sorted(_LIVE_SECRETS, key=len, reverse=True)


class Secret:
    """A string that never shows itself in ``repr``/``str``/logs; ``reveal()`` is explicit.

    Every value is also remembered (bounded) so the log redactor can scrub it
    even from free text that a library formatted.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= 6:
            _LIVE_SECRETS[value] = None
            _LIVE_SECRETS.move_to_end(value)
            while len(_LIVE_SECRETS) > _LIVE_SECRETS_MAX:
                _LIVE_SECRETS.popitem(last=False)

    def reveal(self) -> str:
        """Return the secret; call only where it is delivered to its owner."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SecretRef(BaseModel):
    """Where a secret lives: ``env: NAME`` or ``file: /path``; exactly one."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    env: str | None = None
    """The environment variable holding the secret."""
    file: Path | None = None
    """The file holding the secret (its content, surrounding whitespace removed)."""

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    def resolve(self, environ: Mapping[str, str] | None = None) -> Secret:
        """Read the secret; raise ``MissingSecret`` naming the source (never the value)."""
        environ = os.environ if environ is None else environ
        if self.env is not None:
            value = environ.get(self.env, "")
            if not value:
                raise MissingSecret(f"environment variable {self.env} is not set")
            return Secret(value)
        assert self.file is not None
        try:
            value = self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MissingSecret(f"cannot read secret file {self.file}: {exc.strerror}") from None
        if not value:
            raise MissingSecret(f"secret file {self.file} is empty")
        return Secret(value)

    def describe(self) -> str:
        return f"env {self.env}" if self.env else f"file {self.file}"


class MissingSecret(Exception):
    """A configured secret could not be read."""
