"""Every environment variable the bot reads, in one list (the configuration reference prints it).

A variable read anywhere in the code is listed here; ``tests/config/test_reference.py``
finds the names the code reads and fails on one missing from this list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, where it applies and what it does."""

    name: str
    section: str
    text: str


ENVIRONMENT: tuple[Variable, ...] = (
    Variable(
        "HELPDESK_CONFIG", "Helpdesk",
        "Path of the `helpdesk.yaml` to load when no `--config` is given (default: the "
        "packaged `config/helpdesk.yaml`).",
    ),
    Variable(
        "HELPDESK_LOG_LEVEL", "Helpdesk",
        "`DEBUG`, `INFO`, `WARNING` or `ERROR`: overrides `log_level` from the file.",
    ),
    Variable(
        "HELPDESK_IN_CONTAINER", "Helpdesk",
        "`1` in the container image (the Dockerfile sets it): no terminal demo, and SQLite "
        "only on a mounted volume.",
    ),
    Variable(
        "HELPDESK_ALLOW_EPHEMERAL_SQLITE", "Helpdesk",
        "`1` lets the container image run on SQLite outside a volume (a throwaway trial: "
        "the audit trail is lost with the container).",
    ),
    Variable(
        "HELPDESK_DEMO_OKTA_TOKEN", "Helpdesk",
        "Set by `helpdesk demo` itself for its local Okta sandbox; never set it by hand.",
    ),
    Variable(
        "SLACK_BOT_TOKEN", "Slack",
        "The bot token (`xoxb-...`) named by the default `slack.bot_token`.",
    ),
    Variable(
        "SLACK_SIGNING_SECRET", "Slack",
        "The signing secret named by the default `slack.signing_secret`. Set both Slack "
        "variables or neither: neither runs the terminal demo, one alone is an error.",
    ),
    Variable(
        "SLACK_APP_TOKEN", "Slack",
        "The app-level token (`xapp-...`) for Socket Mode, read when `slack.app_token` is "
        "`{env: SLACK_APP_TOKEN}`; set without that key it is an error (it would be unused).",
    ),
    Variable(
        "DATABASE_URL", "Database",
        "The database when the file sets no `database_url` (`postgresql://...` for "
        "several replicas).",
    ),
    Variable(
        "DATABASE_PASSWORD_FILE", "Database",
        "A file holding the PostgreSQL password (a Docker or Kubernetes secret), so the "
        "URL carries none.",
    ),
    Variable(
        "OKTA_API_TOKEN", "Connectors",
        "The Okta API token named by the packaged configuration's `okta` connector; any "
        "`{env: NAME}` in a connector block names a variable of your choosing.",
    ),
    Variable(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "Tracing",
        "OTLP endpoint for traces; tracing is off unless this or the next is set.",
    ),
    Variable(
        "OTEL_EXPORTER_OTLP_ENDPOINT", "Tracing",
        "OTLP endpoint (traces go to its `/v1/traces`).",
    ),
    Variable("OTEL_SERVICE_NAME", "Tracing", "The service name on spans (default `helpdesk-bot`)."),
)

NAMES: frozenset[str] = frozenset(v.name for v in ENVIRONMENT)
