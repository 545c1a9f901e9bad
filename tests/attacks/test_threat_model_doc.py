"""docs/threat-model.md points at tests that exist: every ``path::name`` it cites is defined."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITED = re.compile(r"`(tests/[\w/]+\.py)((?:::\w+)*)`")
CONTINUED = re.compile(r"`::(\w+)`")


def test_every_cited_test_exists() -> None:
    text = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
    cited: list[tuple[str, str]] = []
    for line in text.splitlines():
        last = None
        for found in CITED.finditer(line):
            last = found.group(1)
            names = [n for n in found.group(2).split("::") if n]
            cited += [(last, names[-1])] if names else [(last, "")]
        if last:
            cited += [(last, n) for n in CONTINUED.findall(line)]
    assert len(cited) >= 20
    for path, name in cited:
        source = (ROOT / path).read_text(encoding="utf-8")
        if name:
            assert re.search(rf"def {name}\b", source), f"{path}::{name} is not defined"
