"""``helpdesk doctor`` end to end: exit codes 0/1/2, the table, ``--json``, no secret in sight."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import bot.doctor.cli
from actions.providers import Providers
from bot.cli import main
from bot.doctor import DoctorReport, connector_health, diagnose, render_table
from connectors.doctor import Finding, Status
from sandboxes.okta import OktaSandboxThread, load_seed
from sandboxes.slack import SlackState, run_slack_fake, run_slack_fake_in_thread
from store.db import Store
from store.models import AuditRecord
from tests.doctor.conftest import BOT_TOKEN, SIGNING_SECRET, SLACK_ENV, make_config, workspace
from tests.okta.conftest import contract_seed, okta_rig

OKTA_TOKEN = "contract-token-not-secret"
ROOT_TOKEN = "root-token-not-secret-x"


def _okta_state() -> Any:
    seed = contract_seed(
        api_tokens=[{"name": "root", "value": ROOT_TOKEN, "owner": "root@example.com"}]
    )
    return load_seed(seed)


@contextlib.contextmanager
def _deployment(tmp_path: Path, token: str = OKTA_TOKEN, **extra: Any) -> Iterator[Path]:
    """The Okta sandbox and the Slack fake running, and a config file pointing at both."""
    with (
        OktaSandboxThread(_okta_state()) as okta,
        run_slack_fake_in_thread(SlackState(workspace())) as slack,
    ):
        raw: dict[str, Any] = {
            "organisation": {"security_channel": "C0SECURITY"},
            "slack": {"api_base_url": slack.base_url},
            "database_url": f"sqlite:///{tmp_path}/missing/helpdesk.sqlite3",
            "connectors": {
                "okta": {
                    "kind": "okta",
                    "org_url": okta.url,
                    "api_token": {"env": "DOCTOR_OKTA_TOKEN"},
                    "ca_file": str(okta.ca_path),
                }
            },
            "capabilities": {
                c: "okta"
                for c in ("groups", "password_reset", "unlock", "mfa_reset", "password_expiry")
            },
            "protected": {"groups": ["payroll-admins"]},
            "catalogue": [
                {
                    "key": "figma",
                    "display_name": "Figma",
                    "provider_group": "figma-editors",
                    "approvers": ["U0ALICE001"],
                }
            ],
        }
        raw.update(extra)
        path = tmp_path / "helpdesk.yaml"
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        with pytest.MonkeyPatch.context() as mp:
            for name, value in {**SLACK_ENV, "DOCTOR_OKTA_TOKEN": token}.items():
                mp.setenv(name, value)
            yield path


def _secrets_absent(text: str) -> None:
    for secret in (OKTA_TOKEN, ROOT_TOKEN, BOT_TOKEN, SIGNING_SECRET):
        assert secret not in text


def test_least_privileged_deployment_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _deployment(tmp_path) as config:
        assert main(["doctor", "--config", str(config)]) == 0
        table = capsys.readouterr().out
        assert main(["doctor", "--config", str(config), "--strict"]) == 1
    assert "okta (Okta): " in table
    assert "slack (Slack): warn" in table
    assert table.rstrip().endswith("exit 0")
    assert "fix: compare OAuth & Permissions" in table
    _secrets_absent(table + capsys.readouterr().out)


def test_over_privileged_token_exits_1_with_the_least_roles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _deployment(tmp_path, token=ROOT_TOKEN) as config:
        assert main(["doctor", "--config", str(config), "--json", "--no-slack"]) == 1
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["exit_code"] == 1 and report["ok"] is False
    assert report["areas"]["okta"]["status"] == "fail"
    assert "slack" not in report["areas"]
    (over,) = [f for f in report["findings"] if f["check"] == "least privilege"]
    assert over["status"] == "fail"
    assert "SUPER_ADMIN" in over["summary"]
    assert "HELP_DESK_ADMIN" in over["fix"] and "REPORT_ADMIN" in over["fix"]
    _secrets_absent(out)


def test_under_privileged_slack_token_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with _deployment(tmp_path) as config:
        monkeypatch.delenv("SLACK_SIGNING_SECRET")
        assert main(["doctor", "--config", str(config), "--connector", "okta"]) == 1
    table = capsys.readouterr().out
    assert "FAIL  signing secret" in table
    assert "SLACK_SIGNING_SECRET is not set" in table


def test_could_not_run_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("connectors: {x: {kind: nope}}\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main(["doctor", "--config", str(bad)])
    assert exited.value.code == 2
    assert "config error" in capsys.readouterr().err
    with _deployment(tmp_path) as config:
        assert main(["doctor", "--config", str(config), "--connector", "ghost"]) == 2
        assert "no connector named ghost" in capsys.readouterr().err

        async def broken(*_: Any, **__: Any) -> DoctorReport:
            raise RuntimeError(f"boom with {OKTA_TOKEN}")

        monkeypatch.setattr(bot.doctor.cli, "diagnose", broken)
        assert main(["doctor", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "doctor could not run: RuntimeError" in err
    _secrets_absent(err)


async def test_connector_health_reuses_the_running_connectors() -> None:
    async with okta_rig(_okta_state()) as rig:
        cfg = make_config(
            {
                "okta": {
                    "kind": "okta",
                    "org_url": rig.sandbox.url,
                    "api_token": {"env": "T"},
                    "ca_file": str(rig.sandbox.ca_path),
                }
            },
            protected={"groups": ["payroll-admins"]},
        )
        providers = Providers.from_config(cfg, {"T": OKTA_TOKEN})
        try:
            report = await connector_health(cfg, providers)
            assert report.areas() == ["config", "okta"]
            assert report.area_status("okta") is Status.OK
            assert report.exit_code == 0
            # Borrowed connectors stay open for the bot.
            user = await providers.connectors["okta"].find_user_by_email("ada@example.com")
            assert user.email == "ada@example.com"
        finally:
            await providers.aclose()
    assert "okta (Okta): ok" in render_table(report)


async def test_a_connector_that_cannot_be_built_or_reached(tmp_path: Path) -> None:
    cfg = make_config(
        {
            "mem": {"kind": "memory"},
            "dc": {
                "kind": "ad",
                "urls": ["ldaps://127.0.0.1:1"],
                "base_dn": "DC=x",
                "bind_dn": "CN=svc,DC=x",
                "bind_password": {"env": "AD_PW"},
                "connect_timeout": 1,
                "retry_attempts": 1,
            },
            "other": {
                "kind": "ad",
                "urls": ["ldaps://127.0.0.1:1"],
                "base_dn": "DC=x",
                "bind_dn": "CN=svc,DC=x",
                "bind_password": {"env": "UNSET_PW"},
            },
        },
        capabilities={"unlock": "dc", "mfa_reset": "dc", "password_expiry": "other"},
    )
    report = await diagnose(cfg, {"AD_PW": "not-a-real-password"}, skip={"slack"})
    by_area: dict[str, list[Finding]] = {a: report.in_area(a) for a in report.areas()}
    (connect,) = [f for f in by_area["dc"] if f.check == "connect"]
    assert connect.status is Status.FAIL
    (creds,) = by_area["other"]
    assert creds.check == "credentials" and "UNSET_PW" in creds.summary
    config = {f.check: f for f in by_area["config"]}
    assert config["capability mfa_reset"].status is Status.WARN  # AD has no MFA
    assert config["connector mem"].status is Status.WARN  # serves nothing
    assert "not-a-real-password" not in render_table(report)


async def test_a_hanging_area_is_cut_off() -> None:
    async with okta_rig(_okta_state(), latency=2.0) as rig:
        cfg = make_config(
            {
                "okta": {
                    "kind": "okta",
                    "org_url": rig.sandbox.url,
                    "api_token": {"env": "T"},
                    "ca_file": str(rig.sandbox.ca_path),
                }
            }
        )
        report = await diagnose(cfg, {"T": OKTA_TOKEN}, skip={"slack"}, area_timeout=0.5)
    (row,) = report.in_area("okta")
    assert row.status is Status.FAIL and "did not finish within 0.5s" in row.summary


async def test_the_audit_trail_past_retention_is_reported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.sqlite3"
    store = await Store.open(url)
    now = datetime.now(UTC)
    for days in (1, 500, 800):
        await store.add_audit(
            AuditRecord(
                at=now - timedelta(days=days),
                correlation_id=f"c{days}",
                actor="U0ALICE001",
                actor_email="alice@example.com",
                action="unlock",
                provider="mem",
                target_user_id="u1",
                target="alice@example.com",
                result="success",
                detail={},
            )
        )
    await store.close()
    cfg = make_config({"mem": {"kind": "memory"}}, database_url=url)
    report = await diagnose(cfg, {}, skip={"slack"})
    found = {f.check: f for f in report.in_area("audit")}
    assert found["store"].status is Status.OK and found["store"].data["records"] == 3
    assert found["retention"].status is Status.WARN
    assert found["retention"].data["past_retention"] == 2


async def test_retention_shorter_than_a_limit_window_fails() -> None:
    cfg = make_config(
        {"mem": {"kind": "memory"}},
        audit={"retention": "2d"},
        limits={"mfa_reset": {"count": 1, "per": "7d"}},
    )
    report = await diagnose(cfg, {}, skip={"slack", "audit"})
    found = {f.check: f for f in report.in_area("config")}
    assert found["audit retention"].status is Status.FAIL
    assert report.exit_code == 1


async def test_slack_fake_and_json_shape() -> None:
    async with run_slack_fake(SlackState(workspace())) as fake:
        cfg = make_config({"mem": {"kind": "memory"}}, slack_url=fake.base_url)
        report = await diagnose(cfg, SLACK_ENV)
    data = report.to_dict()
    assert data["version"] == 1
    assert set(data["summary"]) == {"ok", "warn", "fail", "skip"}
    assert [a for a in data["areas"]] == [
        "config", "verification", "slack", "audit", "notices", "mem"
    ]
    assert all(
        set(f) == {"area", "check", "status", "summary", "fix", "details", "data"}
        for f in data["findings"]
    )
    json.dumps(data)  # plain JSON types only
