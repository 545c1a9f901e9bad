"""Catalogue and approval settings: what a valid entry is, and the problems reported."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.configuration import load_config, validate_config
from config.settings import ConfigError, approver_kind


def _cfg(*entries: dict[str, Any], **extra: Any) -> Any:
    raw = {"connectors": {"m": {"kind": "memory"}}, "capabilities": {"groups": "m"},
           "catalogue": list(entries), **extra}
    return validate_config(raw, "f.yaml", {})


def _entry(**kw: Any) -> dict[str, Any]:
    return {"key": "g", "display_name": "G", "provider_group": "g", **kw}


@pytest.mark.parametrize(
    ("entry", "kind"),
    [("U0ABC123", "user"), ("W0ABC123", "user"), ("S0GROUP1", "usergroup"),
     ("@it-approvers", "usergroup"), ("manager", "manager"), ("C0CHAN01", "channel"),
     ("#it-approvals", "channel")],
)
def test_approver_kinds(entry: str, kind: str) -> None:
    assert approver_kind(entry) == kind


def test_valid_entries_and_defaults() -> None:
    cfg = _cfg(
        _entry(approvers=["U0ANNA001", "U0BERT001"], approvals_required=2, max_duration="30d"),
        _entry(key="w", auto_approve=True),
    )
    assert cfg.catalogue[0].max_duration == timedelta(days=30)
    assert cfg.access.request_ttl == timedelta(days=3)
    assert _cfg(access={"durations": ["1h", "2d"], "remind_after": "4h"}).access.durations == [
        timedelta(hours=1), timedelta(days=2)
    ]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (_entry(approvers=["alice"]), "catalogue.0.approvers: Value error, 'alice' is not an"),
        (_entry(approvers=["#it-approvals"]), "catalogue.0.approvers: name who may decide"),
        (_entry(), "catalogue.0.approvers: name who may decide"),
        (_entry(approvers=["U0ANNA001"], approvals_required=2),
         "catalogue.0.approvals_required: 2 distinct approvals but only 1"),
        (_entry(provider_group="it-admins", auto_approve=True),
         "catalogue.0.provider_group: a protected group"),
        (_entry(approvers=["manager"], approvals_required=9), "catalogue.0.approvals_required"),
    ],
)
def test_problems(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        _cfg(entry)
    assert any(p.startswith(f"f.yaml: {problem}") for p in info.value.problems), (
        info.value.problems
    )


def test_packaged_configuration_is_valid() -> None:
    cfg = load_config(None, {})
    github = next(e for e in cfg.catalogue if e.key == "github-org")
    assert github.approvals_required == 2 and github.max_duration == timedelta(days=90)
