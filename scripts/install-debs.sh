#!/usr/bin/env bash
# Install the Debian packages of the real servers the tests start themselves:
#   install-debs.sh samba      Samba 4 AD domain controller (the Active Directory tests)
#   install-debs.sh chromium   headless Chromium and its driver (the report page in a browser)
#
# Idempotent and quiet: does nothing when the packages and their command are already
# there, refreshes the apt index only when it is missing or stale.
# Debian/Ubuntu only; needs root (or sudo).
set -euo pipefail

case "${1:-}" in
    samba)
        PACKAGES=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind)
        COMMAND=samba-tool ;;
    chromium)
        PACKAGES=(chromium chromium-driver)
        COMMAND=chromedriver ;;
    *)
        echo "usage: install-debs.sh samba|chromium" >&2
        exit 2 ;;
esac
NAME="install-debs $1"

all_installed() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || return 1
    done
    command -v "$COMMAND" >/dev/null 2>&1
}

if all_installed; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "$NAME: apt-get not found; install ${PACKAGES[*]} by hand" >&2
    exit 2
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# Run quietly; show apt's own output only when it fails.
quiet() {
    if ! "$@" >"$log" 2>&1; then
        echo "$NAME: '$*' failed:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}

# Refresh the package index when it was never fetched or is older than a day.
lists=/var/lib/apt/lists
if [ -z "$(find "$lists" -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
    quiet $SUDO apt-get update -qq
fi

quiet $SUDO env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"

# Samba's packages start a file server we do not want; the tests run their own DC.
if [ "$1" = samba ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now smbd nmbd winbind samba-ad-dc >/dev/null 2>&1 || true
fi

command -v "$COMMAND" >/dev/null 2>&1 || { echo "$NAME: $COMMAND missing" >&2; exit 1; }
echo "$NAME: ${PACKAGES[*]} installed"
