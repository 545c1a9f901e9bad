"""Every kind in the registry exports the four names, with the one shape the registry reads."""

from __future__ import annotations

import inspect

import pytest
from pydantic import BaseModel

from connectors.doctor import Needs, Status
from connectors.memory import MemoryDirectory
from connectors.registry import CONFIG_KINDS, KINDS, kind_label, load_kind


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_kind_exports_settings_build_label_diagnose(kind: str) -> None:
    module = load_kind(kind)
    assert issubclass(module.Settings, BaseModel)
    assert isinstance(module.LABEL, str) and kind_label(kind) == module.LABEL
    build = inspect.signature(module.build)
    assert list(build.parameters)[:3] == ["name", "settings", "environ"]
    assert all(
        p.default is not inspect.Parameter.empty for p in list(build.parameters.values())[3:]
    )
    assert inspect.iscoroutinefunction(module.diagnose)
    assert list(inspect.signature(module.diagnose).parameters) == ["connector", "settings", "needs"]


def test_labels() -> None:
    labels = {kind: kind_label(kind) for kind in KINDS}
    assert labels == {
        "okta": "Okta",
        "onelogin": "OneLogin",
        "ad": "Active Directory",
        "memory": "memory",
    }
    with pytest.raises(KeyError):
        kind_label("zorg")


def test_config_kinds_report_problems_inside_the_block() -> None:
    assert CONFIG_KINDS.names() == sorted(KINDS)
    assert CONFIG_KINDS.check("memory", {}) == []
    assert CONFIG_KINDS.check("memory", {"bogus": 1}) == [
        (("bogus",), "unknown key `bogus`; the keys here are groups, max_password_age_days, users")
    ]


async def test_memory_diagnose_is_the_reachability_probe() -> None:
    module = load_kind("memory")
    directory = MemoryDirectory("mem")
    rows = await module.diagnose(directory, module.Settings(), Needs())
    assert [(r.check, r.status) for r in rows] == [
        ("connect", Status.OK),
        ("least privilege", Status.SKIP),
    ]
    assert rows[1].summary == "no privilege model for memory connectors"


@pytest.mark.parametrize("kind", ["okta", "onelogin", "ad"])
async def test_vendor_diagnose_refuses_another_kind_of_connector(kind: str) -> None:
    module = load_kind(kind)
    with pytest.raises(TypeError):
        await module.diagnose(MemoryDirectory("mem"), None, Needs())
