"""Okta's error codes and statuses, mapped once onto the connector error tree.

Codes are from https://developer.okta.com/docs/reference/error-codes/ and OAuth's
token-endpoint errors (RFC 6749 section 5.2). A code that is not in the table falls
back to its HTTP status. ``E0000007`` (not found) means whatever the call was about:
a user, a group, or a factor.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

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
from connectors.okta.http import TOKEN_PATH, OktaHttpError, OktaTransportError

#: Methods that only read: a lost answer to one of them changed nothing.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Subject(enum.Enum):
    """What a call was about, to tell which kind of "not found" a 404 is."""

    USER = "user"
    GROUP = "group"
    OTHER = "other"


class _NotFound:
    """Marker: "not found" of the call's subject."""


NOT_FOUND = _NotFound()


@dataclass(frozen=True, slots=True)
class Rule:
    """What an Okta answer becomes: the error class and a message safe to log."""

    error: type[ConnectorError] | _NotFound
    message: str


ERROR_CODES: dict[str, Rule] = {
    "E0000001": Rule(PolicyRejected, "Okta refused the change (validation or password policy)"),
    "E0000080": Rule(PolicyRejected, "the password does not meet Okta's password policy"),
    "E0000005": Rule(PermissionDenied, "Okta refused the session or credentials"),
    "E0000006": Rule(PermissionDenied, "the Okta service account may not do this"),
    "E0000007": Rule(NOT_FOUND, "not found in Okta"),
    "E0000008": Rule(ConnectorError, "Okta does not know this API path"),
    "E0000009": Rule(Unavailable, "Okta had an internal error"),
    "E0000010": Rule(Unavailable, "Okta is in read-only mode"),
    "E0000011": Rule(PermissionDenied, "the Okta API token or access token is invalid or expired"),
    "E0000015": Rule(PermissionDenied, "the Okta org lacks the feature this needs"),
    "E0000016": Rule(InvalidState, "the account is already in the requested state"),
    "E0000022": Rule(ConnectorError, "Okta does not support this method on this path"),
    "E0000031": Rule(ConnectorError, "Okta rejected the search expression"),
    "E0000032": Rule(InvalidState, "Okta does not allow unlocking this account"),
    "E0000038": Rule(InvalidState, "the account's status does not allow this operation"),
    "E0000047": Rule(Unavailable, "Okta rate limit exceeded"),
    "invalid_client": Rule(PermissionDenied, "Okta refused the OAuth client assertion"),
    "invalid_scope": Rule(PermissionDenied, "the OAuth service app lacks a requested scope"),
    "unauthorized_client": Rule(PermissionDenied, "the OAuth service app may not use this grant"),
    "invalid_grant": Rule(PermissionDenied, "Okta refused the OAuth grant"),
    "unsupported_grant_type": Rule(ConnectorError, "Okta refused the OAuth grant type"),
    "invalid_dpop_proof": Rule(PermissionDenied, "Okta refused the DPoP proof"),
}

STATUS_FALLBACK: dict[int, Rule] = {
    401: Rule(PermissionDenied, "Okta refused the credentials"),
    403: Rule(PermissionDenied, "the Okta service account may not do this"),
    404: Rule(NOT_FOUND, "not found in Okta"),
    429: Rule(Unavailable, "Okta rate limit exceeded"),
}

_NOT_FOUND_BY_SUBJECT: dict[Subject, type[ConnectorError]] = {
    Subject.USER: UserNotFound,
    Subject.GROUP: GroupNotFound,
    Subject.OTHER: ConnectorError,
}

DEFAULT_POLICY_MESSAGE = "Okta's policy refused this change. Please contact the IT team."


def rule_for(error: OktaHttpError) -> Rule:
    """Return the table row for an Okta answer: by code, else by status."""
    if error.code is not None and error.code in ERROR_CODES:
        return ERROR_CODES[error.code]
    if error.status >= 500:
        return Rule(Unavailable, f"Okta answered HTTP {error.status}")
    return STATUS_FALLBACK.get(error.status, Rule(ConnectorError, "Okta refused the request"))


def safe_user_message(causes: Iterable[str]) -> str:
    """Join ``errorCauses`` for the employee, leaving out any that carries a secret.

    A cause is dropped when the redactor would change it (it holds a known secret
    value or a token- or reset-link-shaped string).
    """
    shown = [c.strip() for c in causes if c.strip() and scrub_text(c) == c]
    return " ".join(shown) if shown else DEFAULT_POLICY_MESSAGE


def to_connector_error(
    provider: str, failure: OktaHttpError | OktaTransportError, subject: Subject
) -> ConnectorError:
    """Translate a transport failure into the connector error tree."""
    if isinstance(failure, OktaTransportError):
        if failure.maybe_sent and _writes(failure.method, failure.path):
            return OutcomeUnknown(
                provider, f"Okta did not answer a write, which may have been applied: "
                f"{failure.kind}"
            )
        return Unavailable(provider, f"Okta did not answer: {failure.kind}")
    rule = rule_for(failure)
    code = failure.code
    message = f"{rule.message} (HTTP {failure.status} {code or '-'})"
    if isinstance(rule.error, _NotFound):
        return _NOT_FOUND_BY_SUBJECT[subject](provider, message, code=code)
    if rule.error is PolicyRejected:
        return PolicyRejected(
            provider, message, user_message=safe_user_message(failure.causes), code=code
        )
    if rule.error is Unavailable:
        return Unavailable(provider, message, retry_after=failure.retry_after, code=code)
    return rule.error(provider, message, code=code)


def _writes(method: str, path: str) -> bool:
    """Whether a request may change the org (the token endpoint only issues a token)."""
    return method.upper() not in READ_METHODS and path != TOKEN_PATH
