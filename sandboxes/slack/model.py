"""The seeded workspace: team, app, tokens, users, user groups and channels.

A workspace is plain data. Build one with ``Workspace.from_dict`` (or ``from_yaml``) from a mapping
such as::

    team: {id: T0ACME0001, name: Acme, domain: acme}
    app: {id: A0HELPDESK1, bot_id: B0HELPDESK1, bot_user_id: U0HELPBOT1, name: helpdesk}
    tokens:                       # optional; default: one bot token with DEFAULT_BOT_SCOPES
      - {token: xoxb-..., scopes: [chat:write, users:read]}
    users:
      - id: U0ALICE001
        name: alice
        is_admin: true
        tz: Europe/Paris
        profile: {email: alice@example.com, display_name: Alice, real_name: Alice Liddell}
    usergroups:
      - {id: S0ITADMINS, handle: it-admins, name: IT admins, users: [U0ALICE001]}
    channels:
      - {id: C0HELPDESK1, name: helpdesk, members: [U0ALICE001, U0HELPBOT1], is_private: false}

Unknown keys raise ``ValueError`` so that a typo in a seed fails loudly instead of seeding a
default. The app's bot user is added to ``users`` when the seed does not list it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

# Granular bot scopes a helpdesk bot installs with; ``users:read.email`` is what makes
# ``profile.email`` appear and ``users.lookupByEmail`` work.
DEFAULT_BOT_SCOPES: tuple[str, ...] = (
    "chat:write",
    "im:write",
    "im:read",
    "im:history",
    "users:read",
    "users:read.email",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "mpim:read",
    "commands",
)
# Assembled so the tracked source holds nothing shaped like a live token.
DEFAULT_BOT_TOKEN = "-".join(("xoxb", "1000000001", "2000000002", "FakeSlackBotToken0001"))
# The app-level token Socket Mode connects with (apps.connections.open).
DEFAULT_APP_TOKEN = "-".join(("xapp", "1", "A0000000001", "3000000003", "FakeSlackAppToken0001"))
APP_TOKEN_SCOPES = frozenset({"connections:write"})

# A ready-made seed (admins, a deactivated user, a guest, channels, a user group).
EXAMPLE_WORKSPACE = Path(__file__).with_name("example_workspace.yaml")

# Every object is created with this timestamp so that seeded payloads are reproducible.
SEED_EPOCH = 1_700_000_000


def _check_keys(kind: str, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValueError(f"unknown {kind} field(s): {', '.join(sorted(unknown))}")


def _tz_offset(tz: str) -> tuple[int, str]:
    """Offset in seconds and abbreviation of ``tz`` at the seed epoch (0/"UTC" if unknown)."""
    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return 0, "UTC"
    moment = dt.datetime.fromtimestamp(SEED_EPOCH, tz=zone)
    offset = moment.utcoffset()
    return (int(offset.total_seconds()) if offset else 0), (moment.tzname() or tz)


@dataclass
class User:
    """A member of the workspace (person or bot) as Slack's user object describes it."""

    id: str
    name: str
    real_name: str = ""
    display_name: str = ""
    email: str | None = None
    title: str = ""
    phone: str = ""
    deleted: bool = False
    is_bot: bool = False
    is_app_user: bool = False
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    is_admin: bool = False
    is_owner: bool = False
    tz: str = "Etc/UTC"
    # Shown only to users.info and users.list called with include_locale (never in events).
    locale: str = "en-US"
    bot_id: str | None = None
    app_id: str | None = None
    updated: int = SEED_EPOCH
    # A Slack Connect user: their own organisation's team id, flagged external.
    team_id: str | None = None
    is_external: bool = False

    _PROFILE_KEYS = ("email", "display_name", "real_name", "title", "phone")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> User:
        """Build a user from a seed entry; ``profile`` keys may be nested or flat."""
        flat = {k: v for k, v in data.items() if k != "profile"}
        profile = data.get("profile") or {}
        _check_keys("user profile", profile, cls._PROFILE_KEYS)
        flat.update(profile)
        _check_keys("user", flat, (f.name for f in fields(cls)))
        if "id" not in flat or "name" not in flat:
            raise ValueError(f"a user needs an id and a name: {dict(data)!r}")
        return cls(**flat)

    @property
    def is_active(self) -> bool:
        """True unless the account is deactivated."""
        return not self.deleted


@dataclass
class Channel:
    """A public or private channel; DMs are not seeded, they open on demand."""

    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    is_general: bool = False
    members: list[str] = field(default_factory=list)
    creator: str = "USLACKBOT"
    created: int = SEED_EPOCH
    topic: str = ""
    purpose: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Channel:
        """Build a channel from a seed entry."""
        _check_keys("channel", data, (f.name for f in fields(cls)))
        members = list(data.get("members", ()))
        return cls(**{**data, "members": members})


@dataclass
class UserGroup:
    """A user group (Slack's "subteam"); ``enabled`` False means disabled."""

    id: str
    handle: str
    name: str = ""
    users: list[str] = field(default_factory=list)
    enabled: bool = True

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UserGroup:
        """Build a user group from a seed entry."""
        _check_keys("usergroup", data, (f.name for f in fields(cls)))
        return cls(**{**data, "users": list(data.get("users", ()))})


@dataclass
class App:
    """The Slack app under test and its bot user."""

    id: str = "A0HELPDESK1"
    bot_id: str = "B0HELPDESK1"
    bot_user_id: str = "U0HELPBOT1"
    name: str = "helpdesk"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> App:
        """Build the app from a seed entry."""
        _check_keys("app", data, (f.name for f in fields(cls)))
        return cls(**data)


@dataclass
class Token:
    """An OAuth token the fake accepts and the scopes granted to it."""

    token: str
    scopes: frozenset[str] = frozenset(DEFAULT_BOT_SCOPES)
    revoked: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        """Build a token from a seed entry."""
        _check_keys("token", data, ("token", "scopes", "revoked"))
        scopes = frozenset(data.get("scopes", DEFAULT_BOT_SCOPES))
        return cls(token=data["token"], scopes=scopes, revoked=bool(data.get("revoked", False)))


@dataclass
class Workspace:
    """Everything seeded: the team, the app, tokens, users, user groups, channels."""

    team_id: str = "T0ACME0001"
    team_name: str = "Acme"
    domain: str = "acme"
    app: App = field(default_factory=App)
    tokens: dict[str, Token] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    usergroups: dict[str, UserGroup] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    _email_index: dict[str, User] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self.tokens:
            self.tokens[DEFAULT_BOT_TOKEN] = Token(DEFAULT_BOT_TOKEN)
            self.tokens[DEFAULT_APP_TOKEN] = Token(DEFAULT_APP_TOKEN, APP_TOKEN_SCOPES)
        if self.app.bot_user_id not in self.users:
            self.users[self.app.bot_user_id] = User(
                id=self.app.bot_user_id,
                name=self.app.name,
                real_name=self.app.name,
                is_bot=True,
                bot_id=self.app.bot_id,
                app_id=self.app.id,
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Workspace:
        """Build a workspace from a seed mapping (see the module docstring)."""
        _check_keys("workspace", data, ("team", "app", "tokens", "users", "usergroups", "channels"))
        team = data.get("team") or {}
        _check_keys("team", team, ("id", "name", "domain"))
        users = [User.from_dict(u) for u in data.get("users", ())]
        groups = [UserGroup.from_dict(g) for g in data.get("usergroups", ())]
        channels = [Channel.from_dict(c) for c in data.get("channels", ())]
        tokens = [Token.from_dict(t) for t in data.get("tokens", ())]
        return cls(
            team_id=team.get("id", cls.team_id),
            team_name=team.get("name", cls.team_name),
            domain=team.get("domain", cls.domain),
            app=App.from_dict(data.get("app") or {}),
            tokens={t.token: t for t in tokens},
            users={u.id: u for u in users},
            usergroups={g.id: g for g in groups},
            channels={c.id: c for c in channels},
        )

    @classmethod
    def from_yaml(cls, source: str | Path) -> Workspace:
        """Build a workspace from YAML text or from a ``Path`` to a YAML file."""
        from yaml import safe_load  # type: ignore[import-untyped, unused-ignore]

        text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
        data = safe_load(text)
        if not isinstance(data, Mapping):
            raise ValueError("a workspace seed must be a mapping")
        return cls.from_dict(data)

    @property
    def bot_token(self) -> str:
        """The first seeded bot token: what the bot under test should be configured with."""
        return next(t for t in self.tokens if not t.startswith("xapp-"))

    @property
    def app_token(self) -> str | None:
        """The first seeded app-level token (``xapp-``), for Socket Mode."""
        return next((t for t in self.tokens if t.startswith("xapp-")), None)

    def user_by_email(self, email: str) -> User | None:
        """The user whose profile email matches ``email`` (case-insensitively), if any.

        Served from an index (benchmarks look up thousands); a miss or a stale hit rebuilds it,
        so users added or edited after seeding are found too.
        """
        wanted = email.strip().lower()
        hit = self._email_index.get(wanted)
        if hit is None or (hit.email or "").lower() != wanted or self.users.get(hit.id) is not hit:
            self._email_index = {u.email.lower(): u for u in self.users.values() if u.email}
            hit = self._email_index.get(wanted)
        return hit

    def channel_by_name(self, name: str) -> Channel | None:
        """The channel called ``name`` (a leading ``#`` is ignored), if any."""
        wanted = name.lstrip("#")
        return next((c for c in self.channels.values() if c.name == wanted), None)

    def tz_of(self, user: User) -> tuple[int, str]:
        """``(tz_offset seconds, tz_label)`` of a user's time zone."""
        return _tz_offset(user.tz)
