"""Fixtures for the doctor tests: the AD test DC, the Okta rig, a Slack fake, config builders.

The Samba DC and Okta rig fixtures are the AD and Okta suites' own (``tests/ad/conftest.py``,
``tests/okta/conftest.py``): one DC per session, skipped without Samba or root, required
under CI=true.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.configuration import validate_config
from bot.doctor.slack import manifest_scopes
from config.settings import HelpdeskConfig
from sandboxes.slack import RunningSlackFake, SlackState, Workspace, run_slack_fake
from tests.ad.conftest import ad, make_connector, samba_dc  # noqa: F401 (fixtures)
from tests.okta.conftest import rig  # noqa: F401 (fixture)

# Slack's signing secrets are 32 hex characters; these are test values.
SIGNING_SECRET = "0123456789abcdef0123456789abcdef"
BOT_TOKEN = "xoxb-1000000001-2000000002-DoctorTestBotToken01"
MANIFEST_SCOPES = manifest_scopes()
# Scopes with a harmless probe; the others need the X-OAuth-Scopes header to be seen.
PROBED_SCOPES = frozenset(
    {"chat:write", "im:write", "users:read", "users:read.email", "usergroups:read"}
)
SLACK_ENV = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}


def workspace(scopes: list[str] | None = None, **extra: Any) -> Workspace:
    """A workspace whose bot token holds ``scopes`` (default: exactly the manifest's)."""
    data: dict[str, Any] = {
        "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
        "tokens": [{"token": BOT_TOKEN, "scopes": scopes or MANIFEST_SCOPES}],
        "users": [{"id": "U0ALICE001", "name": "alice", "profile": {"email": "alice@example.com"}}],
        "channels": [
            {"id": "C0SECURITY", "name": "security-alerts", "members": ["U0HELPBOT1"]},
            {"id": "C0OUTSIDE1", "name": "outside", "members": ["U0ALICE001"]},
            {
                "id": "G0APPROVAL1",
                "name": "it-approvals",
                "is_private": True,
                "members": ["U0HELPBOT1"],
            },
            {"id": "G0SECRET01", "name": "secret", "is_private": True, "members": []},
            {"id": "C0ARCHIVED", "name": "old", "is_archived": True, "members": ["U0HELPBOT1"]},
        ],
    }
    data.update(extra)
    return Workspace.from_dict(data)


@pytest.fixture
async def slack() -> AsyncIterator[RunningSlackFake]:
    """The Slack fake, its bot token holding exactly the manifest's scopes."""
    async with run_slack_fake(SlackState(workspace())) as fake:
        yield fake


def make_config(
    connectors: dict[str, Any],
    *,
    capabilities: dict[str, str] | None = None,
    slack_url: str | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> HelpdeskConfig:
    """A validated configuration; every capability goes to the first connector by default."""
    first = next(iter(connectors))
    raw: dict[str, Any] = {
        "organisation": {"security_channel": "C0SECURITY"},
        "connectors": connectors,
        "capabilities": capabilities
        if capabilities is not None
        else {
            c: first for c in ("groups", "password_reset", "unlock", "mfa_reset", "password_expiry")
        },
        "protected": {"groups": ["it-admins"]},
        "catalogue": [],
        "database_url": "sqlite:///does-not-exist/helpdesk.sqlite3",
    }
    if slack_url is not None:
        raw["slack"] = {"api_base_url": slack_url}
    raw.update(overrides)
    return validate_config(raw, "test.yaml", environ or {})
