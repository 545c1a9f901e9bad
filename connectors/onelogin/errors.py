"""OneLogin's HTTP statuses and error bodies, mapped once onto the connector error tree.

OneLogin answers errors in three shapes, depending on the API generation:

* API v2 (``/api/2/...``): ``{"statusCode": 422, "name": "UnprocessableEntityError",
  "message": "..."}`` (https://developers.onelogin.com/api-docs/2/users/update-user);
* API v1 (``/api/1/...``) and the token endpoint: ``{"status": {"error": true,
  "code": 400, "type": "bad request", "message": "..." | {"attribute": ..,
  "description": ..}}}`` (https://developers.onelogin.com/api-docs/1/users/lock-user-account);
* a bare ``{"message": "User cannot be unlocked"}`` from ``POST /api/2/users/{id}/unlock``
  (https://developers.onelogin.com/api-docs/2/users/unlock-user).

The status alone decides the error class, refined by what the call was about
(:class:`Subject`): a 404 is ``UserNotFound`` for a user and ``GroupNotFound`` for a
role, and a 400/422 is ``PolicyRejected`` only when a password was being set. The
vendor's own short message is kept for operators, scrubbed of secrets and truncated;
the employee-facing ``user_message`` is always a fixed text.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass

import httpx

from config.logging import scrub_text
from connectors.errors import (
    ConnectorError,
    GroupNotFound,
    InvalidState,
    OutcomeUnknown,
    PermissionDenied,
    PolicyRejected,
    Unavailable,
    UserNotFound,
)


class Subject(enum.Enum):
    """What a call was about; it decides what a 404 or a 422 means."""

    USER = "user"
    ROLE = "role"
    PASSWORD = "password"
    UNLOCK = "unlock"
    MFA = "mfa"
    POLICY = "policy"
    PRIVILEGE = "privilege"
    TOKEN = "token"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Rule:
    """What a OneLogin answer becomes: an error class and a message safe to log."""

    error: type[ConnectorError]
    message: str


PASSWORD_POLICY_USER_MESSAGE = (
    "OneLogin's password policy did not accept the temporary password, so nothing was "
    "changed. Please ask IT to reset your password."
)

# The one table. Keys are (HTTP status, subject); ``None`` as subject is the fallback
# for every subject. 401 on a resource call reaches this table only after the token
# was refreshed once and refused again (see connectors.onelogin.http).
ERROR_TABLE: dict[tuple[int, Subject | None], Rule] = {
    (400, Subject.TOKEN): Rule(PermissionDenied, "OneLogin refused the token request"),
    (401, Subject.TOKEN): Rule(PermissionDenied, "OneLogin refused the API client id or secret"),
    (403, Subject.TOKEN): Rule(PermissionDenied, "the OneLogin API credential is not allowed"),
    (400, Subject.PASSWORD): Rule(PolicyRejected, "OneLogin refused the new password"),
    (422, Subject.PASSWORD): Rule(PolicyRejected, "OneLogin's password policy refused it"),
    (404, Subject.USER): Rule(UserNotFound, "no such user in OneLogin"),
    (404, Subject.PASSWORD): Rule(UserNotFound, "no such user in OneLogin"),
    (404, Subject.UNLOCK): Rule(UserNotFound, "no such user in OneLogin"),
    (404, Subject.MFA): Rule(UserNotFound, "no such user or MFA device in OneLogin"),
    (404, Subject.ROLE): Rule(GroupNotFound, "no such role in OneLogin"),
    (404, Subject.POLICY): Rule(ConnectorError, "no such user policy in OneLogin"),
    (404, Subject.PRIVILEGE): Rule(
        PermissionDenied, "OneLogin's privileges API is unavailable (Delegated Administration)"
    ),
    (422, Subject.UNLOCK): Rule(InvalidState, "OneLogin cannot unlock this account"),
    (422, Subject.ROLE): Rule(InvalidState, "OneLogin refused the role change"),
    (400, None): Rule(ConnectorError, "OneLogin rejected the request as malformed"),
    (401, None): Rule(PermissionDenied, "OneLogin refused the access token, even a fresh one"),
    (403, None): Rule(
        PermissionDenied, "the OneLogin API credential's scope does not allow this operation"
    ),
    (404, None): Rule(ConnectorError, "OneLogin does not know this resource"),
    (409, None): Rule(InvalidState, "OneLogin reports a conflicting state"),
    (422, None): Rule(ConnectorError, "OneLogin could not process the request"),
    (429, None): Rule(Unavailable, "OneLogin rate limit exceeded"),
    (500, None): Rule(Unavailable, "OneLogin had an internal error"),
    (502, None): Rule(Unavailable, "OneLogin's gateway failed"),
    (503, None): Rule(Unavailable, "OneLogin is unavailable"),
    (504, None): Rule(Unavailable, "OneLogin's gateway timed out"),
}

_FALLBACK_CLIENT = Rule(ConnectorError, "OneLogin refused the request")
_FALLBACK_SERVER = Rule(Unavailable, "OneLogin failed")
_MAX_DETAIL = 160
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class VendorError:
    """The parts of a OneLogin error body worth keeping: a name/type and a short message."""

    name: str | None
    message: str | None


def rule_for(status: int, subject: Subject) -> Rule:
    """Look up the rule for a status and subject, falling back to the status, then its class."""
    rule = ERROR_TABLE.get((status, subject)) or ERROR_TABLE.get((status, None))
    if rule is not None:
        return rule
    return _FALLBACK_SERVER if status >= 500 else _FALLBACK_CLIENT


def parse_error_body(content: bytes) -> VendorError:
    """Read any of OneLogin's error shapes; unknown or non-JSON bodies give empty fields."""
    try:
        body = json.loads(content) if content else None
    except ValueError:
        return VendorError(None, None)
    if not isinstance(body, dict):
        return VendorError(None, None)
    status = body.get("status")
    if isinstance(status, dict):
        return VendorError(_text(status.get("type")), _message_text(status.get("message")))
    return VendorError(
        _text(body.get("name")), _message_text(body.get("message") or body.get("messsage"))
    )


def retry_after_of(response: httpx.Response) -> float | None:
    """Seconds to wait: ``X-RateLimit-Reset`` (seconds left, not an epoch), else ``Retry-After``.

    OneLogin documents the reset header as seconds remaining in the window
    (https://developers.onelogin.com/api-docs/1/oauth20-tokens/get-rate-limit).
    """
    for header in ("X-RateLimit-Reset", "Retry-After"):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None


def error_from_response(
    provider: str, response: httpx.Response, subject: Subject
) -> ConnectorError:
    """Turn a failed OneLogin answer into the connector error for ``subject``."""
    status = response.status_code
    rule = rule_for(status, subject)
    vendor = parse_error_body(response.content)
    detail = f" ({vendor.message})" if vendor.message else ""
    message = f"{rule.message}: HTTP {status}{detail}"
    code = vendor.name or str(status)
    return build_error(provider, rule, message, code=code, response=response)


def build_error(
    provider: str,
    rule: Rule,
    message: str,
    *,
    code: str | None = None,
    response: httpx.Response | None = None,
) -> ConnectorError:
    """Instantiate ``rule.error`` with the extra arguments its class needs."""
    if issubclass(rule.error, PolicyRejected):
        return rule.error(provider, message, user_message=PASSWORD_POLICY_USER_MESSAGE, code=code)
    if issubclass(rule.error, Unavailable):
        retry_after = retry_after_of(response) if response is not None else None
        return rule.error(provider, message, retry_after=retry_after, code=code)
    return rule.error(provider, message, code=code)


#: Methods that only read: a lost answer to one of them changed nothing.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Gateway answers: the gateway gave up waiting, OneLogin itself may have acted.
GATEWAY_STATUSES = frozenset({502, 504})
# Errors raised before a single byte of the request left this process.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def writes(method: str, path: str, token_path: str) -> bool:
    """Whether a request may change the account (asking for a token changes nothing)."""
    return method.upper() not in READ_METHODS and path != token_path


def answer_lost(provider: str, why: str) -> OutcomeUnknown:
    """A write that may have been applied, whose answer never came back."""
    return OutcomeUnknown(
        provider, f"OneLogin did not answer a write, which may have been applied: {why}",
        code="answer_lost",
    )


def error_from_transport(
    provider: str, exc: httpx.TransportError, *, wrote: bool = False
) -> Unavailable:
    """A request that got no answer: timeouts, refused or broken connections.

    ``wrote``: the request was a write; once it may have left this process, its
    outcome is unknown (:class:`~connectors.errors.OutcomeUnknown`).
    """
    if wrote and not isinstance(exc, NOT_SENT):
        return answer_lost(provider, type(exc).__name__)
    if isinstance(exc, httpx.TimeoutException):
        return Unavailable(provider, "OneLogin did not answer in time", code=type(exc).__name__)
    return Unavailable(provider, "could not reach OneLogin", code=type(exc).__name__)


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return _clean(value)
    return None


def _message_text(value: object) -> str | None:
    # v1 validation errors carry {"attribute": "id", "description": "ID is incorrect"}.
    if isinstance(value, dict):
        parts = [str(v) for k, v in value.items() if k in ("attribute", "description") and v]
        return _clean(": ".join(parts)) if parts else None
    return _text(value)


def _clean(text: str) -> str:
    text = scrub_text(_SPACES.sub(" ", text).strip())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
