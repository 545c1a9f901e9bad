"""The application's configuration: ``helpdesk.yaml`` validated, connector blocks included.

:mod:`config.settings` validates everything it knows; which connector kinds exist
and what each kind's block holds are known to :mod:`connectors.registry`. These
functions join the two, and every entry point (the CLI, the server, the demo, the
doctor, the benchmarks, the tests' helpers) loads its configuration through them,
so a bad connector block is reported with every other problem, in one
``ConfigError``, one line each.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config import settings
from config.settings import HelpdeskConfig
from connectors.registry import CONFIG_KINDS


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
