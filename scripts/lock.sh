#!/usr/bin/env bash
# `make lock`: pin the image's dependencies with hashes (requirements/), from pyproject.toml.
#   image.lock  what `helpdesk run` needs, with the otel extra (no dev, no demo): the image installs only this
#   build.lock  what builds the wheel (setuptools), so the build stage is pinned too
# Resolved for CPython 3.11 on Linux, the image's interpreter; each pin lists the hashes of all
# of its files on the index, so the same lock serves amd64 and arm64 builds.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# Resolve against the package index alone: a machine's local pip configuration (extra
# indexes, find-links folders, constraints) must not shape the lock.
export PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock"
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_CONSTRAINT
common=(--quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links
        --resolver=backtracking --upgrade)
$BIN/pip-compile "${common[@]}" --extra otel --output-file requirements/image.lock pyproject.toml
$BIN/pip-compile "${common[@]}" --allow-unsafe --only-build-deps --build-deps-for wheel \
  --output-file requirements/build.lock pyproject.toml
echo "requirements/image.lock: $(grep -c '==' requirements/image.lock) pins;" \
     "requirements/build.lock: $(grep -c '==' requirements/build.lock) pins"
