"""README's layout section is the tree: its table, the connectors' files, a new kind's files."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from connectors.registry import KINDS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Folders at the top that are not the project's: tools' caches and what running it makes.
NOT_OURS = {"build", "var", "secrets"}


def _section(title: str) -> str:
    """The README's text from the heading ``title`` to the next heading of its level or above."""
    found = re.search(rf"^(#+) {re.escape(title)}\n", README, re.MULTILINE)
    assert found is not None, f"README has no section {title!r}"
    level = len(found.group(1))
    rest = README[found.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def _table() -> dict[str, str]:
    """The layout table: folder (``bot/``) -> its description."""
    rows = re.findall(r"^\| `([^`]+)` \| (.*) \|$", _section("Layout"), re.MULTILINE)
    assert rows, "README's layout table is empty"
    return dict(rows)


def _ours(path: Path) -> bool:
    return not (
        path.name.startswith((".", "_"))
        or path.name in NOT_OURS
        or path.name.endswith(".egg-info")
    )


def test_every_folder_in_the_table_exists() -> None:
    missing = [name for name in _table() if not (ROOT / name).is_dir()]
    assert not missing, f"README's layout table lists {missing}, which are not in the tree"


def test_every_package_and_module_at_the_top_is_in_the_table() -> None:
    listed = set(_table())
    packages = {
        f"{p.name}/" for p in ROOT.iterdir()
        if p.is_dir() and _ours(p) and any(p.glob("**/*.py"))
    }
    modules = {p.name for p in ROOT.glob("*.py") if _ours(p)}
    unlisted = sorted((packages | modules) - listed)
    assert not unlisted, f"not in README's layout table: {unlisted}"


def test_the_files_each_row_names_exist() -> None:
    """A name is its folder's (``base.py`` in ``connectors/``), else the root's or a sibling's."""
    table = _table()
    missing = []
    for folder, what in table.items():
        for name in re.findall(r"`([^`\s*]+(?:\.py|\.md|\.yaml|/))`", what):
            bases = [ROOT / folder, ROOT, *(ROOT / other for other in table)]
            if not any((base / name).exists() for base in bases):
                missing.append(f"{folder}{name}")
    assert not missing, f"README's layout table names files that do not exist: {missing}"


def _connector_listing() -> dict[str, set[str]]:
    """The code block under the table: ``connectors/`` and each kind's package -> its files."""
    block = re.search(r"```\nconnectors/\n(.*?)```", _section("Layout"), re.DOTALL)
    assert block is not None, "README's layout has no connectors/ listing"
    listing: dict[str, set[str]] = {"": set()}
    current = ""
    for line in block.group(1).splitlines():
        head = re.match(r"  (\w+)/\s", line)
        if head:
            current = head.group(1)
            listing[current] = set()
            line = line[head.end():]
        elif re.match(r"  \S", line):
            current = ""
        files = re.findall(r"\b\w+\.py\b", line if current else line.split("   ")[0])
        listing[current].update(files)
    return listing


def test_the_connectors_listing_is_every_file() -> None:
    listing = _connector_listing()
    listed_kinds = {k for k in listing if k}
    packages = {p.name for p in (ROOT / "connectors").iterdir() if (p / "__init__.py").is_file()}
    assert listed_kinds == packages, "the connectors/ listing's packages differ from the tree"
    for kind, files in listing.items():
        folder = ROOT / "connectors" / kind
        actual = {p.name for p in folder.glob("*.py") if p.name != "__init__.py"}
        assert files == actual, (
            f"connectors/{kind}: README lists {sorted(files - actual)} that are not there "
            f"and leaves out {sorted(actual - files)}"
        )


def _new_kind_paths() -> list[str]:
    section = _section("Adding an identity system")
    return re.findall(r"`((?:connectors|sandboxes|tests|docs)/[^`\s]*)`", section)


def test_the_new_kind_list_names_what_a_kind_is_made_of() -> None:
    paths = _new_kind_paths()
    assert "connectors/<kind>/" in paths and "connectors/registry.py" in paths
    for kind in sorted(set(KINDS) - {"memory"}):  # memory.py: the one module, the reference
        for path in paths:
            if "<kind>" in path and not path.startswith("sandboxes/"):  # fakes: SaaS only
                concrete = ROOT / path.replace("<kind>", kind)
                assert concrete.exists(), f"{path} for {kind}: {concrete} does not exist"
    for path in paths:
        if "<kind>" not in path:
            file, _, name = path.partition(".ConnectorContract")
            target = ROOT / (file + ".py" if _ == ".ConnectorContract" else file)
            assert target.exists(), f"{path} does not exist"
            if name or _:
                assert "class ConnectorContract" in target.read_text(encoding="utf-8")


def _contract_bases(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        base.id if isinstance(base, ast.Name) else ast.unparse(base)
        for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
        for base in node.bases
    }


@pytest.mark.parametrize("kind", sorted(k for k in KINDS if k != "memory"))
def test_each_kind_has_its_contract_test(kind: str) -> None:
    test = ROOT / "tests" / kind / f"test_{kind}_contract.py"
    assert test.is_file(), f"{kind} has no contract test at {test.relative_to(ROOT)}"
    assert "ConnectorContract" in _contract_bases(test), f"{test.name} runs no ConnectorContract"


def test_the_registry_is_one_line_per_kind() -> None:
    source = (ROOT / "connectors" / "registry.py").read_text(encoding="utf-8")
    for kind, module in KINDS.items():
        assert f'    "{kind}": "{module}",\n' in source


def test_the_generated_reference_documents_every_kind() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for kind in KINDS:
        assert f"### `kind: {kind}`" in reference
