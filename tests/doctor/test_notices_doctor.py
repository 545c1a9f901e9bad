"""``helpdesk doctor``'s notices area: a real SMTP server, the Okta sandbox's credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.configuration import validate_config
from bot.doctor_notices import notice_findings
from config.settings import HelpdeskConfig
from connectors.doctor import Finding, Status
from tests.notices.smtp_server import PASSWORD, USER, smtp_server
from tests.okta.conftest import TOKEN, TOKEN_ENV, contract_state, okta_rig

pytestmark = pytest.mark.filterwarnings("ignore:ssl_context is deprecated:DeprecationWarning")

READER_TOKEN = "reader-token-not-secret"


def _cfg(okta_url: str, ca: Path, notices: dict[str, Any]) -> HelpdeskConfig:
    raw = {
        "database_url": "sqlite:///unused.sqlite3",
        "connectors": {"okta": {"kind": "okta", "org_url": okta_url,
                                "api_token": {"env": TOKEN_ENV}, "ca_file": str(ca)}},
        "capabilities": {"password_reset": "okta", "unlock": "okta"},
        "notices": notices,
    }
    return validate_config(raw, "doctor", {})


def _by_check(rows: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in rows}


async def test_smtp_login_and_help_desk_token(tmp_path: Path) -> None:
    state = contract_state()
    with smtp_server(tmp_path) as smtp:
        async with okta_rig(state) as rig:
            notices = {"public_url": "https://helpdesk.example.com",
                       "smtp": {"host": smtp.host, "port": smtp.port, "username": USER,
                                "password": {"env": "SMTP_PW"}, "ca_file": str(smtp.ca_file)}}
            cfg = _cfg(rig.sandbox.url, rig.sandbox.ca_path, notices)
            env = {"SMTP_PW": PASSWORD, "SLACK_SIGNING_SECRET": "s" * 20}
            rows = _by_check(await notice_findings(cfg, env, {"okta": rig.connector()}))
            assert rows["email"].status is Status.OK, rows["email"]
            assert smtp.mailbox.logins == [USER] and smtp.mailbox.messages == []
            assert rows["report links"].status is Status.OK
            assert rows["link key"].status is Status.OK
            assert rows["factor verification (okta)"].status is Status.OK
            # Help Desk Administrator: ends sessions, may not suspend.
            contain = rows["containment (okta)"]
            assert contain.status is Status.WARN and "may not suspend" in contain.summary

            bad = {**env, "SMTP_PW": "wrong-password"}
            rows = _by_check(await notice_findings(cfg, bad, {"okta": rig.connector()}))
            assert rows["email"].status is Status.FAIL, rows["email"]
            assert "wrong-password" not in rows["email"].summary


async def test_a_token_that_cannot_verify_factors_is_a_problem(tmp_path: Path) -> None:
    state = contract_state(
        users=[{"login": "reader@example.com", "firstName": "Read", "lastName": "Only",
                "roles": ["REPORT_ADMIN"]}],
        api_tokens=[{"name": "reader", "value": READER_TOKEN, "owner": "reader@example.com"}],
    )
    async with okta_rig(state) as rig:
        cfg = _cfg(rig.sandbox.url, rig.sandbox.ca_path, {})
        rows = _by_check(await notice_findings(
            cfg, {}, {"okta": rig.connector(token=READER_TOKEN)}))
        verify = rows["factor verification (okta)"]
        assert verify.status is Status.FAIL and "REPORT_ADMIN" in verify.summary
        assert rows["email"].status is Status.WARN  # no SMTP host configured
        assert rows["report links"].status is Status.WARN  # no public_url
        assert rows["link key"].status is Status.WARN  # no secret to sign with
        ok = _by_check(await notice_findings(cfg, {}, {"okta": rig.connector(token=TOKEN)}))
        assert ok["factor verification (okta)"].status is Status.OK


async def test_a_connector_that_cannot_contain_is_a_warning() -> None:
    raw = {"database_url": "sqlite:///unused.sqlite3",
           "connectors": {"mem": {"kind": "memory"}},
           "capabilities": {"mfa_reset": "mem"}, "notices": {"enabled": False}}
    cfg = validate_config(raw, "doctor", {})

    class NoContain:
        name = "mem"
        from connectors.base import Capability

        capabilities = Capability.MFA_RESET

    rows = _by_check(await notice_findings(cfg, {}, {"mem": NoContain()}))  # type: ignore[dict-item]
    assert rows["notices"].status is Status.WARN
    assert rows["containment (mem)"].status is Status.WARN
