"""A counted attack: someone holding only the employee's Slack session tries every change.

The real employee's phone denies or ignores the pushes; the approver denies the identity
checks. Every attempt is refused and audited, nothing is changed in the directory (no
write reaches the Okta sandbox), and each denied push reaches the security channel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actions.access import AccessService, NullAccessNotifier, StaticPeople
from actions.audit import Actor
from actions.errors import Refusal
from actions.providers import Providers
from actions.self_service import SelfService
from actions.verification.approval import ApprovalVerifier
from connectors.base import Capability
from store.db import Store
from tests.bot.helpers import RecordingNotifier, make_config
from tests.okta.conftest import contract_state, okta_rig
from tests.verification.test_push_flows import Phone

VICTIM = Actor("U0VICTIM01", "phone@example.com", "Phone Owner")
APPROVER = Actor("U0APPROVE1", "boss@example.com", "Boss")
ATTEMPTS = 6


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path}/attack.sqlite3")
    yield opened
    await opened.close()


async def test_slack_session_alone_changes_nothing(store: Store) -> None:
    state = contract_state()
    async with okta_rig(state) as rig:
        cfg = make_config(
            str(store.engine.url),
            connectors={"okta": {"kind": "memory"}},
            capabilities={c: "okta" for c in ("password_reset", "unlock", "mfa_reset")},
            limits={"password_reset": {"count": 100, "per": "1h"},
                    "unlock": {"count": 100, "per": "1h"},
                    "mfa_reset": {"count": 100, "per": "24h"}},
            verification={
                "password_reset": ["push", "approval"], "unlock": ["push", "approval"],
                "mfa_reset": ["approval"],
                "push": {"per_hour": 4, "wait": "1s", "poll_interval": 0.05},
                "approval": {"approvers": [APPROVER.slack_user_id]},
            },
        )
        okta = rig.connector()
        providers = Providers({"okta": okta}, {Capability.parse(k): v
                                               for k, v in cfg.capabilities.items()})
        sent = NullAccessNotifier()
        access = AccessService(cfg, providers, store, sent, StaticPeople())
        phone, security = Phone(state, answer="deny"), RecordingNotifier()
        service = SelfService(cfg, providers, store, security, prompter=phone,
                              approval=ApprovalVerifier(cfg, access))
        refusals: list[str] = []
        for attempt in range(ATTEMPTS):
            phone.answer = "deny" if attempt % 2 == 0 else "ignore"
            for change in (service.reset_password, service.unlock, service.reset_mfa):
                try:
                    await change(VICTIM)
                except Refusal as refused:
                    refusals.append(refused.code)
                else:
                    pytest.fail(f"{change.__name__} went through on attempt {attempt}")
                # The approver, who checked on a call, denies every identity check.
                for req in await store.access.requests_of(VICTIM.slack_user_id, limit=50):
                    if req.state == "pending":
                        await access.decide(APPROVER, req.id, approve=False,
                                            reason="it wasn't them on the call")
        assert len(refusals) == ATTEMPTS * 3
        writes = [e for e in rig.exchanges
                  if "/lifecycle/" in e.request.path or e.request.method == "DELETE"]
        assert writes == []  # 0 changes
        pushes = [e for e in rig.exchanges if e.request.path.endswith("/verify")]
        assert len(pushes) == 4  # per_hour: push fatigue is capped, then approval applies
        denied = (await store.list_audit(action="verify_push"))
        assert [r.result for r in denied].count("rejected") == 2
        assert [r.result for r in denied].count("timed_out") == 2
        assert len(security.notices) == 2
        assert all("Possible account takeover attempt" in n for n in security.notices)
        # Every attempt left a record: a push, an identity check asked, or a refusal.
        checks = await store.list_audit(action="verification_requested")
        denials = await store.list_audit(action="access_deny")
        assert len(checks) == len(denials) == ATTEMPTS * 3 - 4
        assert set(refusals) <= {"push_rejected", "push_timeout", "approval_requested"}
