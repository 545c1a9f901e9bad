"""A recorded request/response pair, as handed to the ``on_exchange`` hook."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _find(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What the client sent; ``query`` keeps repeated keys in order."""

    method: str
    url: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first header called ``name`` (case-insensitive), or None."""
        return _find(self.headers, name)


@dataclass(frozen=True, slots=True)
class RecordedResponse:
    """What the sandbox answered."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first header called ``name`` (case-insensitive), or None."""
        return _find(self.headers, name)

    def header_values(self, name: str) -> list[str]:
        """Return every header called ``name`` (``Link`` comes once per relation)."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def json(self) -> Any:
        """Decode the body as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its response."""

    request: RecordedRequest
    response: RecordedResponse


ExchangeHook = Callable[[RecordedRequest, RecordedResponse], None]
