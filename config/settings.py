"""``helpdesk.yaml``, validated: which connector serves which capability, limits, channels.

``load_config(path)`` returns a ``HelpdeskConfig`` or raises ``ConfigError``
whose ``problems`` are one line each: ``file: field.path: what is wrong``.
Secrets are never values in the YAML: only ``{env: NAME}`` or ``{file: PATH}``.

This package knows no connector: which kinds exist and what each kind's block
holds come in as a :class:`KindChecker` (``connectors.registry.CONFIG_KINDS``).
The application loads its configuration through ``bot.configuration``, which
passes it; without one, connector blocks are not checked beyond ``kind``.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Collection, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from config.audit import AuditSettings
from config.durations import parse_duration
from config.nudges import NudgeSettings
from config.problems import explain
from config.secrets import SecretRef
from connectors.base import ALL_CAPABILITIES, Capability, ResetDelivery

DEFAULT_CONFIG = Path(__file__).with_name("helpdesk.yaml")


class KindChecker(Protocol):
    """The connector kinds, as configuration validation needs to know them."""

    def names(self) -> Collection[str]:
        """Every known ``kind``."""
        ...

    def check(
        self, kind: str, options: Mapping[str, Any]
    ) -> list[tuple[tuple[int | str, ...], str]]:
        """Problems of a block's options under ``kind``: (location in the block, message)."""
        ...


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_M = TypeVar("_M", bound=BaseModel)


class Limit(_Strict):
    """At most ``count`` successful actions per user per ``per``."""

    count: int = Field(ge=0)
    per: timedelta

    @field_validator("per", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return parse_duration(v)


class Limits(_Strict):
    password_reset: Limit = Limit(count=3, per=timedelta(hours=1))
    unlock: Limit = Limit(count=5, per=timedelta(hours=1))
    mfa_reset: Limit = Limit(count=1, per=timedelta(hours=24))


class Organisation(_Strict):
    name: str = "Example Corp"
    it_channel: str = "#it-help"
    it_portal_url: str | None = None
    security_channel: str | None = None
    it_contact: str = "the IT service desk"
    # The IT admins: Slack user ids (U123) and user groups (S123 or @handle). They see
    # pending approvals, recent actions and the last sweep on the App Home, and may run
    # ``/helpdesk status``. Empty: nobody does.
    it_admins: list[str] = []

    @field_validator("it_admins")
    @classmethod
    def _it_admins(cls, v: list[str]) -> list[str]:
        for entry in v:
            try:
                kind: ApproverKind | None = approver_kind(entry)
            except ValueError:
                kind = None
            if kind not in {ApproverKind.USER, ApproverKind.USERGROUP}:
                raise ValueError(
                    f"{entry!r} is not a Slack user id (U123) or user group (S123 or @handle)"
                )
        return v


class SlackSettings(_Strict):
    bot_token: SecretRef = SecretRef(env="SLACK_BOT_TOKEN")
    signing_secret: SecretRef = SecretRef(env="SLACK_SIGNING_SECRET")
    app_token: SecretRef | None = None
    host: str = "0.0.0.0"  # noqa: S104 - the bot is an HTTP endpoint Slack reaches
    port: int = Field(default=3000, ge=0, le=65535)
    path: str = "/slack/events"
    api_base_url: str | None = None


class PasswordResetSettings(_Strict):
    delivery: ResetDelivery = ResetDelivery.LINK
    hide_secret_after: timedelta = timedelta(minutes=15)

    @field_validator("hide_secret_after", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return parse_duration(v)


class Protection(_Strict):
    """Accounts the bot never touches; they are sent to a human."""

    groups: list[str] = ["it-admins"]
    refuse_admin_roles: bool = True


class ConnectorBlock(BaseModel):
    """``kind`` plus the kind's own settings, validated by the kind's ``Settings`` model."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str

    @field_validator("kind")
    @classmethod
    def _known(cls, v: str, info: ValidationInfo) -> str:
        kinds: KindChecker | None = (info.context or {}).get("kinds")
        if kinds is not None and v not in kinds.names():
            known = ", ".join(sorted(kinds.names()))
            raise ValueError(f"unknown connector kind {v!r}; one of {known}")
        return v

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ApproverKind(enum.StrEnum):
    """What an entry of a catalogue group's ``approvers`` names (see :func:`approver_kind`)."""

    USER = "user"
    USERGROUP = "usergroup"
    MANAGER = "manager"
    CHANNEL = "channel"


_APPROVER_KINDS: tuple[tuple[ApproverKind, re.Pattern[str]], ...] = (
    (ApproverKind.USER, re.compile(r"^[UW][A-Z0-9]{2,}$")),
    (ApproverKind.USERGROUP, re.compile(r"^S[A-Z0-9]{2,}$|^@[a-z0-9][a-z0-9._-]*$")),
    (ApproverKind.MANAGER, re.compile(r"^manager$")),
    (ApproverKind.CHANNEL, re.compile(r"^[CG][A-Z0-9]{2,}$|^#[a-z0-9][a-z0-9._-]*$")),
)


def approver_kind(entry: str) -> ApproverKind:
    """``user``, ``usergroup``, ``manager`` or ``channel``; ``ValueError`` for anything else.

    ``U123``/``W123`` is a Slack user, ``S123`` or ``@handle`` a Slack user group,
    ``manager`` the requester's manager (from a directory attribute), ``C123`` or
    ``#name`` a channel where the approval message is posted.
    """
    for kind, pattern in _APPROVER_KINDS:
        if pattern.match(entry):
            return kind
    raise ValueError(
        f"{entry!r} is not an approver: use a Slack user id (U123), a user group (S123 or "
        "@handle), 'manager', or a channel (C123 or #name)"
    )


#: Languages the intent router understands (ISO 639-1); ``bot.intents.lang.LANGUAGES`` agrees.
ALIAS_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "pt")


class CatalogueEntry(_Strict):
    """A requestable group and how a request for it is approved.

    ``approvers`` name who may decide (users, user groups, ``manager``) and where
    the approval message goes (channels; named users and the manager also get a
    DM, user-group members only when no channel is listed). ``approvals_required``
    distinct people must approve, never the requester. ``max_duration`` makes the
    access time-bound: the requester picks a duration up to it and the membership
    is removed when it ends.
    """

    key: str
    display_name: str
    aliases: list[str] = []
    aliases_by_language: dict[str, list[str]] = {}
    description: str = ""
    provider: str | None = None
    provider_group: str
    approvers: list[str] = []
    approvals_required: int = Field(default=1, ge=1, le=5)
    justification_required: bool = False
    auto_approve: bool = False
    max_duration: timedelta | None = None

    @field_validator("max_duration", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta | None:
        return None if v is None else parse_duration(v)

    @field_validator("aliases_by_language")
    @classmethod
    def _alias_languages(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for code in v:
            if code not in ALIAS_LANGUAGES:
                raise ValueError(
                    f"unknown language {code!r}; one of {', '.join(ALIAS_LANGUAGES)}"
                )
        return v

    @field_validator("approvers")
    @classmethod
    def _approvers(cls, v: list[str]) -> list[str]:
        for entry in v:
            approver_kind(entry)
        return v

    def approvers_of(self, kind: ApproverKind) -> list[str]:
        return [a for a in self.approvers if approver_kind(a) == kind]


class AccessSettings(_Strict):
    """Group access requests: how long they wait, reminders, time-bound access, retries."""

    request_ttl: timedelta = timedelta(days=3)
    remind_after: timedelta = timedelta(days=1)
    warn_before_end: timedelta = timedelta(days=1)
    durations: list[timedelta] = [
        timedelta(days=1), timedelta(days=7), timedelta(days=30), timedelta(days=90)
    ]
    manager_attributes: list[str] = ["managerEmail", "manager_email", "managerId", "manager"]
    justification_min_length: int = Field(default=10, ge=1, le=500)
    retry_after: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(minutes=15)
    max_attempts: int = Field(default=20, ge=1)
    poll_interval: timedelta = timedelta(seconds=5)
    lease: timedelta = timedelta(minutes=2)

    @field_validator(
        "request_ttl", "remind_after", "warn_before_end", "retry_after", "retry_max",
        "poll_interval", "lease", mode="before",
    )
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return parse_duration(v)

    @field_validator("durations", mode="before")
    @classmethod
    def _durs(cls, v: Any) -> list[timedelta]:
        if not isinstance(v, list):
            raise ValueError("a list of durations like [1d, 7d, 30d]")
        return [parse_duration(x) for x in v]


class HelpdeskConfig(_Strict):
    organisation: Organisation = Organisation()
    slack: SlackSettings = SlackSettings()
    database_url: str = "sqlite+aiosqlite:///var/helpdesk.sqlite3"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    connectors: dict[str, ConnectorBlock]
    capabilities: dict[str, str] = {}
    password_reset: PasswordResetSettings = PasswordResetSettings()
    protected: Protection = Protection()
    limits: Limits = Limits()
    catalogue: list[CatalogueEntry] = []
    nudges: NudgeSettings = NudgeSettings()
    access: AccessSettings = AccessSettings()
    audit: AuditSettings = AuditSettings()
    intents_file: Path | None = None
    source: Path | None = Field(default=None, exclude=True)

    def provider_for(self, capability: Capability) -> str | None:
        """The connector instance name configured for a capability, if any."""
        return self.capabilities.get(capability.label)


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` holds one readable line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _loc(parts: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in parts) or "(top level)"


def validate_config(
    raw: Mapping[str, Any],
    source: str = "<config>",
    environ: Mapping[str, str] | None = None,
    *,
    kinds: KindChecker | None = None,
) -> HelpdeskConfig:
    """Validate a parsed mapping; collect every problem before raising ``ConfigError``.

    ``kinds`` checks each connector's ``kind`` and the rest of its block; without
    it neither is checked (the application always passes it: ``bot.configuration``).
    """
    environ = os.environ if environ is None else environ
    data = dict(raw)
    if "database_url" not in data and environ.get("DATABASE_URL"):
        data["database_url"] = environ["DATABASE_URL"]
    problems: list[str] = []
    cfg: HelpdeskConfig | None = None
    try:
        cfg = HelpdeskConfig.model_validate(data, context={"kinds": kinds})
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(f"{source}: {_loc(err['loc'])}: {explain(err, HelpdeskConfig)}")
    # One round: the checks below run on whatever parts are valid, even when others are not.
    connectors = _valid_connectors(data.get("connectors"), kinds)
    for name, block in connectors.items():
        for where, message in kinds.check(block.kind, block.options()) if kinds else ():
            problems.append(f"{source}: {_loc(('connectors', name, *where))}: {message}")

    capabilities = data.get("capabilities") if cfg is None else cfg.capabilities
    for cap_name, provider in (capabilities or {}).items() if isinstance(
        capabilities, Mapping
    ) else ():
        try:
            Capability.parse(str(cap_name))
        except ValueError as exc:
            problems.append(f"{source}: capabilities.{cap_name}: {exc}")
            continue
        if isinstance(provider, str) and provider not in connectors:
            problems.append(
                f"{source}: capabilities.{cap_name}: no connector named {provider!r} "
                f"(configured: {', '.join(sorted(connectors)) or 'none'})"
            )
    groups_provider = capabilities.get(Capability.GROUPS.label) if isinstance(
        capabilities, Mapping
    ) else None
    protected = cfg.protected if cfg is not None else _valid(Protection, data.get("protected"))
    keys: set[str] = set()
    for i, entry in _valid_entries(data.get("catalogue"), cfg):
        if entry.key in keys:
            problems.append(f"{source}: catalogue.{i}.key: duplicate key {entry.key!r}")
        keys.add(entry.key)
        group_provider = entry.provider or groups_provider
        if group_provider is None:
            problems.append(
                f"{source}: catalogue.{i}.provider: no provider and no 'groups' capability"
            )
        elif group_provider not in connectors:
            problems.append(
                f"{source}: catalogue.{i}.provider: no connector named {group_provider!r}"
            )
        problems += [
            f"{source}: catalogue.{i}.{p}" for p in _approval_problems(entry, protected)
        ]
    if problems or cfg is None:
        raise ConfigError(problems)
    return cfg.model_copy(update={"source": Path(source)})


def _valid(model: type[_M], value: Any) -> _M:
    """``value`` as ``model`` when it is valid, else the model's defaults."""
    try:
        return model.model_validate(value if value is not None else {})
    except ValidationError:
        return model()


def _valid_connectors(value: Any, kinds: KindChecker | None) -> dict[str, ConnectorBlock]:
    """The connector blocks whose ``kind`` is known (their other problems are found after)."""
    if not isinstance(value, Mapping):
        return {}
    blocks: dict[str, ConnectorBlock] = {}
    for name, block in value.items():
        try:
            blocks[str(name)] = ConnectorBlock.model_validate(block, context={"kinds": kinds})
        except ValidationError:
            continue
    return blocks


def _valid_entries(
    value: Any, cfg: HelpdeskConfig | None
) -> list[tuple[int, CatalogueEntry]]:
    """The catalogue entries that are valid on their own, with their positions."""
    if cfg is not None:
        return list(enumerate(cfg.catalogue))
    if not isinstance(value, list):
        return []
    entries: list[tuple[int, CatalogueEntry]] = []
    for i, item in enumerate(value):
        try:
            entries.append((i, CatalogueEntry.model_validate(item)))
        except ValidationError:
            continue
    return entries


def _approval_problems(entry: CatalogueEntry, protected: Protection) -> list[str]:
    """What makes a catalogue entry impossible to approve or unsafe to grant."""
    problems: list[str] = []
    if entry.provider_group.lower() in {g.lower() for g in protected.groups}:
        problems.append("provider_group: a protected group can't be requested from chat")
    if entry.auto_approve:
        return problems
    deciders = [a for a in entry.approvers if approver_kind(a) is not ApproverKind.CHANNEL]
    if not deciders:
        problems.append(
            "approvers: name who may decide (a user, a user group or 'manager'); "
            "a channel only says where the approval message goes"
        )
    elif all(approver_kind(a) is ApproverKind.USER for a in deciders) and len(set(deciders)) < (
        entry.approvals_required
    ):
        problems.append(
            f"approvals_required: {entry.approvals_required} distinct approvals but only "
            f"{len(set(deciders))} approver(s) listed"
        )
    return problems


def load_config(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    kinds: KindChecker | None = None,
) -> HelpdeskConfig:
    """Read and validate ``helpdesk.yaml`` (default: the packaged demo configuration).

    ``kinds`` as for :func:`validate_config`.
    """
    environ = os.environ if environ is None else environ
    chosen = Path(path or environ.get("HELPDESK_CONFIG") or DEFAULT_CONFIG)
    try:
        text = chosen.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{chosen}: cannot read: {exc.strerror}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        raise ConfigError([f"{chosen}: {where}: not valid YAML"]) from None
    if not isinstance(raw, Mapping):
        raise ConfigError([f"{chosen}: (top level): expected a mapping of settings"])
    return validate_config(raw, str(chosen), environ, kinds=kinds)


def capability_labels() -> list[str]:
    return [c.label for c in ALL_CAPABILITIES]
