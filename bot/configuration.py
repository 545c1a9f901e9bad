"""The application's configuration: ``helpdesk.yaml`` validated, connector blocks included.

:mod:`config.settings` validates everything it knows; which connector kinds exist
and what each kind's block holds are known to :mod:`connectors.registry`. These
functions join the two, and every entry point (the CLI, the server, the demo, the
doctor, the benchmarks, the tests' helpers) loads its configuration through them,
so a bad connector block is reported with every other problem, in one
``ConfigError``, one line each.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from config import settings
from config.secrets import MissingSecret, SecretRef
from config.settings import HelpdeskConfig
from connectors.registry import CONFIG_KINDS, load_kind


def load_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> HelpdeskConfig:
    """Read and validate ``helpdesk.yaml`` (default: ``HELPDESK_CONFIG``, else the demo one)."""
    return settings.load_config(path, environ, kinds=CONFIG_KINDS)


def validate_config(
    raw: Mapping[str, Any], source: str = "<config>", environ: Mapping[str, str] | None = None
) -> HelpdeskConfig:
    """Validate a parsed mapping; every problem is collected before ``ConfigError`` is raised."""
    return settings.validate_config(raw, source, environ, kinds=CONFIG_KINDS)


def _refs_in(value: Any, where: str) -> list[tuple[str, SecretRef]]:
    """Every ``SecretRef`` inside a validated settings value, with its dotted location."""
    if isinstance(value, SecretRef):
        return [(where, value)]
    found: list[tuple[str, SecretRef]] = []
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found += _refs_in(getattr(value, name), f"{where}.{name}" if where else name)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            found += _refs_in(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found += _refs_in(item, f"{where}.{i}")
    return found


def secret_refs(cfg: HelpdeskConfig) -> list[tuple[str, SecretRef]]:
    """Every secret reference of a configuration, connector blocks included, by location."""
    found = [(w, r) for w, r in _refs_in(cfg, "") if not w.startswith("connectors.")]
    for name, block in cfg.connectors.items():
        settings = load_kind(block.kind).Settings.model_validate(block.options())
        found += _refs_in(settings, f"connectors.{name}")
    return found


def missing_secrets(
    cfg: HelpdeskConfig,
    environ: Mapping[str, str] | None = None,
    *,
    slack: bool | Collection[str] = True,
) -> list[str]:
    """One line per secret reference that cannot be read: ``where: why`` (never a value).

    ``slack=False`` leaves out the ``slack:`` block (a command that never calls Slack);
    a collection of names (``{"bot_token"}``) checks only those of it.
    """
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    for where, ref in secret_refs(cfg):
        if where.startswith("slack.") and not (
            slack is True or (slack and where.removeprefix("slack.") in slack)
        ):
            continue
        try:
            ref.resolve(environ)
        except MissingSecret as exc:
            problems.append(f"{where}: {exc}")
    return problems


def slack_credentials(
    cfg: HelpdeskConfig, environ: Mapping[str, str] | None = None
) -> tuple[bool, list[str]]:
    """Whether any Slack credential is set, and what is missing when some are.

    The bot token and the signing secret (and the app token, when ``slack.app_token``
    is configured) go together: all or none. ``SLACK_APP_TOKEN`` in the environment
    without ``slack.app_token`` in the file would be silently unused, so it is a problem.
    """
    environ = os.environ if environ is None else environ
    names = ["bot_token", "signing_secret"] + (["app_token"] if cfg.slack.app_token else [])
    present: list[str] = []
    missing: list[str] = []
    for name in names:
        ref: SecretRef = getattr(cfg.slack, name)
        try:
            ref.resolve(environ)
            present.append(name)
        except MissingSecret as exc:
            missing.append(f"slack.{name}: {exc}")
    stray = cfg.slack.app_token is None and bool(environ.get("SLACK_APP_TOKEN"))
    problems: list[str] = []
    if present and missing:
        given = ", ".join(f"slack.{n}" for n in present)
        problems = [f"{m} (half a Slack configuration: {given} is set)" for m in missing]
    if stray:
        problems.append(
            "SLACK_APP_TOKEN is set but slack.app_token is not configured: add "
            "`app_token: {env: SLACK_APP_TOKEN}` under `slack:` for Socket Mode, or unset it"
        )
    return bool(present) or stray, problems
