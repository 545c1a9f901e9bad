"""``helpdesk.yaml``, validated: which connector serves which capability, limits, channels.

``load_config(path)`` returns a ``HelpdeskConfig`` or raises ``ConfigError``
whose ``problems`` are one line each: ``file: field.path: what is wrong``.
Secrets are never values in the YAML: only ``{env: NAME}`` or ``{file: PATH}``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from config.secrets import SecretRef
from connectors.base import ALL_CAPABILITIES, Capability, ResetDelivery
from connectors.registry import KINDS, load_kind

DEFAULT_CONFIG = Path(__file__).with_name("helpdesk.yaml")
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_TIMEDELTA = TypeAdapter(timedelta)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``2d``, ``1w`` (or seconds as a number) -> timedelta."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    match = _DURATION.match(str(text))
    if match:
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        # ISO 8601 (PT15M), which is also how a dumped config writes durations back.
        return _TIMEDELTA.validate_python(text)
    except ValidationError:
        raise ValueError(f"{text!r} is not a duration like 15m, 1h, 2d") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    def _known(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"unknown connector kind {v!r}; one of {', '.join(sorted(KINDS))}")
        return v

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class CatalogueEntry(_Strict):
    """A requestable group."""

    key: str
    display_name: str
    aliases: list[str] = []
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
    raw: Mapping[str, Any], source: str = "<config>", environ: Mapping[str, str] | None = None
) -> HelpdeskConfig:
    """Validate a parsed mapping; collect every problem before raising ``ConfigError``."""
    environ = os.environ if environ is None else environ
    data = dict(raw)
    if "database_url" not in data and environ.get("DATABASE_URL"):
        data["database_url"] = environ["DATABASE_URL"]
    problems: list[str] = []
    try:
        cfg = HelpdeskConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(f"{source}: {_loc(err['loc'])}: {err['msg']}")
        raise ConfigError(problems) from None

    for name, block in cfg.connectors.items():
        module = load_kind(block.kind)
        try:
            module.Settings.model_validate(block.options())
        except ValidationError as exc:
            for err in exc.errors():
                loc = _loc(("connectors", name, *err["loc"]))
                problems.append(f"{source}: {loc}: {err['msg']}")

    for cap_name, provider in cfg.capabilities.items():
        try:
            Capability.parse(cap_name)
        except ValueError as exc:
            problems.append(f"{source}: capabilities.{cap_name}: {exc}")
            continue
        if provider not in cfg.connectors:
            problems.append(
                f"{source}: capabilities.{cap_name}: no connector named {provider!r} "
                f"(configured: {', '.join(sorted(cfg.connectors)) or 'none'})"
            )
    groups_provider = cfg.capabilities.get(Capability.GROUPS.label)
    keys: set[str] = set()
    for i, entry in enumerate(cfg.catalogue):
        if entry.key in keys:
            problems.append(f"{source}: catalogue.{i}.key: duplicate key {entry.key!r}")
        keys.add(entry.key)
        group_provider = entry.provider or groups_provider
        if group_provider is None:
            problems.append(
                f"{source}: catalogue.{i}.provider: no provider and no 'groups' capability"
            )
        elif group_provider not in cfg.connectors:
            problems.append(
                f"{source}: catalogue.{i}.provider: no connector named {group_provider!r}"
            )
    if problems:
        raise ConfigError(problems)
    return cfg.model_copy(update={"source": Path(source)})


def load_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> HelpdeskConfig:
    """Read and validate ``helpdesk.yaml`` (default: the packaged demo configuration)."""
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
    return validate_config(raw, str(chosen), environ)


def capability_labels() -> list[str]:
    return [c.label for c in ALL_CAPABILITIES]
