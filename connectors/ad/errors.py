"""How Active Directory failures become connector errors: one table, one place.

The table is keyed three ways, looked up in this order:

- ``data XXX``: AD's reason for a failed bind, the hex ``data`` field of the
  diagnostic message (``80090308: LdapErr: ... AcceptSecurityContext error, data 775``);
- an LDAP result name as ldap3 reports it (``constraintViolation``);
- a transport failure class (``tls``, ``socket``, ``timeout``).

Messages are built from the table, the operation name and the server's
diagnostic text with every secret of the call removed; the text shown to an
employee (``PolicyRejected.user_message``) is always one of ours.

The bind ``data`` field is a Win32 error code in hex (0x775 = 1909
ERROR_ACCOUNT_LOCKED_OUT, 0x773 = 1907 ERROR_PASSWORD_MUST_CHANGE, ...):
https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes and
https://learn.microsoft.com/en-us/archive/blogs/jpelak/simple-binds-arent-always-so-simple
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connectors.ad.ldap3 import ldap_exc
from connectors.errors import (
    ConnectorError,
    InvalidState,
    PermissionDenied,
    PolicyRejected,
    Unavailable,
    UserNotFound,
)

PASSWORD_POLICY_MESSAGE = (
    "The domain's password policy refused the new password (length, complexity or history "
    "rules). Nothing was changed; IT can reset it for you."
)
CHANGE_REFUSED_MESSAGE = "The directory refused this change. Nothing was changed."


@dataclass(frozen=True, slots=True)
class Rule:
    """One row: the error class, what it means, and whether trying again may help."""

    error: type[ConnectorError]
    meaning: str
    transient: bool = False


ERROR_TABLE: dict[str, Rule] = {
    # AD bind failures, by the "data" code of the diagnostic message.
    "data 525": Rule(PermissionDenied, "account not found"),
    "data 52e": Rule(PermissionDenied, "invalid credentials"),
    "data 530": Rule(PermissionDenied, "logon not permitted at this time"),
    "data 531": Rule(PermissionDenied, "logon not permitted from this workstation"),
    "data 532": Rule(InvalidState, "password expired"),
    "data 533": Rule(InvalidState, "account disabled"),
    "data 701": Rule(InvalidState, "account expired"),
    "data 773": Rule(InvalidState, "password must be changed at next logon"),
    "data 775": Rule(InvalidState, "account locked out"),
    # LDAP result codes (RFC 4511 names).
    "invalidCredentials": Rule(PermissionDenied, "invalid credentials"),
    "insufficientAccessRights": Rule(PermissionDenied, "the service account lacks the right"),
    "strongerAuthRequired": Rule(PermissionDenied, "the server requires TLS for this bind"),
    "confidentialityRequired": Rule(PermissionDenied, "the server requires an encrypted session"),
    "inappropriateAuthentication": Rule(PermissionDenied, "authentication method refused"),
    "constraintViolation": Rule(PolicyRejected, "refused by a directory constraint or policy"),
    "unwillingToPerform": Rule(PolicyRejected, "the server is unwilling to perform it"),
    "noSuchObject": Rule(UserNotFound, "no such entry"),
    "busy": Rule(Unavailable, "the server is busy", transient=True),
    "unavailable": Rule(Unavailable, "the server is unavailable", transient=True),
    "timeLimitExceeded": Rule(Unavailable, "the server ran out of time", transient=True),
    "adminLimitExceeded": Rule(Unavailable, "a server administrative limit was exceeded"),
    "sizeLimitExceeded": Rule(Unavailable, "a server size limit was exceeded"),
    "operationsError": Rule(Unavailable, "the server reported an operations error"),
    "other": Rule(Unavailable, "the server reported an internal error"),
    # Transport failures raised by ldap3 before or instead of an LDAP result.
    "tls": Rule(
        Unavailable,
        "TLS certificate verification failed (check ca_file and tls_server_name)",
    ),
    "socket": Rule(Unavailable, "cannot reach the domain controller", transient=True),
    "timeout": Rule(Unavailable, "the domain controller did not answer in time", transient=True),
    "protocol": Rule(Unavailable, "unexpected LDAP protocol failure"),
}

_FALLBACK = Rule(Unavailable, "unexpected directory error")
_DATA_CODE = re.compile(r"\bdata ([0-9a-fA-F]{3,8})\b")
_TLS_MARKERS = ("certificate verify failed", "certificate_verify_failed", "hostname mismatch")


class TransientFailure(Exception):
    """Raised inside the transport for a failure worth retrying; carries the final error."""

    def __init__(self, error: ConnectorError) -> None:
        super().__init__(str(error))
        self.error = error


def bind_data_code(result: Mapping[str, object]) -> str | None:
    """The AD ``data`` code of a failed bind (``"775"``), lower-cased, if the server sent one."""
    match = _DATA_CODE.search(str(result.get("message") or ""))
    return match.group(1).lower() if match else None


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        if value:
            text = text.replace(value, "[REDACTED]")
    return text


def _build(
    rule: Rule, provider: str, message: str, code: str, *, user_message: str | None = None
) -> ConnectorError:
    if rule.error is PolicyRejected:
        return PolicyRejected(
            provider, message, user_message=user_message or CHANGE_REFUSED_MESSAGE, code=code
        )
    if rule.error is Unavailable:
        return Unavailable(provider, message, code=code)
    return rule.error(provider, message, code=code)


def error_from_result(
    provider: str,
    op: str,
    result: Mapping[str, object],
    *,
    missing: type[ConnectorError] = UserNotFound,
    password_change: bool = False,
    secrets: Iterable[str] = (),
) -> ConnectorError:
    """Turn a failed LDAP result into a connector error; raise ``TransientFailure`` when retryable.

    ``missing`` replaces ``UserNotFound`` for ``noSuchObject`` (groups);
    ``password_change`` marks a unicodePwd write, whose policy refusals carry
    ``PASSWORD_POLICY_MESSAGE`` for the employee.
    """
    name = str(result.get("description") or "other")
    data = bind_data_code(result) if name == "invalidCredentials" else None
    key = f"data {data}" if data and f"data {data}" in ERROR_TABLE else name
    rule = ERROR_TABLE.get(key, _FALLBACK)
    if rule.error is UserNotFound:
        rule = Rule(missing, rule.meaning, rule.transient)
    diagnostic = _scrub(str(result.get("message") or "").strip(), secrets)
    message = f"{op}: {rule.meaning} ({name}"
    message += f"; {diagnostic})" if diagnostic else ")"
    code = data or name
    user_message = PASSWORD_POLICY_MESSAGE if password_change else None
    error = _build(rule, provider, message, code, user_message=user_message)
    if rule.transient:
        raise TransientFailure(error)
    return error


def bind_error(provider: str, who: str, result: Mapping[str, object]) -> ConnectorError:
    """A failed service-account bind: always ``PermissionDenied`` (the connector cannot log in).

    The AD reason (``775`` locked out, ``773`` must change...) stays in the message and
    ``code`` so an operator knows what to fix; the state is the service account's, not
    the employee's, hence not ``InvalidState``. Busy or unavailable servers stay retryable.
    """
    error = error_from_result(provider, f"bind as {who}", result)
    if isinstance(error, PermissionDenied | InvalidState | PolicyRejected):
        return PermissionDenied(
            provider,
            f"{error.message}; check bind_dn and bind_password",
            code=error.code,
        )
    return error


def error_from_exception(provider: str, op: str, exc: BaseException) -> tuple[ConnectorError, bool]:
    """Classify an ldap3 or socket exception: (error, whether retrying may help)."""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, ssl.SSLCertVerificationError | ldap_exc.LDAPCertificateError) or any(
        marker in lowered for marker in _TLS_MARKERS
    ):
        key = "tls"
    elif isinstance(exc, ldap_exc.LDAPResponseTimeoutError | TimeoutError) or (
        "timed out" in lowered
    ):
        key = "timeout"
    elif isinstance(exc, ldap_exc.LDAPCommunicationError | OSError | ldap_exc.LDAPStartTLSError):
        key = "socket"
    else:
        key = "protocol"
    rule = ERROR_TABLE[key]
    detail = _first_line(text)
    message = f"{op}: {rule.meaning} ({type(exc).__name__}: {detail})"
    error = Unavailable(provider, message, code=key)
    return error, rule.transient


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]
