"""No import circle between ``config`` and the connectors: each side imports in a fresh process.

``config`` may use the interface's value types (``connectors.base``) but no
connector kind nor the registry; a connector kind never needs the application's
settings (``config.settings``).
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import config
import connectors.registry

ROOT = Path(__file__).resolve().parents[2]
VENDORS = ("connectors.okta", "connectors.ad", "connectors.onelogin")
FORBIDDEN_FOR_CONFIG = (*VENDORS, "connectors.registry")


def _modules_after_import(*modules: str) -> list[str]:
    """The modules loaded once ``modules`` are imported in a new interpreter."""
    code = f"import json, sys; import {', '.join(modules)}; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    loaded: list[str] = json.loads(proc.stdout)
    return loaded


def _package_modules(package: str) -> list[str]:
    """A package and every module in it."""
    path = Path(ROOT, *package.split("."))
    return [package] + [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(path)])]


CONFIG_MODULES = [f"config.{m.name}" for m in pkgutil.iter_modules(config.__path__)]


def test_every_kind_is_checked() -> None:
    assert set(VENDORS) | {"connectors.memory"} == set(connectors.registry.KINDS.values())
    assert "config.settings" in CONFIG_MODULES


@pytest.mark.parametrize("module", CONFIG_MODULES)
def test_config_imports_no_connector_kind_nor_the_registry(module: str) -> None:
    loaded = _modules_after_import(module)
    leaked = [
        m
        for m in loaded
        if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_FOR_CONFIG)
    ]
    assert leaked == [], f"{module} imports {leaked}"


@pytest.mark.parametrize("package", [*VENDORS, "connectors.memory", "connectors.registry"])
def test_connectors_do_not_import_the_settings(package: str) -> None:
    modules = _package_modules(package) if package in VENDORS else [package]
    assert "config.settings" not in _modules_after_import(*modules)
