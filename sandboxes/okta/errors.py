"""Okta's error body and the catalogue of error codes the sandbox answers with.

Every non-2xx response carries Okta's error object: ``errorCode``, ``errorSummary``,
``errorLink``, ``errorId`` and ``errorCauses``
(https://developer.okta.com/docs/reference/error-codes/). Handlers raise
:class:`OktaError`; the app turns it into that body with the catalogue's HTTP status.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """One row of Okta's error catalogue: code, HTTP status and default summary."""

    code: str
    status: int
    summary: str


API_VALIDATION = ErrorKind("E0000001", 400, "Api validation failed")
ACCESS_DENIED = ErrorKind(
    "E0000006", 403, "You do not have permission to perform the requested action"
)
NOT_FOUND = ErrorKind("E0000007", 404, "Not found: Resource not found")
PATH_NOT_FOUND = ErrorKind("E0000008", 404, "The requested path was not found")
INTERNAL = ErrorKind("E0000009", 500, "Internal Server Error")
READ_ONLY = ErrorKind("E0000010", 503, "Service is in read only mode")
INVALID_TOKEN = ErrorKind("E0000011", 401, "Invalid token provided")
METHOD_NOT_ALLOWED = ErrorKind(
    "E0000022", 405, "The endpoint does not support the provided HTTP method"
)
INVALID_PAGING = ErrorKind(
    "E0000029", 400, "Invalid paging request. Ensure the pagination cursor has not been altered"
)
INVALID_DATE = ErrorKind(
    "E0000030",
    400,
    "Bad request. Invalid date. Dates must be of the form yyyy-MM-dd'T'HH:mm:ss.SSSZZ, "
    "e.g. 2013-01-01T12:00:00.000-07:00.",
)
INVALID_SEARCH = ErrorKind("E0000031", 400, "Invalid search criteria.")
UNLOCK_NOT_ALLOWED = ErrorKind("E0000032", 403, "Unlock is not allowed for this user.")
SEARCH_AND_FILTER = ErrorKind(
    "E0000033", 400, "Bad request. Can't specify a search query and filter in the same request."
)
STATUS_NOT_ALLOWED = ErrorKind(
    "E0000038", 403, "This operation is not allowed in the user's current status."
)
RATE_LIMITED = ErrorKind("E0000047", 429, "API call exceeded rate limit due to too many requests.")

# What an injected fault answers with, by HTTP status (anything else falls back to E0000009).
FAULT_KINDS: dict[int, ErrorKind] = {500: INTERNAL, 503: READ_ONLY}


def new_error_id() -> str:
    """Return an id shaped like Okta's ``errorId`` (``oae`` and 22 url-safe characters)."""
    return "oae" + secrets.token_urlsafe(16)[:22]


class OktaError(Exception):
    """An Okta API error; ``summary`` replaces the catalogue's when given.

    ``causes`` become ``errorCauses`` entries (``{"errorSummary": ...}``); ``headers``
    are added to the response (e.g. ``WWW-Authenticate``).
    """

    def __init__(
        self,
        kind: ErrorKind,
        summary: str | None = None,
        *,
        causes: Sequence[str] = (),
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.summary = summary or kind.summary
        self.causes = tuple(causes)
        self.status = status or kind.status
        self.headers = dict(headers or {})
        super().__init__(f"{kind.code}: {self.summary}")

    def body(self) -> dict[str, Any]:
        """Return the JSON body Okta sends for this error."""
        return error_body(self.kind.code, self.summary, self.causes)


def error_body(code: str, summary: str, causes: Sequence[str] = ()) -> dict[str, Any]:
    """Build Okta's error object with a fresh ``errorId``."""
    return {
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": new_error_id(),
        "errorCauses": [{"errorSummary": cause} for cause in causes],
    }


def not_found(resource_id: str, resource_type: str) -> OktaError:
    """Return Okta's 404: ``Not found: Resource not found: <id> (<type>)``."""
    return OktaError(NOT_FOUND, f"Not found: Resource not found: {resource_id} ({resource_type})")
