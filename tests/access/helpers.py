"""A memory-backed access-request deployment with a controllable clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from actions.access import AccessService, NullAccessNotifier, StaticPeople
from actions.audit import Actor
from connectors.memory import MemoryDirectory
from store.db import Store
from tests.bot.helpers import make_config, make_directory, providers_for

REQUESTER = Actor("U0REQ00001", "ada@example.com", "Ada")
APPROVER_A = Actor("U0APPR0001", "anna@example.com", "Anna")
APPROVER_B = Actor("U0APPR0002", "bert@example.com", "Bert")
STRANGER = Actor("U0STRANGE1", "stranger@example.com", "Stranger")
MANAGER = "U0MANAGER1"

CATALOGUE: list[dict[str, Any]] = [
    {"key": "figma-editors", "display_name": "Figma (editor)", "aliases": ["figma"],
     "provider_group": "figma-editors", "approvers": [APPROVER_A.slack_user_id, "#it-approvals"]},
    {"key": "vpn-users", "display_name": "VPN", "provider_group": "vpn-users",
     "approvers": ["S0APPROVER"], "justification_required": True},
    {"key": "github-org", "display_name": "GitHub", "provider_group": "github-org",
     "approvers": ["S0APPROVER"], "approvals_required": 2, "max_duration": "30d"},
    {"key": "wiki", "display_name": "Wiki", "provider_group": "wiki", "auto_approve": True},
    {"key": "design", "display_name": "Design", "provider_group": "design",
     "approvers": ["manager"]},
]


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def access_directory() -> MemoryDirectory:
    d = make_directory()
    for name in ("vpn-users", "github-org", "wiki", "design"):
        d.add_group(name)
    boss = d.add_user("boss@example.com", display_name="Boss")
    acct = d.accounts["mem00001"]  # ada
    from dataclasses import replace

    acct.user = replace(acct.user, attributes={"managerId": boss.id})
    return d


def access_config(database_url: str, **access: Any) -> Any:
    return make_config(
        database_url,
        catalogue=CATALOGUE,
        access={"request_ttl": "3d", "remind_after": "1d", "warn_before_end": "1d",
                "durations": ["1d", "7d"], "retry_after": "30s", "retry_max": "5m",
                "max_attempts": 4, **access},
    )


def people() -> StaticPeople:
    return StaticPeople(
        groups={"S0APPROVER": [APPROVER_A.slack_user_id, APPROVER_B.slack_user_id,
                               REQUESTER.slack_user_id]},
        emails={"boss@example.com": MANAGER},
    )


def build_service(
    store: Store,
    directory: MemoryDirectory,
    clock: Any,
    owner: str = "w1",
    **access: Any,
) -> tuple[AccessService, NullAccessNotifier]:
    cfg = access_config(str(store.engine.url), **access)
    notifier = NullAccessNotifier()
    service = AccessService(cfg, providers_for(directory, cfg), store, notifier, people(),
                            clock=clock, owner=owner)
    return service, notifier
