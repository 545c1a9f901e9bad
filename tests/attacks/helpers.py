"""A small deployment for the attack suite: the in-memory directory, a real store, the
verification step, the approvals engine and the change notices, with recorders for
the security channel, the DMs and the mail server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from actions.access import AccessService, NullAccessNotifier, StaticPeople
from actions.audit import Actor
from actions.notices import ChangeNotices, LinkSigner
from actions.self_service import SelfService
from actions.verification.approval import ApprovalVerifier
from connectors.base import SECONDARY_EMAIL, MfaFactor, PushChallenge, PushState
from connectors.memory import MemoryDirectory
from store.db import Store
from tests.bot.helpers import make_config, providers_for

KEY = b"attack-suite-link-key-0123456789"
VICTIM = Actor("U0VICTIM01", "ada@example.com", "Ada")
APPROVER = Actor("U0APPROVE1", "boss@example.com", "Boss")


@dataclass
class Recorder:
    """The security channel, the DMs and the mailbox, as lists."""

    security: list[str] = field(default_factory=list)
    dms: list[tuple[str, str]] = field(default_factory=list)
    mails: list[tuple[list[str], str, str]] = field(default_factory=list)

    async def security_notice(self, text: str) -> None:
        self.security.append(text)

    async def direct_message(self, slack_user: str, text: str) -> None:
        self.dms.append((slack_user, text))

    async def send(self, to: Sequence[str], subject: str, text: str) -> None:
        self.mails.append((list(to), subject, text))


@dataclass
class Phone:
    """The victim's phone: ``deny`` or ``ignore`` every push (``approve`` for the owner)."""

    directory: MemoryDirectory
    answer: str = "deny"
    shown: list[int | None] = field(default_factory=list)

    async def push_sent(self, actor: Actor, challenge: PushChallenge, label: str) -> None:
        self.shown.append(challenge.number)
        push = self.directory.pushes[challenge.transaction]
        if self.answer == "approve":
            push.state = PushState.APPROVED
        elif self.answer == "deny":
            push.state = PushState.REJECTED


@dataclass
class Deployment:
    service: SelfService
    access: AccessService
    notices: ChangeNotices
    directory: MemoryDirectory
    store: Store
    out: Recorder
    phone: Phone
    signer: LinkSigner

    def writes(self) -> list[str]:
        """The directory calls that change an account."""
        changing = ("start_password_reset", "unlock", "reset_factors", "contain:")
        return [c for c in self.directory.calls if c.startswith(changing)]


def directory() -> MemoryDirectory:
    d = MemoryDirectory("mem", max_age=timedelta(days=90))
    d.add_user("ada@example.com", display_name="Ada Lovelace",
               attributes={SECONDARY_EMAIL: "ada@personal.example.org"},
               factors=[MfaFactor("f1", "push", "Okta Verify"), MfaFactor("f2", "totp", "TOTP")])
    d.add_user("boss@example.com", display_name="Boss")
    d.add_user("edsger.dijkstra@example.com", display_name="Edsger")
    return d


@contextlib.asynccontextmanager
async def deployment(tmp_path: Path, **overrides: Any) -> AsyncIterator[Deployment]:
    verification = overrides.pop("verification", {
        "password_reset": ["push", "approval"], "unlock": ["push", "approval"],
        "mfa_reset": ["approval"],
        "push": {"per_hour": 3, "wait": "1s", "poll_interval": 0.05},
        "approval": {"approvers": [APPROVER.slack_user_id]},
    })
    cfg = make_config(
        f"sqlite:///{tmp_path}/attack.sqlite3",
        capabilities={c: "mem" for c in ("password_reset", "unlock", "mfa_reset")},
        limits={"password_reset": {"count": 100, "per": "1h"},
                "unlock": {"count": 100, "per": "1h"},
                "mfa_reset": {"count": 100, "per": "24h"}},
        verification=verification,
        notices={"public_url": "https://helpdesk.example.com", "link_ttl": "1d"},
        **overrides,
    )
    store = await Store.open(cfg.database_url)
    d = directory()
    providers = providers_for(d, cfg)
    out = Recorder()
    signer = LinkSigner(KEY)
    notices = ChangeNotices(cfg.notices, store, providers, out, signer, dms=out, mailer=out)
    access = AccessService(cfg, providers, store, NullAccessNotifier(), StaticPeople())
    phone = Phone(d)
    service = SelfService(cfg, providers, store, out, prompter=phone,
                          approval=ApprovalVerifier(cfg, access), notices=notices)
    try:
        yield Deployment(service, access, notices, d, store, out, phone, signer)
    finally:
        await notices.drain()
        await store.close()


def now() -> datetime:
    return datetime.now(UTC)
