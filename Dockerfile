# syntax=docker/dockerfile:1
# The helpdesk bot: `helpdesk run` as an unprivileged user, on Python 3.11 and Debian bookworm.
#
#   docker build -t helpdesk-bot:0.1.0 .
#   docker run -v helpdesk-data:/var/lib/helpdesk -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET \
#     -e OKTA_API_TOKEN -p 3000:3000 helpdesk-bot:0.1.0
#
# BASE is any Debian bookworm image with CPython 3.11 as `python3.11`: the official slim image
# by default. Where it cannot be pulled, scripts/image-smoke.sh builds an equivalent from
# Debian's own packages (python3.11, python3.11-venv) and passes it with --build-arg BASE=...
# Both stages use the same BASE, so the virtual environment's interpreter link holds.
ARG BASE=python:3.11-slim-bookworm

# -- build: pinned dependencies (wheels only: no compiler anywhere) and the bot's wheel ------
FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# A build venv holds pip and setuptools; the runtime venv gets the locked dependencies and the
# bot, and no pip. The locks change less often than the code: their layer is cached.
COPY requirements/ requirements/
RUN python3.11 -m venv /opt/build \
 && /opt/build/bin/pip install --no-cache-dir --require-hashes --no-deps \
      -r requirements/build.lock \
 && python3.11 -m venv --without-pip /opt/helpdesk \
 && /opt/build/bin/pip --python /opt/helpdesk/bin/python install --no-cache-dir \
      --require-hashes --no-deps --only-binary=:all: -r requirements/image.lock
# The packages `helpdesk run` imports; the demo's local servers (sandboxes/) stay out.
COPY pyproject.toml README.md LICENSE ./
COPY actions/ actions/
COPY bot/ bot/
COPY config/ config/
COPY connectors/ connectors/
COPY store/ store/
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation \
      --wheel-dir /tmp/dist . \
 && /opt/build/bin/pip --python /opt/helpdesk/bin/python install --no-cache-dir --no-deps \
      /tmp/dist/*.whl \
 && /opt/helpdesk/bin/helpdesk --version

# -- runtime --------------------------------------------------------------------------------
FROM ${BASE}
LABEL org.opencontainers.image.title="helpdesk-bot" \
      org.opencontainers.image.description="Slack helpdesk bot: self-service password reset, unlock, MFA reset, expiry and group access" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --gid 10001 helpdesk \
 && useradd --uid 10001 --gid helpdesk --home-dir /var/lib/helpdesk \
      --no-create-home --shell /usr/sbin/nologin helpdesk \
 && install -d -o helpdesk -g helpdesk -m 0750 /var/lib/helpdesk
COPY --from=build /opt/helpdesk /opt/helpdesk
# HELPDESK_IN_CONTAINER: `helpdesk run` refuses SQLite that is not on a mounted volume (the
# audit trail would go with the container) and never falls back to the terminal demo.
ENV PATH=/opt/helpdesk/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HELPDESK_IN_CONTAINER=1
# The packaged configuration's SQLite file (var/helpdesk.sqlite3) lands here: mount a volume.
WORKDIR /var/lib/helpdesk
USER 10001:10001
EXPOSE 3000
# /healthz answers after a round trip to the bot's work loop (503 when it is wedged). Both
# modes serve it on slack.port (3000): point HELPDESK_HEALTH_URL elsewhere if you change it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as r; r.urlopen(os.environ.get('HELPDESK_HEALTH_URL', 'http://127.0.0.1:3000/healthz'), timeout=4)"]
ENTRYPOINT ["helpdesk"]
CMD ["run"]
