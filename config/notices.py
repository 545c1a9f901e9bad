"""The ``notices:`` block of ``helpdesk.yaml``: telling the owner after every change.

After a password reset, an unlock or an MFA reset the bot emails the account's
primary and secondary addresses (from the directory profile) and DMs the employee,
each with a "This wasn't me" link: signed, single-use and expiring, served by the
bot's own HTTP endpoint (``public_url``). Following it and confirming contains the
account (``on_report``) and pages the security channel. The secret a reset gave
(a link, a temporary password) is never in a notice.
"""

from __future__ import annotations

import enum
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from config.durations import parse_duration
from config.secrets import SecretRef


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class SmtpSecurity(enum.StrEnum):
    """How the SMTP connection is protected; there is no plain-text option."""

    STARTTLS = "starttls"
    TLS = "tls"


class Containment(enum.StrEnum):
    """What is done to an account whose owner reports a change they didn't ask for."""

    CLEAR_SESSIONS = "clear_sessions"
    SUSPEND = "suspend"
    RESET_FACTORS = "reset_factors"


class SmtpSettings(_Strict):
    host: str | None = None
    """The SMTP server. Unset: no emails (the DM is still sent; `helpdesk doctor` warns)."""
    port: int = 587
    """The server's port: 587 for `starttls`, 465 for `tls`."""
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    """`starttls` (upgrade a plain connection; refused if the server doesn't offer it) or `tls`
    (implicit TLS from the first byte). The certificate is always checked."""
    username: str | None = None
    """The SMTP login, when the server wants one (with `password`)."""
    password: SecretRef | None = None
    """The SMTP password: `{env: NAME}` or `{file: PATH}`."""
    sender: str = "helpdesk@example.com"
    """The From address of the notices."""
    ca_file: Path | None = None
    """A CA bundle (PEM) for the server's certificate; default: the system's."""
    timeout: timedelta = timedelta(seconds=15)
    """How long one email may take, connection included."""

    @field_validator("timeout", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return parse_duration(v)

    @model_validator(mode="after")
    def _login_pair(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both 'username' and 'password', or neither")
        return self


class NoticeSettings(_Strict):
    enabled: bool = True
    """Send an email and a DM after every reset, unlock and MFA reset."""
    public_url: str | None = None
    """The bot's public base URL (`https://helpdesk.example.com`): the "This wasn't me" links
    open `{public_url}/notices/report`. Unset: notices say to contact the IT desk instead of
    carrying a link (`helpdesk doctor` warns)."""
    link_ttl: timedelta = timedelta(days=7)
    """How long a "This wasn't me" link works (it also works once only)."""
    link_secret: SecretRef | None = None
    """The key that signs the links (every replica needs the same one). Unset: derived from
    the Slack signing secret."""
    on_report: list[Containment] = [Containment.CLEAR_SESSIONS, Containment.SUSPEND]
    """What is done to the account when its owner confirms a report, in order (where the
    account's connector and its service account allow it; the rest is left to a person,
    with the steps posted to the security channel)."""
    smtp: SmtpSettings = SmtpSettings()
    """The mail server the notices go through."""

    @field_validator("link_ttl", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return parse_duration(v)

    @field_validator("public_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip().rstrip("/")
        if not v.startswith(("https://", "http://")):
            raise ValueError("an http(s):// URL, e.g. https://helpdesk.example.com")
        return v

    @field_validator("on_report")
    @classmethod
    def _steps(cls, v: list[Containment]) -> list[Containment]:
        if len(set(v)) != len(v):
            raise ValueError("a step is listed twice")
        return v


__all__ = ["Containment", "NoticeSettings", "SmtpSecurity", "SmtpSettings"]
