#!/usr/bin/env bash
# `make image-smoke`: build the image from the Dockerfile and run it once, for real.
#
# Base images cannot be pulled everywhere (this project's CI machines reach package registries
# only), so the base is made here from Debian's own packages: a debootstrap'ed bookworm with
# python3.11 and python3.11-venv (bookworm's Python is 3.11), imported into podman and passed
# to the unchanged Dockerfile as --build-arg BASE=... Where `python:3.11-slim-bookworm` can be
# pulled, `docker build .` builds the same layers on it.
#
# Then scripts/image_smoke.py runs the image against the local PostgreSQL: a fresh database,
# `helpdesk migrate`, the SQLite refusal, `helpdesk run` answering /healthz, /readyz and
# /metrics, signed Slack requests and a DM answered through a local Slack fake, idle memory,
# the image's HEALTHCHECK, a clean stop; then the same in Socket Mode.
#
# Needs root, podman and debootstrap (apt-get install podman debootstrap). Settings:
#   SMOKE_CACHE      where the base rootfs is made (default /var/tmp/helpdesk-image-smoke)
#   SMOKE_PG         PostgreSQL admin URL (default postgresql://postgres@127.0.0.1:5432/postgres)
#   DEBIAN_MIRROR    default: the first Debian mirror apt is configured with
#   SMOKE_REBUILD_BASE=1  make the base again; SMOKE_KEEP=1 keep the database and container
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
BASE_IMAGE=localhost/helpdesk-base:bookworm-py311
VERSION=$(.venv/bin/python -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
IMAGE=localhost/helpdesk-bot:$VERSION
CACHE=${SMOKE_CACHE:-/var/tmp/helpdesk-image-smoke}

step() { printf '== %s (%ds)\n' "$1" $((SECONDS - start)); }
need() { command -v "$1" >/dev/null 2>&1 || { echo "image-smoke: $1 not found: $2" >&2; exit 2; }; }

[ "$(id -u)" = 0 ] || { echo "image-smoke: run as root (podman rootful, debootstrap)" >&2; exit 2; }
need podman "apt-get install podman"
need debootstrap "apt-get install debootstrap"

mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local found
  found=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
            | grep -v security | grep -oE 'https?://[^ ]+/debian/?' | head -1 || true)
  echo "${found:-http://deb.debian.org/debian}"
}

if [ "${SMOKE_REBUILD_BASE:-}" = 1 ] || ! podman image exists "$BASE_IMAGE"; then
  step "base: debootstrap bookworm from $(mirror)"
  rm -rf "$CACHE/rootfs" && mkdir -p "$CACHE"
  # python3-distutils provides the virtual python3.11-distutils that python3.11-venv needs;
  # debootstrap's resolver does not follow virtual packages.
  debootstrap --variant=minbase \
    --include=python3.11,python3.11-venv,python3-distutils,python3-pip-whl,python3-setuptools-whl,ca-certificates \
    bookworm "$CACHE/rootfs" "$(mirror)" > "$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  rm -rf "$CACHE/rootfs/var/cache/apt/archives/"*.deb "$CACHE/rootfs/var/lib/apt/lists/"*
  step "base: import as $BASE_IMAGE"
  tar -C "$CACHE/rootfs" -c . | podman import --quiet - "$BASE_IMAGE" >/dev/null
  rm -rf "$CACHE/rootfs"
else
  step "base: $BASE_IMAGE (cached; SMOKE_REBUILD_BASE=1 remakes it)"
fi

# The container runtime as this host allows it. Where the cgroup layout is hybrid (v1
# controllers beside a v2 mount) crun refuses to start, and without CAP_SYS_RESOURCE podman's
# default ulimits cannot be set: runc on cgroupfs, with limits no higher than ours, works there.
PODMAN=(podman)
RUN_FLAGS=()
if ! podman run --rm --network host "$BASE_IMAGE" true >/dev/null 2>&1; then
  need runc "apt-get install runc (crun cannot run containers on this host)"
  PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)
  RUN_FLAGS=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
  "${PODMAN[@]}" run --rm "${RUN_FLAGS[@]}" --network host "$BASE_IMAGE" true \
    || { echo "image-smoke: cannot run a container on this host (see above)" >&2; exit 2; }
  echo "   (containers run with: ${PODMAN[*]} run ${RUN_FLAGS[*]})"
fi

# Behind a TLS-inspecting proxy pip needs the host's CA bundle: mounted for the RUN steps
# only (build volumes are never part of a layer), through a pip.conf that names it.
build_mounts=()
ca=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}
if [ -n "$ca" ] && [ -f "$ca" ]; then
  mkdir -p "$CACHE"
  printf '[global]\ncert = /run/host-ca.crt\n' > "$CACHE/pip.conf"
  build_mounts=(-v "$ca:/run/host-ca.crt:ro" -v "$CACHE/pip.conf:/etc/pip.conf:ro")
fi

step "build: $IMAGE from Dockerfile with BASE=$BASE_IMAGE"
# --format docker: the OCI image format has no HEALTHCHECK.
"${PODMAN[@]}" build --quiet --format docker --network host --layers "${RUN_FLAGS[@]}" \
  "${build_mounts[@]}" --build-arg "BASE=$BASE_IMAGE" -t "$IMAGE" -f Dockerfile . >/dev/null
podman image inspect "$IMAGE" --format \
  'image: {{.Size}} bytes, user {{.Config.User}}, entrypoint {{.Config.Entrypoint}} {{.Config.Cmd}}'

step "run: scripts/image_smoke.py"
keep=()
[ "${SMOKE_KEEP:-}" = 1 ] && keep=(--keep)
.venv/bin/python scripts/image_smoke.py --image "$IMAGE" --engine "${PODMAN[*]}" \
  --run-flags "${RUN_FLAGS[*]}" --pg "${SMOKE_PG:-postgresql://postgres@127.0.0.1:5432/postgres}" \
  "${keep[@]}"
step "image-smoke passed"
