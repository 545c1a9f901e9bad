"""Someone holding only the employee's Slack session tries every change, many times.

The employee's phone denies or ignores the pushes and the approver denies the identity
checks: 0 directory writes, every attempt audited, the security channel told of every
denied push, and no notice (nothing changed). Where a change does get through (a
deployment that opted out of verification, a colluding approver), the owner hears of it
by email at both profile addresses, without the secret, and one click contains the account.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.errors import Refusal
from actions.notices import NOTICE_ACTION, REPORT_ACTION, ReportResult
from connectors.base import UserStatus
from tests.attacks.helpers import APPROVER, VICTIM, deployment

ROUNDS = 5


async def test_stolen_session_changes_nothing(tmp_path: Path) -> None:
    async with deployment(tmp_path) as dep:
        refusals: list[str] = []
        attempts = 0
        for round_ in range(ROUNDS):
            dep.phone.answer = "deny" if round_ % 2 == 0 else "ignore"
            for change in (dep.service.reset_password, dep.service.unlock, dep.service.reset_mfa):
                attempts += 1
                with pytest.raises(Refusal) as refused:
                    await change(VICTIM)
                refusals.append(refused.value.code)
                for req in await dep.store.access.requests_of(VICTIM.slack_user_id, limit=50):
                    if req.state == "pending":
                        await dep.access.decide(APPROVER, req.id, approve=False,
                                                reason="not them on the call")
        await dep.notices.drain()
        assert dep.writes() == []  # 0 changes
        assert set(refusals) <= {"push_rejected", "push_timeout", "approval_requested"}
        pushes = [r.result for r in await dep.store.list_audit(action="verify_push")]
        assert pushes.count("sent") == 3  # push.per_hour caps push fatigue
        assert pushes.count("rejected") == 2 and pushes.count("timed_out") == 1
        assert sum("Possible account takeover attempt" in n for n in dep.out.security) == 2
        # Every attempt left its record: a push sent, or an identity check asked.
        asked = await dep.store.list_audit(action="verification_requested")
        assert pushes.count("sent") + len(asked) == attempts
        assert len(await dep.store.list_audit(action="access_deny")) == len(asked)
        # Nothing changed, so nothing was announced.
        assert dep.out.mails == [] and dep.out.dms == []
        assert await dep.store.list_audit(action=NOTICE_ACTION) == []


async def test_a_change_that_gets_through_is_told_out_of_band_and_contained(
    tmp_path: Path,
) -> None:
    # The weakest deployment: verification switched off for resets (doctor: a warning).
    loose = {"password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["approval"],
             "approval": {"approvers": [APPROVER.slack_user_id]}}
    async with deployment(tmp_path, verification=loose) as dep:
        outcome = await dep.service.reset_password(VICTIM)  # the attacker, from the session
        secret = outcome.grant.secret.reveal()
        await dep.notices.drain()
        [(to, subject, text)] = dep.out.mails
        assert to == ["ada@example.com", "ada@personal.example.org"]
        assert secret not in text and secret not in subject
        assert all(secret not in dm for _, dm in dep.out.dms)
        token = text.split("?t=", 1)[1].split()[0]
        # The owner, reading their mail, reports it.
        page = await dep.notices.report(token)
        assert page.result is ReportResult.CONTAINED
        ada = await dep.directory.find_user_by_email("ada@example.com")
        assert ada.status is UserStatus.SUSPENDED
        assert dep.directory.accounts[ada.id].sessions == 0
        assert any("wasn't them" in n for n in dep.out.security)
        [report] = await dep.store.list_audit(action=REPORT_ACTION)
        assert report.result == "contained"
        # The session's next try meets a suspended account.
        with pytest.raises(Refusal) as refused:
            await dep.service.reset_password(VICTIM)
        assert refused.value.code == "account_inactive"


async def test_a_colluding_approver_is_not_stopped_but_the_owner_is_told(tmp_path: Path) -> None:
    async with deployment(tmp_path) as dep:
        with pytest.raises(Refusal):
            await dep.service.reset_mfa(VICTIM)
        [req] = await dep.store.access.requests_of(VICTIM.slack_user_id, limit=5)
        await dep.access.decide(APPROVER, req.id, approve=True)  # without checking anything
        _, removed = await dep.service.reset_mfa(VICTIM)
        assert removed == 2
        await dep.notices.drain()
        assert [to for to, _, _ in dep.out.mails] == [["ada@example.com",
                                                      "ada@personal.example.org"]]
        assert "every MFA factor was removed" in dep.out.mails[0][2]
