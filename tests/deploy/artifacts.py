"""The deployment files as data, for the tests beside this module."""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION: str = PYPROJECT["project"]["version"]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()


def tool(name: str) -> str | None:
    """A command-line tool from this virtual environment's [dev] extra, or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def manifests(folder: str | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object under deploy/kubernetes (or one of its folders), with its file."""
    base = KUBERNETES / folder if folder else KUBERNETES
    found = []
    for path in sorted(base.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((path, doc))
    return found


def one(kind: str, folder: str) -> dict[str, Any]:
    (obj,) = [doc for _, doc in manifests(folder) if doc["kind"] == kind]
    return obj


def mebibytes(quantity: str) -> float:
    """A Kubernetes memory quantity (``256Mi``, ``1Gi``, ``300M``) in MiB."""
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1e3 / 2**20, "M": 1e6 / 2**20,
             "G": 1e9 / 2**20}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", quantity)
    assert match, quantity
    return float(match[1]) * units.get(match[2] or "", 1 / 2**20)


def metric_table() -> dict[str, tuple[str, set[str]]]:
    """The metrics documented in docs/operations.md: name -> (type, label names)."""
    rows = re.findall(
        r"^\| `(helpdesk_[a-z_]+)` \| (counter|gauge|histogram) \|([^|]*)\|", OPERATIONS, re.M
    )
    return {name: (kind, set(re.findall(r"`([a-z_]+)`", labels))) for name, kind, labels in rows}


def secret_keys() -> set[str]:
    """The keys of the `helpdesk` Secret as docs/operations.md tells to create them."""
    return set(re.findall(r"--from-file=([a-z-]+)=", OPERATIONS))
