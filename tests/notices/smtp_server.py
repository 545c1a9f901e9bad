"""A real SMTP server for the tests (aiosmtpd), over STARTTLS or implicit TLS, with login.

The certificate comes from a throw-away CA (trustme); ``ca_file`` is what the bot's
``notices.smtp.ca_file`` points at. ``messages`` holds what was received, parsed.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "helpdesk-bot"
PASSWORD = "smtp-test-password-1234"


@dataclass
class Received:
    """One delivered message: the envelope's recipients and the parsed message."""

    rcpt: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content())


@dataclass
class Mailbox:
    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    tls_seen: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        transport = getattr(server, "transport", None)
        wrapped = transport is not None and transport.get_extra_info("ssl_object") is not None
        self.tls_seen.append(wrapped or session.ssl is not None)
        self.messages.append(Received(list(envelope.rcpt_tos), msg))
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    ca_file: Path
    mailbox: Mailbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _authenticator(box: Mailbox) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == USER.encode() and (
            data.password == PASSWORD.encode())
        if ok:
            box.logins.append(USER)
        return AuthResult(success=ok, handled=False)

    return check


@contextlib.contextmanager
def smtp_server(tmp: Path, *, implicit_tls: bool = False) -> Iterator[SmtpServer]:
    """Serve SMTP on 127.0.0.1: STARTTLS required (default) or TLS from the first byte."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    box = Mailbox()
    port = _free_port()
    kwargs: dict[str, Any] = {
        "authenticator": _authenticator(box), "auth_require_tls": True,
    }
    if implicit_tls:
        # aiosmtpd's auth_require_tls knows only STARTTLS; this connection is TLS throughout.
        kwargs.update(ssl_context=server_ctx, auth_require_tls=False)
    else:
        kwargs.update(tls_context=server_ctx, require_starttls=True)
    controller = Controller(box, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, ca_file, box)
    finally:
        controller.stop()
