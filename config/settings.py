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
from typing import Any, Literal, Protocol, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config.access import ALIAS_LANGUAGES as ALIAS_LANGUAGES
from config.access import AccessSettings as AccessSettings
from config.access import ApproverKind as ApproverKind
from config.access import CatalogueEntry as CatalogueEntry
from config.access import approver_kind as approver_kind
from config.audit import AuditSettings
from config.durations import parse_duration

# The catalogue and access models live in config.access; imported from here too.
from config.i18n import N_, t
from config.notices import NoticeSettings
from config.nudges import NudgeSettings
from config.problems import describe, log_level_override
from config.slack import InboxSettings as InboxSettings
from config.slack import SlackSettings as SlackSettings
from config.verification import VerificationSettings
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
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Limit(_Strict):
    """At most ``count`` successful actions per user per ``per``."""

    count: int = Field(ge=0)
    """How many successful actions are allowed in the window (0: none)."""
    per: timedelta
    """The window."""

    @field_validator("per", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return parse_duration(v)


class Limits(_Strict):
    password_reset: Limit = Limit(count=3, per=timedelta(hours=1))
    """Password resets per employee."""
    unlock: Limit = Limit(count=5, per=timedelta(hours=1))
    """Account unlocks per employee."""
    mfa_reset: Limit = Limit(count=1, per=timedelta(hours=24))
    """MFA resets per employee."""


class Organisation(_Strict):
    name: str = "Example Corp"
    """The organisation's name, as messages show it."""
    it_channel: str = "#it-help"
    """Where employees are sent for a human (`#it-help`), and where IT summaries go."""
    it_portal_url: str | None = None
    """A link to the IT portal, shown beside `it_channel` when set."""
    security_channel: str | None = None
    """A channel (id or `#name`) told about MFA resets, refusals of protected accounts and
    possible attacks; none when unset."""
    it_contact: str = N_("the IT service desk")
    """How messages name the people to ask ("the IT service desk")."""
    timezone: str | None = None
    """The organisation's default IANA time zone (`Europe/Madrid`): password-expiry days are
    counted, and dates shown, in it for people whose Slack profile has no time zone; also the
    nudge schedule's zone unless `nudges.timezone` is set. Unset: `nudges.timezone`."""
    language: Literal["en", "es", "fr", "de", "pt"] = "en"
    """The language the bot answers in when neither the message nor the person's Slack
    locale says (`en`, `es`, `fr`, `de`, `pt`); also the IT and security channels' language."""
    # The IT admins: Slack user ids (U123) and user groups (S123 or @handle). They see
    # pending approvals, recent actions and the last sweep on the App Home, and may run
    # ``/helpdesk status``. Empty: nobody does.
    it_admins: list[str] = []
    """Slack user ids (`U123`) and user groups (`S123` or `@handle`) who see approvals, recent
    actions and the last sweep on the App Home and may run `/helpdesk status`."""

    def where_to_go(self) -> str:
        """Who to ask instead, in the current language: contact, channel and portal."""
        # ``it_contact`` is the organisation's words: translated when a catalogue has them.
        where = t("{contact} in {channel}", contact=t(self.it_contact), channel=self.it_channel)
        return f"{where} ({self.it_portal_url})" if self.it_portal_url else where

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

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


class PasswordResetSettings(_Strict):
    delivery: ResetDelivery = ResetDelivery.LINK
    """`link`: a one-time reset link; `temporary_password`: a password that must be changed at
    next sign-in (where the connector supports each)."""
    hide_secret_after: timedelta = timedelta(minutes=15)
    """The DM holding a link or temporary password is edited to remove it after this long (sooner
    when the link expires or the employee clicks Done)."""

    @field_validator("hide_secret_after", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> timedelta:
        return parse_duration(v)


class Protection(_Strict):
    """Accounts the bot never touches; they are sent to a human."""

    groups: list[str] = ["it-admins"]
    """Members of these directory groups are never changed from chat."""
    refuse_admin_roles: bool = True
    """Refuse accounts holding directory admin roles (Okta admin roles, AD privileged groups,
    OneLogin admin privileges)."""


class ConnectorBlock(BaseModel):
    """``kind`` plus the kind's own settings, validated by the kind's ``Settings`` model."""

    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)

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


class HelpdeskConfig(_Strict):
    organisation: Organisation = Organisation()
    """Who the employees are told to ask, and the channels IT and security read."""
    slack: SlackSettings = SlackSettings()
    """How the bot reaches Slack: tokens, the HTTP endpoint, or Socket Mode."""
    database_url: str = "sqlite+aiosqlite:///var/helpdesk.sqlite3"
    """The state store: SQLite (one replica; a relative path is relative to the working
    directory) or `postgresql://` for several replicas."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """How much the JSON log says (also `HELPDESK_LOG_LEVEL`)."""
    connectors: dict[str, ConnectorBlock]
    """The identity systems, by a name of your choosing; each block's `kind` says which system
    (see Connector kinds)."""
    capabilities: dict[str, str] = {}
    """Which connector (by name) serves each capability: `password_reset`, `unlock`, `mfa_reset`,
    `password_expiry`, `groups`. A capability not listed is not offered."""
    password_reset: PasswordResetSettings = PasswordResetSettings()
    """How a reset is delivered and how long it stays visible in the DM."""
    protected: Protection = Protection()
    """Accounts the bot never changes from chat; their owners are sent to a human."""
    limits: Limits = Limits()
    """Per-employee limits on successful self-service actions."""
    catalogue: list[CatalogueEntry] = []
    """The groups employees may request, and who approves each."""
    nudges: NudgeSettings = NudgeSettings()
    """Scheduled password-expiry reminders in Slack."""
    access: AccessSettings = AccessSettings()
    """Group access requests: waiting, reminders, time-bound access, retries."""
    audit: AuditSettings = AuditSettings()
    """How long the audit trail is kept."""
    verification: VerificationSettings = VerificationSettings()
    """How the employee is verified before a reset, an unlock or an MFA reset."""
    notices: NoticeSettings = NoticeSettings()
    """The email and DM after every reset, unlock and MFA reset, with a "This wasn't me" link."""
    intents_file: Path | None = None
    """The intent examples (YAML) to route with instead of the packaged `config/intents.yaml`;
    a relative path is looked up beside this file first."""
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _one_default_zone(cls, data: Any) -> Any:
        """``organisation.timezone`` is the sweep's zone too unless ``nudges.timezone`` is set."""
        if not isinstance(data, Mapping):
            return data
        org, nudges = data.get("organisation"), data.get("nudges")
        zone = org.get("timezone") if isinstance(org, Mapping) else None
        if not isinstance(zone, str) or (nudges is not None and not isinstance(nudges, Mapping)):
            return data
        if nudges is None or "timezone" not in nudges:
            return {**data, "nudges": {**(nudges or {}), "timezone": zone}}
        return data

    @property
    def default_zone(self) -> ZoneInfo:
        """Where days and dates are counted for someone whose Slack profile has no zone."""
        return ZoneInfo(self.organisation.timezone or self.nudges.timezone)

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
    level, problems = log_level_override(
        environ, get_args(HelpdeskConfig.model_fields["log_level"].annotation))
    if level:
        data["log_level"] = level
    # Connector blocks are checked from the raw mapping, so their problems are reported in
    # the same run as every other (not after the rest has been fixed).
    problems += [f"{source}: {line}" for line in _connector_problems(data, kinds)]
    try:
        cfg: HelpdeskConfig | None = HelpdeskConfig.model_validate(data, context={"kinds": kinds})
    except ValidationError as exc:
        cfg = None
        for err in exc.errors():
            problems.append(f"{source}: {_loc(err['loc'])}: {describe(err, HelpdeskConfig)}")
    # The checks across sections run on what is valid, even when something else is not.
    parts = _Parts.of(cfg, data)
    problems += [f"{source}: {line}" for line in _cross_problems(parts)]
    if problems or cfg is None:
        raise ConfigError(problems)
    return cfg.model_copy(update={"source": Path(source)})


class _Parts:
    """What the checks across sections read: from the model, or the valid parts of the raw."""

    def __init__(
        self, connectors: Collection[str], capabilities: Mapping[str, str],
        catalogue: list[CatalogueEntry], protected: Protection,
        verification: VerificationSettings | None,
    ) -> None:
        self.connectors, self.capabilities = connectors, capabilities
        self.catalogue, self.protected = catalogue, protected
        self.verification = verification

    @classmethod
    def of(cls, cfg: HelpdeskConfig | None, data: Mapping[str, Any]) -> _Parts:
        if cfg is not None:
            return cls(cfg.connectors, cfg.capabilities, cfg.catalogue, cfg.protected,
                       cfg.verification)
        raw_connectors = data.get("connectors")
        connectors = list(raw_connectors) if isinstance(raw_connectors, Mapping) else []
        raw_caps = data.get("capabilities")
        capabilities = {
            str(k): v for k, v in (raw_caps.items() if isinstance(raw_caps, Mapping) else ())
            if isinstance(v, str)
        }
        catalogue: list[CatalogueEntry] = []
        raw_catalogue = data.get("catalogue")
        for entry in raw_catalogue if isinstance(raw_catalogue, list) else []:
            try:
                catalogue.append(CatalogueEntry.model_validate(entry))
            except ValidationError:
                catalogue.append(_UNCHECKED)  # reported above; keeps the indexes right
        try:
            protected = Protection.model_validate(data.get("protected") or {})
        except ValidationError:
            protected = Protection()
        try:
            verification: VerificationSettings | None = VerificationSettings.model_validate(
                data.get("verification") or {})
        except ValidationError:
            verification = None  # reported above
        return cls(connectors, capabilities, catalogue, protected, verification)


_UNCHECKED = CatalogueEntry(key="", display_name="", provider_group="", auto_approve=True)


def _cross_problems(parts: _Parts) -> list[str]:
    """Capabilities naming connectors that exist; catalogue entries that can be granted."""
    problems: list[str] = []
    for cap_name, provider in parts.capabilities.items():
        try:
            Capability.parse(cap_name)
        except ValueError as exc:
            problems.append(f"capabilities.{cap_name}: {exc}")
            continue
        if provider not in parts.connectors:
            problems.append(
                f"capabilities.{cap_name}: no connector named {provider!r} "
                f"(configured: {', '.join(sorted(parts.connectors)) or 'none'})"
            )
    if parts.verification is not None:
        verifier = parts.verification.verifier
        if verifier is not None and verifier not in parts.connectors:
            problems.append(f"verification.verifier: no connector named {verifier!r}")
        for i, item in enumerate(parts.verification.approval.approvers):
            try:
                approver_kind(item)
            except ValueError as exc:
                problems.append(f"verification.approval.approvers.{i}: {exc}")
    groups_provider = parts.capabilities.get(Capability.GROUPS.label)
    keys: set[str] = set()
    for i, entry in enumerate(parts.catalogue):
        if entry is _UNCHECKED:
            continue
        if entry.key in keys:
            problems.append(f"catalogue.{i}.key: duplicate key {entry.key!r}")
        keys.add(entry.key)
        group_provider = entry.provider or groups_provider
        if group_provider is None:
            problems.append(f"catalogue.{i}.provider: no provider and no 'groups' capability")
        elif group_provider not in parts.connectors:
            problems.append(f"catalogue.{i}.provider: no connector named {group_provider!r}")
        problems += [
            f"catalogue.{i}.{p}" for p in _approval_problems(entry, parts.protected)
        ]
    return problems


def _connector_problems(data: Mapping[str, Any], kinds: KindChecker | None) -> list[str]:
    """Problems inside each connector block of a known kind, located from ``connectors``."""
    blocks = data.get("connectors")
    if kinds is None or not isinstance(blocks, Mapping):
        return []
    problems: list[str] = []
    for name, block in blocks.items():
        if not isinstance(block, Mapping) or block.get("kind") not in kinds.names():
            continue  # the model's own validation reports a missing or unknown kind
        options = {k: v for k, v in block.items() if k != "kind"}
        for where, message in kinds.check(str(block["kind"]), options):
            problems.append(f"{_loc(('connectors', name, *where))}: {message}")
    return problems


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
