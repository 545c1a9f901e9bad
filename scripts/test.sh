#!/usr/bin/env bash
# `make test`: lint, type-check and the whole suite. Under CI=true every server
# the suite needs (PostgreSQL, Samba AD, headless Chromium) must be present: missing
# ones fail. Samba and Chromium install themselves from Debian's packages there.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

if [ "${CI:-}" = "true" ] || [ "${HELPDESK_INSTALL_SAMBA:-}" = "1" ]; then
  bash scripts/install-debs.sh samba
fi
if [ "${CI:-}" = "true" ] || [ "${HELPDESK_INSTALL_CHROMIUM:-}" = "1" ]; then
  bash scripts/install-debs.sh chromium
fi

echo "== ruff"
$BIN/ruff check .
echo "== mypy"
$BIN/mypy
echo "== pytest"
set +e
$BIN/python -m pytest "$@"
code=$?
set -e
# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
exit $code
