"""A small company for nudge tests: an in-memory directory, a Slack fake, a store.

People are named by what should happen to them. Expiry times are noon (in the
configured zone) a whole number of days ahead, so "days left" is exact whatever
the time of day the test runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from actions.nudges import NudgeRunner
from actions.providers import Providers
from bot.configuration import validate_config
from bot.nudges import NUDGE_BLOCK_PREFIX, build_runner, nudge_client
from config.settings import HelpdeskConfig
from connectors.base import Capability, DirectoryUser, UserStatus
from connectors.memory import MemoryDirectory
from sandboxes.slack import Message, RunningSlackFake, SlackState, Workspace, run_slack_fake
from store.db import Store
from store.nudges import NudgeStore

ZONE_NAME = "Europe/London"
ZONE = ZoneInfo(ZONE_NAME)
MAX_AGE = timedelta(days=90)
IT_CHANNEL = "C0ITHELP001"
BOT_USER = "U0HELPBOT1"


def today() -> date:
    return datetime.now(UTC).astimezone(ZONE).date()


def expiring_in(days: int) -> datetime:
    """Noon, ``days`` calendar days from today in the test zone."""
    return datetime.combine(today() + timedelta(days=days), time(12), tzinfo=ZONE).astimezone(UTC)


def changed_for(days_left: int) -> datetime:
    """The password change time that makes a 90-day password expire in ``days_left`` days."""
    return expiring_in(days_left) - MAX_AGE


@dataclass(frozen=True)
class Person:
    """Someone in the directory (and maybe in Slack)."""

    key: str
    days_left: int | None  # None: the password never expires
    slack: str | None = None  # Slack user id; None: no Slack account
    slack_deleted: bool = False
    status: UserStatus = UserStatus.ACTIVE
    groups: tuple[str, ...] = ()

    @property
    def email(self) -> str:
        return f"{self.key}@example.com"


PEOPLE: tuple[Person, ...] = (
    Person("ada", 10, "U0ADA00001"),  # 14-day nudge
    Person("bob", 6, "U0BOB00001"),  # 7-day nudge
    Person("cy", 2, "U0CY000001"),  # 3-day nudge
    Person("dee", 1, "U0DEE00001"),  # 1-day nudge
    Person("lou", 5, "U0LOU00001", status=UserStatus.LOCKED_OUT),  # 7-day nudge
    Person("eve", 30, "U0EVE00001"),  # not yet: outside the 14-day window
    Person("fay", None, "U0FAY00001"),  # never expires
    Person("gus", 4, None),  # no Slack account
    Person("hal", 3, "U0HAL00001", slack_deleted=True),  # deactivated in Slack
    Person("ivy", 8, "U0IVY00001", groups=("no-nudge",)),  # excluded by group
)
NUDGED = ("ada", "bob", "cy", "dee", "lou")


def workspace(people: Sequence[Person] = PEOPLE, extra: Sequence[dict[str, Any]] = ()) -> Workspace:
    """The Slack side of ``people``, the IT channel and the bot."""
    users = [
        {
            "id": p.slack,
            "name": p.key,
            "profile": {"email": p.email, "real_name": p.key.title()},
            "deleted": p.slack_deleted,
        }
        for p in people
        if p.slack
    ]
    return Workspace.from_dict(
        {
            "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
            "app": {"id": "A0HELPDESK1", "bot_id": "B0HELPDESK1", "bot_user_id": BOT_USER,
                    "name": "helpdesk"},
            "users": [*users, *extra],
            "channels": [{"id": IT_CHANNEL, "name": "it-help", "members": [BOT_USER]}],
        }
    )


def directory(people: Sequence[Person] = PEOPLE, *, name: str = "mem") -> MemoryDirectory:
    """The directory side of ``people`` (pages of 3, to exercise paging)."""
    found = MemoryDirectory(name, max_age=MAX_AGE, page_size=3)
    groups: dict[str, Any] = {}
    for p in people:
        user = found.add_user(
            p.email,
            status=p.status,
            password_changed=changed_for(p.days_left) if p.days_left is not None else None,
            never_expires=p.days_left is None,
        )
        for group in p.groups:
            if group not in groups:
                groups[group] = found.add_group(group)
            found.members[groups[group].id].add(user.id)
    return found


def config(database_url: str, slack_url: str, **nudges: Any) -> HelpdeskConfig:
    """A deployment with one memory connector serving everything, and ``nudges`` settings."""
    raw: dict[str, Any] = {
        "organisation": {"it_channel": IT_CHANNEL, "it_contact": "the IT desk"},
        "slack": {"api_base_url": slack_url},
        "database_url": database_url,
        "connectors": {"mem": {"kind": "memory"}},
        # Verification before changes is tested in tests/verification.
        "verification": {"password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]},
        "capabilities": {
            "groups": "mem",
            "password_reset": "mem",
            "unlock": "mem",
            "password_expiry": "mem",
        },
        "nudges": {"timezone": ZONE_NAME, "exclude_groups": ["no-nudge"], **nudges},
    }
    return validate_config(raw, "test", {})


def providers(cfg: HelpdeskConfig, *directories: MemoryDirectory) -> Providers:
    routes = {Capability.parse(k): v for k, v in cfg.capabilities.items()}
    return Providers({d.name: d for d in directories}, routes)


@dataclass
class World:
    """Everything a nudge run touches, wired together."""

    cfg: HelpdeskConfig
    store: Store
    nudges: NudgeStore
    fake: RunningSlackFake
    directory: MemoryDirectory
    providers: Providers
    clients: list[Any] = field(default_factory=list)

    @property
    def slack(self) -> SlackState:
        return self.fake.state

    def runner(self, shift: timedelta | None = None, **overrides: Any) -> NudgeRunner:
        """A runner on this world, ``shift`` in the future; ``overrides`` change settings."""
        cfg = self.cfg
        if overrides:
            settings = cfg.nudges.model_copy(update=overrides)
            cfg = cfg.model_copy(update={"nudges": settings})
        client = nudge_client(self.fake.token, self.fake.base_url, cfg.nudges)
        self.clients.append(client)
        ahead = shift or timedelta(0)
        return build_runner(
            cfg, self.providers, self.nudges, client, now=lambda: datetime.now(UTC) + ahead
        )

    def user(self, key: str) -> DirectoryUser:
        accounts = self.directory.accounts.values()
        return next(a.user for a in accounts if a.user.email.startswith(key + "@"))

    def nudges_to(self, slack_id: str) -> list[Message]:
        """Nudge messages in a person's DM."""
        return [m for m in self.slack.messages_to(slack_id) if is_nudge(m)]

    def all_nudges(self) -> list[Message]:
        return [m for m in self.slack.all_messages() if is_nudge(m)]


def is_nudge(message: Message) -> bool:
    return any(
        str(b.get("block_id", "")).startswith(NUDGE_BLOCK_PREFIX) for b in message.blocks or ()
    )


@contextlib.asynccontextmanager
async def make_world(
    tmp_path: Path,
    *,
    people: Sequence[Person] = PEOPLE,
    database_url: str | None = None,
    history: bool = True,
    tiers: Any = None,
    **nudges: Any,
) -> AsyncIterator[World]:
    """Start the Slack fake and the store, and build the world around them."""
    url = database_url or f"sqlite:///{tmp_path}/nudges.sqlite3"
    state = SlackState(workspace(people))
    options = {"tiers": tiers} if tiers is not None else {}
    async with run_slack_fake(state, **options) as fake:
        if not history:  # an app installed without ``im:history``: every read refused
            state.fail_next("conversations.history", "missing_scope", count=1_000_000)
        cfg = config(url, fake.base_url, **nudges)
        store = await Store.open(url)
        found = directory(people)
        world = World(cfg, store, NudgeStore(store.engine), fake, found, providers(cfg, found))
        try:
            yield world
        finally:
            await store.close()
