"""Secrets: values that never show themselves, and where they come from.

``Secret`` wraps a value so ``repr``/``str``/logs never show it (it lives in
:mod:`config.secret_values`, re-exported here); ``SecretRef`` says where one lives (an
environment variable or a file), never the value: the YAML holds only refs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from config.secret_values import Secret, live_secret_values

__all__ = ["MissingSecret", "Secret", "SecretRef", "live_secret_values"]


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
