"""The doctor's check families: each is one module and one registry line, run like the others."""

from __future__ import annotations

import pytest

import bot.doctor.run
from bot.doctor import connector_health, diagnose
from bot.doctor.family import DoctorContext, Family
from bot.doctor.registry import FAMILIES
from connectors.base import Capability
from connectors.doctor import Finding, Findings, Status
from tests.doctor.conftest import make_config


async def _outbox(ctx: DoctorContext) -> list[Finding]:
    out = Findings("outbox")
    out.ok("queue", f"{len(ctx.declared)} connector(s), groups offered: "
           f"{Capability.GROUPS in ctx.offered}")
    return out.rows


async def _broken(ctx: DoctorContext) -> list[Finding]:
    raise RuntimeError("the check itself is wrong")


def test_the_registry_lists_each_area_once_in_report_order() -> None:
    areas = [f.area for f in FAMILIES]
    assert areas == ["config", "verification", "slack", "audit", "notices"]
    assert len(set(areas)) == len(areas)
    assert [f.area for f in FAMILIES if f.always] == ["config"]


async def test_a_registered_family_is_run_labelled_and_skippable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = Family("outbox", "Slack outbox", _outbox)
    monkeypatch.setattr(bot.doctor.run, "FAMILIES", (*FAMILIES, extra))
    cfg = make_config({"mem": {"kind": "memory"}})
    report = await diagnose(cfg, {}, skip={"slack", "audit", "notices"})
    assert report.areas() == ["config", "verification", "outbox", "mem"]
    [row] = report.in_area("outbox")
    assert row.summary == "1 connector(s), groups offered: True"
    assert report.labels["outbox"] == "Slack outbox"
    skipped = await diagnose(cfg, {}, skip={"slack", "audit", "notices", "outbox"})
    assert "outbox" not in skipped.areas()
    health = await connector_health(cfg)
    assert health.areas() == ["config", "mem"]  # the admin view: connectors only


async def test_a_family_that_crashes_is_a_failed_finding_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        bot.doctor.run, "FAMILIES", (*FAMILIES, Family("outbox", "Slack outbox", _broken))
    )
    report = await diagnose(
        make_config({"mem": {"kind": "memory"}}), {}, skip={"slack", "audit", "notices"}
    )
    [row] = report.in_area("outbox")
    assert row.status is Status.FAIL and "RuntimeError: the check itself is wrong" in row.summary
    assert report.area_status("mem") is not Status.FAIL
