"""Shared builders for bot tests: a memory-backed deployment and a keyword router."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from actions.providers import Providers
from bot.configuration import validate_config
from bot.routing import Intent, Routed
from config.settings import HelpdeskConfig
from connectors.base import MfaFactor, UserStatus
from connectors.memory import MemoryDirectory

BASE_CONFIG: dict[str, Any] = {
    "organisation": {
        "it_channel": "#it-help",
        "it_contact": "the IT desk",
        "security_channel": "#sec",
    },
    "connectors": {"mem": {"kind": "memory"}},
    # Verification before changes is tested in tests/verification.
    "verification": {"password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]},
    "capabilities": {
        "groups": "mem",
        "password_reset": "mem",
        "unlock": "mem",
        "mfa_reset": "mem",
        "password_expiry": "mem",
    },
    "protected": {"groups": ["it-admins"]},
    "limits": {
        "password_reset": {"count": 2, "per": "1h"},
        "mfa_reset": {"count": 1, "per": "24h"},
    },
}


def make_config(database_url: str, **overrides: Any) -> HelpdeskConfig:
    raw = {**BASE_CONFIG, "database_url": database_url, **overrides}
    return validate_config(raw, "test", {})


def make_directory() -> MemoryDirectory:
    d = MemoryDirectory("mem", max_age=timedelta(days=90))
    now = datetime.now(UTC)
    d.add_user("ada@example.com", display_name="Ada", password_changed=now - timedelta(days=80))
    d.add_user("locked@example.com", status=UserStatus.LOCKED_OUT)
    d.add_user("root@example.com", admin_roles=["SUPER_ADMIN"])
    guard = d.add_user("guard@example.com")
    d.add_user("forever@example.com", never_expires=True)
    d.add_user(
        "phone@example.com",
        factors=[MfaFactor("f1", "push", "Okta Verify"), MfaFactor("f2", "sms", "SMS")],
    )
    admins = d.add_group("it-admins")
    d.members[admins.id].add(guard.id)
    d.add_group("figma-editors")
    return d


def providers_for(d: MemoryDirectory, cfg: HelpdeskConfig) -> Providers:
    from connectors.base import Capability

    return Providers({"mem": d}, {Capability.parse(k): v for k, v in cfg.capabilities.items()})


KEYWORDS: list[tuple[str, Intent]] = [
    ("thank", Intent.THANKS),
    ("locked", Intent.ACCOUNT_UNLOCK),
    ("mfa", Intent.MFA_RESET),
    ("expire", Intent.PASSWORD_EXPIRY),
    ("password", Intent.PASSWORD_RESET),
    ("help", Intent.HELP),
    ("hello", Intent.GREETING),
    ("figma", Intent.GROUP_ACCESS),
]


@dataclass
class KeywordRouter:
    """A predictable router for flow tests; the real one is tested in tests/intents."""

    seen: list[str] = field(default_factory=list)

    def classify(self, text: str, locale: str | None = None) -> Routed:
        self.seen.append(text)
        low = text.lower()
        if low == "hmm":
            return Routed(
                Intent.OUT_OF_SCOPE, 0.3, None,
                [Intent.PASSWORD_RESET, Intent.ACCOUNT_UNLOCK], True,
            )
        for word, intent in KEYWORDS:
            if word in low:
                return Routed(intent, 0.9, None, [intent], False)
        return Routed(Intent.OUT_OF_SCOPE, 0.8, None, [Intent.OUT_OF_SCOPE], False)


@dataclass
class RecordingNotifier:
    notices: list[str] = field(default_factory=list)

    async def security_notice(self, text: str) -> None:
        self.notices.append(text)


# -- unexpected failures: what the employee is told, what IT finds in the log --------------
NOTHING_CHANGED = "Something went wrong on my side, so nothing was changed."
NOT_FINISHED = "Something went wrong on my side and I couldn't finish"
_REFERENCE = re.compile(r"IT has been told \(reference ([0-9a-f]{16})\)")


def failing(exc: Exception) -> Callable[..., Awaitable[Any]]:
    """An async stand-in for a method that raises ``exc`` whenever it is called."""

    async def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return fail


def assert_failure_answered(
    logs: Sequence[Mapping[str, Any]], text: str, error: str, *, changing: bool = False
) -> None:
    """``text`` is the failure's reply, and an error was logged under its reference.

    ``changing``: a write may have been issued, so the reply must not say that
    nothing was changed.
    """
    assert (NOT_FINISHED if changing else NOTHING_CHANGED) in text, text
    if changing:
        assert "nothing was changed" not in text
    found = _REFERENCE.search(text)
    assert found is not None, text
    entries = [
        e for e in logs
        if e["event"] == "flow_failed" and e.get("correlation_id") == found.group(1)
    ]
    assert len(entries) == 1, logs
    [entry] = entries
    assert entry["log_level"] == "error" and entry["error"] == error
    assert entry["changes_started"] is changing and entry["at"]
