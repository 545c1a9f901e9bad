"""The ``verification:`` settings (defaults, validation) and the doctor's verification area."""

from __future__ import annotations

from typing import Any

import pytest

from actions.verification.doctor import verification_findings
from bot.configuration import load_config, validate_config
from config.settings import ConfigError, HelpdeskConfig
from config.verification import Method
from connectors.base import Capability
from connectors.doctor import Status

ALL = Capability.PASSWORD_RESET | Capability.UNLOCK | Capability.MFA_RESET


def _cfg(**overrides: Any) -> HelpdeskConfig:
    raw: dict[str, Any] = {
        "connectors": {"mem": {"kind": "memory"}},
        "capabilities": {c: "mem" for c in ("password_reset", "unlock", "mfa_reset")},
        **overrides,
    }
    return validate_config(raw, "test.yaml", {})


def test_defaults_push_then_approval_and_mfa_by_approval() -> None:
    cfg = _cfg()
    assert cfg.verification.password_reset == [Method.PUSH, Method.APPROVAL]
    assert cfg.verification.unlock == [Method.PUSH, Method.APPROVAL]
    assert cfg.verification.mfa_reset == [Method.APPROVAL]
    assert cfg.verification.push.per_hour == 3
    assert cfg.verification.approval.approvers == ["manager"]
    shipped = load_config()
    assert shipped.verification.mfa_reset == [Method.APPROVAL]
    assert shipped.verification.password_reset == [Method.PUSH, Method.APPROVAL]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"mfa_reset": []}, "at least one method"),
        ({"unlock": ["push", "push"]}, "listed twice"),
        ({"password_reset": ["none", "push"]}, "can't be combined"),
        ({"password_reset": ["sms"]}, "verification.password_reset.0"),
        ({"verifier": "okta"}, "verification.verifier: no connector named 'okta'"),
        ({"approval": {"approvers": ["bob"]}}, "verification.approval.approvers.0"),
        ({"push": {"per_hour": 0}}, "verification.push.per_hour"),
    ],
)
def test_bad_blocks_are_refused(block: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _cfg(verification=block)
    assert message in str(err.value)


def _by_check(cfg: HelpdeskConfig, declared: dict[str, Capability | None]) -> dict[str, Status]:
    return {f.check: f.status for f in verification_findings(cfg, declared, ALL)}


MEMORY = Capability.PASSWORD_RESET | Capability.UNLOCK | Capability.MFA_RESET
PUSHES = MEMORY | Capability.PUSH_VERIFY


def test_none_is_a_problem_for_mfa_and_a_warning_elsewhere() -> None:
    none = {"password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]}
    found = _by_check(_cfg(verification=none), {"mem": PUSHES})
    assert found == {
        "password_reset verification": Status.WARN,
        "unlock verification": Status.WARN,
        "mfa_reset verification": Status.FAIL,
    }


def test_defaults_are_fine_where_the_connector_pushes() -> None:
    found = _by_check(_cfg(), {"mem": PUSHES})
    assert set(found.values()) == {Status.OK}


def test_push_without_a_pushing_connector_or_verifier_is_a_warning() -> None:
    found = _by_check(_cfg(), {"mem": MEMORY})
    assert found["password_reset verification"] is Status.WARN
    assert found["mfa_reset verification"] is Status.OK  # approval only
    two = _cfg(
        connectors={"mem": {"kind": "memory"}, "idp": {"kind": "memory"}},
        verification={"verifier": "idp"},
    )
    assert set(_by_check(two, {"mem": MEMORY, "idp": PUSHES}).values()) == {Status.OK}
    assert _by_check(two, {"mem": MEMORY, "idp": MEMORY})["verifier"] is Status.WARN


def test_approval_with_no_one_to_decide_is_a_warning() -> None:
    cfg = _cfg(verification={"approval": {"approvers": ["#it-approvals"]}})
    assert _by_check(cfg, {"mem": PUSHES})["mfa_reset verification"] is Status.WARN
