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

import os
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

from config.access import ALIAS_LANGUAGES as ALIAS_LANGUAGES
from config.access import AccessSettings as AccessSettings
from config.access import ApproverKind as ApproverKind
from config.access import CatalogueEntry as CatalogueEntry
from config.access import approver_kind as approver_kind
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

    count: int = Field(
        ge=0,
        description=(
            "Successful actions allowed per employee in each window (0 turns the action "
            "off)."
        ),
    )
    per: timedelta = Field(
        description="The window the count applies to.",
    )

    @field_validator("per", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return parse_duration(v)


class Limits(_Strict):
    password_reset: Limit = Field(
        default=Limit(count=3, per=timedelta(hours=1)),
        description="How many password resets one employee may do.",
    )
    unlock: Limit = Field(
        default=Limit(count=5, per=timedelta(hours=1)),
        description="How many account unlocks one employee may do.",
    )
    mfa_reset: Limit = Field(
        default=Limit(count=1, per=timedelta(hours=24)),
        description="How many MFA resets one employee may do.",
    )


class Organisation(_Strict):
    name: str = Field(
        default="Example Corp",
        description="The organisation's name, as employees see it in messages.",
    )
    it_channel: str = Field(
        default="#it-help",
        description=(
            "The IT team's Slack channel: where the bot sends people it cannot help, and "
            "where sweep summaries go."
        ),
    )
    it_portal_url: str | None = Field(
        default=None,
        description="The IT portal's address, offered when the bot sends someone elsewhere.",
    )
    security_channel: str | None = Field(
        default=None,
        description="A Slack channel that gets a notice for every MFA reset (none when unset).",
    )
    it_contact: str = Field(
        default="the IT service desk",
        description="How messages name the IT team (\"the IT service desk\").",
    )
    it_admins: list[str] = Field(
        default=[],
        description=(
            "The IT admins: Slack user ids (U123) and user groups (S123 or @handle). They"
            " see pending approvals, recent actions and the last sweep on the App Home, "
            "and may run `/helpdesk status`. Empty: nobody does."
        ),
    )

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
    bot_token: SecretRef = Field(
        default=SecretRef(env="SLACK_BOT_TOKEN"),
        description="The bot token (xoxb-...).",
    )
    signing_secret: SecretRef = Field(
        default=SecretRef(env="SLACK_SIGNING_SECRET"),
        description="The signing secret that authenticates Slack's requests (HTTP mode).",
    )
    app_token: SecretRef | None = Field(
        default=None,
        description=(
            "An app-level token (xapp-...) with connections:write: Socket Mode instead of"
            " HTTP."
        ),
    )
    host: str = Field(
        default="0.0.0.0",  # noqa: S104 - the bot is an HTTP endpoint Slack reaches
        description="The address the HTTP endpoint listens on.",
    )
    port: int = Field(
        default=3000, ge=0, le=65535,
        description=(
            "The port the HTTP endpoint listens on (Slack's requests, /healthz, /readyz, "
            "/metrics)."
        ),
    )
    path: str = Field(
        default="/slack/events",
        description="The path Slack's events, interactions and commands are posted to.",
    )
    api_base_url: str | None = Field(
        default=None,
        description="Another Slack Web API root (a test server); unset for Slack itself.",
    )


class PasswordResetSettings(_Strict):
    delivery: ResetDelivery = Field(
        default=ResetDelivery.LINK,
        description=(
            "How a reset reaches the employee: a reset link, or a temporary password "
            "shown in a DM."
        ),
    )
    hide_secret_after: timedelta = Field(
        default=timedelta(minutes=15),
        description=(
            "The DM showing a link or temporary password is edited to hide it after this "
            "long (or when the link expires)."
        ),
    )

    @field_validator("hide_secret_after", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return parse_duration(v)


class Protection(_Strict):
    """Accounts the bot never touches; they are sent to a human."""

    groups: list[str] = Field(
        default=["it-admins"],
        description=(
            "Directory groups whose members the bot never resets, unlocks or changes: "
            "they are sent to a human."
        ),
    )
    refuse_admin_roles: bool = Field(
        default=True,
        description="Also refuse accounts that hold a directory admin role.",
    )


class ConnectorBlock(BaseModel):
    """``kind`` plus the kind's own settings, validated by the kind's ``Settings`` model."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str = Field(
        description=(
            "Which directory this is: `okta`, `onelogin`, `ad` or `memory`; the rest of "
            "the block is the kind's settings."
        ),
    )

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


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class HelpdeskConfig(_Strict):
    organisation: Organisation = Field(
        default=Organisation(),
        description="Who the bot works for and where it sends people.",
    )
    slack: SlackSettings = Field(
        default=SlackSettings(),
        description="How the bot reaches Slack and how Slack reaches it.",
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///var/helpdesk.sqlite3",
        description=(
            "The store: a SQLAlchemy URL (`sqlite:///path` relative to the working "
            "directory, or `postgresql://...`). `DATABASE_URL` is used when this is not "
            "set."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description=(
            "How much the bot logs (JSON lines on stderr); `HELPDESK_LOG_LEVEL` overrides"
            " it."
        ),
    )
    connectors: dict[str, ConnectorBlock] = Field(
        description="The directories, by a name of your choosing (see Connectors below).",
    )
    capabilities: dict[str, str] = Field(
        default={},
        description=(
            "Which connector (by name) serves each capability: `groups`, "
            "`password_reset`, `unlock`, `mfa_reset`, `password_expiry`. Leave one out "
            "and the bot won't offer it."
        ),
    )
    password_reset: PasswordResetSettings = Field(
        default=PasswordResetSettings(),
        description="How password resets are delivered.",
    )
    protected: Protection = Field(
        default=Protection(),
        description="Accounts the bot never touches.",
    )
    limits: Limits = Field(
        default=Limits(),
        description="Per-employee limits on successful actions.",
    )
    catalogue: list[CatalogueEntry] = Field(
        default=[],
        description="Groups employees may request from chat, and who approves each.",
    )
    nudges: NudgeSettings = Field(
        default=NudgeSettings(),
        description="Scheduled password-expiry reminders in Slack.",
    )
    access: AccessSettings = Field(
        default=AccessSettings(),
        description="How group access requests wait, are reminded, expire and are retried.",
    )
    audit: AuditSettings = Field(
        default=AuditSettings(),
        description="How long the audit trail is kept.",
    )
    intents_file: Path | None = Field(
        default=None,
        description=(
            "A YAML file of extra example phrases for the intent router (none: the "
            "built-in ones)."
        ),
    )
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
    level = environ.get("HELPDESK_LOG_LEVEL", "").strip().upper()
    if level in LOG_LEVELS:  # overrides the file: turn up the logs without editing it
        data["log_level"] = level
    elif level:
        problems.append(f"HELPDESK_LOG_LEVEL: {level!r} is not one of {', '.join(LOG_LEVELS)}")
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
