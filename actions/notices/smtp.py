"""The ``Mailer`` over SMTP (aiosmtplib): STARTTLS or implicit TLS, certificates checked.

There is no plain-text mode: ``starttls`` refuses a server that does not offer the
upgrade (aiosmtplib's ``start_tls=True``), ``tls`` speaks TLS from the first byte.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib

from config.notices import SmtpSecurity, SmtpSettings
from config.secrets import Secret


class SmtpMailer:
    """Sends each notice as its own SMTP session (notices are rare: no pool to keep)."""

    def __init__(self, settings: SmtpSettings, password: Secret | None = None) -> None:
        if settings.host is None:
            raise ValueError("notices.smtp.host is not set")
        self.settings = settings
        self._password = password
        self._tls = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )

    def message(self, to: Sequence[str], subject: str, text: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.sender
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=self.settings.sender.rpartition("@")[2] or None)
        # Automated: no out-of-office replies to the sender.
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(text)
        return msg

    async def send(self, to: Sequence[str], subject: str, text: str) -> None:
        s = self.settings
        implicit = s.security is SmtpSecurity.TLS
        await aiosmtplib.send(
            self.message(to, subject, text),
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=self._password.reveal() if self._password else None,
            use_tls=implicit,
            start_tls=not implicit,
            tls_context=self._tls,
            timeout=s.timeout.total_seconds(),
        )

    async def probe(self) -> None:
        """Connect, secure the connection and log in, sending nothing (``helpdesk doctor``)."""
        s = self.settings
        implicit = s.security is SmtpSecurity.TLS
        client = aiosmtplib.SMTP(
            hostname=s.host, port=s.port, use_tls=implicit, start_tls=not implicit,
            tls_context=self._tls, timeout=s.timeout.total_seconds(),
        )
        await client.connect()
        try:
            if s.username and self._password:
                await client.login(s.username, self._password.reveal())
        finally:
            await client.quit()


__all__ = ["SmtpMailer"]
