"""Over Slack: a directory that keeps a reset waiting gets one "busy" DM before the link."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.base import DirectoryUser, PasswordResetGrant, ResetDelivery
from connectors.waits import waiting
from tests.bot.test_slack_scenarios import ADA, Scenario, scenario

__all__ = ["scenario"]  # the fixture, shared with the scenarios


async def test_rate_limited_reset_says_busy_once_before_the_link(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = scenario
    real = s.directory.start_password_reset

    async def rate_limited(user: DirectoryUser, delivery: ResetDelivery) -> PasswordResetGrant:
        waiting(30.0)  # as a connector does before waiting out a 429
        await asyncio.sleep(0.2)
        return await real(user, delivery)

    monkeypatch.setattr(s.directory, "start_password_reset", rate_limited)
    await s.sender.dm(ADA, "I forgot my password")
    await s.state.wait_for_message(ADA, "Go ahead?")
    await s.sender.block_action(ADA, "hd_confirm.0")
    await s.state.wait_for_message(ADA, "password reset link")
    texts: list[Any] = s.texts_to(ADA)
    busy = [i for i, t in enumerate(texts) if "is busy right now" in t]
    link = [i for i, t in enumerate(texts) if "password reset link" in t]
    assert len(busy) == 1 and len(link) == 1 and busy[0] < link[0]


async def test_fast_reset_gets_no_busy_message(scenario: Scenario) -> None:
    s = scenario
    await s.sender.dm(ADA, "I forgot my password")
    await s.state.wait_for_message(ADA, "Go ahead?")
    await s.sender.block_action(ADA, "hd_confirm.0")
    await s.state.wait_for_message(ADA, "password reset link")
    assert not any("is busy" in t for t in s.texts_to(ADA))
