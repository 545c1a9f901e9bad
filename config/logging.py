"""structlog JSON logging with a redactor that runs on every event, ours and libraries'.

Redaction is defence in depth: code never logs a secret on purpose, and the
redactor still removes (1) values under keys naming a secret (``bot_token``, not
``password_reset``), (2) ``Secret``
objects, (3) every value a ``Secret`` was made from, wherever it appears in
text, and (4) token and reset-link shapes (Slack tokens, Okta SSWS and
Bearer headers, reset URLs).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

from config.secret_values import Secret, live_secret_values

REDACTED = "[REDACTED]"

# A key holds a secret when its last word (or last two) names one: ``bot_token``,
# ``signing_secret``, ``tempPassword``, ``resetPasswordUrl``, ``api_key``. A key that only
# mentions one (``password_reset``, ``token_type``, ``secret_ref``) is not redacted: its
# value is a setting or a label, and Secret objects and secret values are scrubbed anyway.
_SECRET_WORDS = frozenset({
    "password", "passwd", "pass", "pwd", "secret", "token", "authorization", "cookie",
    "credential", "credentials", "assertion", "apikey", "passphrase",
})
_SECRET_PAIRS = frozenset({
    ("api", "key"), ("private", "key"), ("secret", "key"), ("access", "key"),
    ("reset", "url"), ("reset", "link"), ("password", "url"), ("password", "link"),
    ("set", "cookie"),
})
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def secret_key(key: str) -> bool:
    """Whether a log field named ``key`` holds a secret value (by its last words)."""
    words = [w.lower() for w in _WORDS.findall(key)]
    if not words:
        return False
    return words[-1] in _SECRET_WORDS or tuple(words[-2:]) in _SECRET_PAIRS


_SECRET_SHAPES = re.compile(
    r"(xox[abposr]-[0-9A-Za-z-]{6,}"
    r"|xapp-[0-9A-Za-z-]{6,}"
    r"|SSWS\s+[0-9A-Za-z_\-]{6,}"
    r"|Bearer\s+[0-9A-Za-z._~+/\-]{6,}=*"
    r"|https?://[^\s\"']*(reset[_-]?password|reset-password|recovery|/reset/)[^\s\"']*)",
    re.IGNORECASE,
)


def scrub_text(text: str) -> str:
    """Remove every known secret value and secret-shaped token from free text."""
    for value in live_secret_values():
        if value in text:
            text = text.replace(value, REDACTED)
    return _SECRET_SHAPES.sub(REDACTED, text)


def _scrub(value: Any, key: str | None = None) -> Any:
    if isinstance(value, Secret):
        return REDACTED
    if key is not None and secret_key(key) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    if isinstance(value, BaseException):
        return scrub_text(f"{type(value).__name__}: {value}")
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: scrub every field of the event, recursively."""
    for key in list(event_dict):
        event_dict[key] = _scrub(event_dict[key], None if key == "event" else key)
    return event_dict


# Library messages that say nothing an operator can act on, dropped at their source:
# slack_bolt reads SLACK_BOT_TOKEN itself and warns at every start that the client we
# give it (holding that same token) wins.
_DROPPED: dict[str, frozenset[str]] = {
    "slack_bolt.AsyncApp": frozenset({"As you gave `client` as well, `token` will be unused."}),
}
# Fields libraries add for their own console output: uvicorn's ANSI-coloured copy of the
# message would put escape codes inside the JSON lines.
_CONSOLE_ONLY = ("color_message",)


class _DropMessages(logging.Filter):
    def __init__(self, messages: frozenset[str]) -> None:
        super().__init__()
        self.messages = messages

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.messages


def drop_console_fields(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: remove fields meant for a colour terminal."""
    for key in _CONSOLE_ONLY:
        event_dict.pop(key, None)
    return event_dict


_configured = False


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging to one JSON stream, redacted."""
    global _configured
    out = stream or sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        drop_console_fields,
        redact_secrets,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_helpdesk", False):
            root.removeHandler(old)
    handler._helpdesk = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Vendor SDKs log request details at DEBUG; keep them at WARNING.
    for noisy in ("okta-sdk-python", "okta", "aiohttp.access", "slack_sdk", "slack_bolt", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for name, messages in _DROPPED.items():
        library = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in library.filters):
            library.addFilter(_DropMessages(messages))
    _configured = True


def get_logger(name: str) -> Any:
    """A structlog logger; works before ``configure_logging`` too (stdlib defaults)."""
    return structlog.stdlib.get_logger(name)
