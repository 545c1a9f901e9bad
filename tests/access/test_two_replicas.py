"""Two bot processes on one PostgreSQL: concurrent and duplicate clicks, and a crash mid-grant.

Everything is real but the directory and Slack, which are the Okta sandbox (over
HTTPS, through the real Okta connector) and the Slack fake, both in this process:
the sandbox's exchange hook counts the membership PUTs, so "one group add" is
checked where it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sandboxes.okta import DEMO_SEED, DEMO_TOKEN, OktaSandbox, load_seed, run_okta_sandbox
from sandboxes.okta.exchange import RecordedRequest, RecordedResponse
from sandboxes.slack import Message, SlackEventSender, SlackState, Workspace, run_slack_fake
from tests.access.replicas import Replica, running_replicas
from tests.conftest import fresh_pg_database

pytestmark = pytest.mark.postgres

SECRET = "two-replica-signing-secret-0001"
ADA, EDSGER, FRANCES = "U0ADA00001", "U0EDSGER01", "U0FRANCES1"
ANNA, BERT = "U0ANNA0001", "U0BERT0001"
APPROVERS = "S0APPROVERS"


def _workspace() -> Workspace:
    def user(uid: str, email: str) -> dict[str, Any]:
        return {"id": uid, "name": uid.lower(), "profile": {"email": email, "real_name": uid}}

    return Workspace.from_dict(
        {
            "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
            "users": [
                user(ADA, "ada.lovelace@example.com"),
                user(EDSGER, "edsger.dijkstra@example.com"),
                user(FRANCES, "frances.allen@example.com"),
                user(ANNA, "anna@example.com"),
                user(BERT, "bert@example.com"),
            ],
            "usergroups": [{"id": APPROVERS, "handle": "it-approvers", "users": [ANNA, BERT]}],
        }
    )


def _config(db_url: str, okta: OktaSandbox, slack_url: str) -> dict[str, Any]:
    def entry(key: str, name: str, required: int = 1) -> dict[str, Any]:
        return {"key": key, "display_name": name, "aliases": [key.split("-")[0]],
                "provider_group": key, "approvers": [APPROVERS], "approvals_required": required}

    return {
        "database_url": db_url,
        "log_level": "WARNING",
        "organisation": {"it_channel": "#it-help"},
        "slack": {"api_base_url": slack_url, "bot_token": {"env": "SLACK_BOT_TOKEN"},
                  "signing_secret": {"env": "SLACK_SIGNING_SECRET"}},
        "connectors": {"okta": {"kind": "okta", "org_url": okta.url,
                                "api_token": {"env": "OKTA_TOKEN"}, "ca_file": str(okta.ca_path)}},
        "capabilities": {"groups": "okta"},
        "catalogue": [
            entry("figma-editors", "Figma"),
            entry("vpn-users", "VPN", required=2),
            entry("github-org", "GitHub"),
        ],
        # A short lease so that a crashed replica's job is taken over within the test.
        "access": {"poll_interval": "1s", "lease": "3s", "retry_after": "1s"},
    }


@dataclass
class World:
    state: SlackState
    okta: OktaSandbox
    replicas: list[Replica]
    senders: list[SlackEventSender]
    puts: Counter[str]
    db_url: str


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    puts: Counter[str] = Counter()

    def count(request: RecordedRequest, response: RecordedResponse) -> None:
        if request.method == "PUT" and request.path.startswith("/api/v1/groups/"):
            puts[request.path] += 1

    state = SlackState(_workspace())
    async with contextlib.AsyncExitStack() as stack:
        db_url = await stack.enter_async_context(fresh_pg_database())
        okta = await stack.enter_async_context(
            run_okta_sandbox(load_seed(DEMO_SEED), on_exchange=count)
        )
        fake = await stack.enter_async_context(run_slack_fake(state))
        environ = {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET,
                   "OKTA_TOKEN": DEMO_TOKEN}
        replicas = await stack.enter_async_context(
            running_replicas(2, _config(db_url, okta, fake.base_url), environ, tmp_path)
        )
        senders = [
            await stack.enter_async_context(SlackEventSender(SECRET, r.events_url, state=state))
            for r in replicas
        ]
        yield World(state, okta, replicas, senders, puts, db_url)


async def _request(w: World, requester: str, text: str, via: int) -> None:
    """The employee asks one replica; the confirmation click goes to the other."""
    before = len(w.state.messages_to(requester))
    await w.senders[via].dm(requester, text)
    prompt = await w.state.wait_for_message(requester, "Request access to", after=before,
                                            timeout=15)
    await w.senders[1 - via].block_action(requester, "hd_access_request.0", message=prompt)
    await w.state.wait_for(lambda st: "Sent: your request" in prompt.visible_text or None,
                           timeout=15)


def _replica_of(w: World, owner: str) -> Replica:
    """The replica whose job runner is ``owner`` (``host:pid:random``, store.leases)."""
    pid = int(owner.split(":")[-2])
    found = [r for r in w.replicas if r.process.pid == pid]
    assert len(found) == 1, (owner, [r.process.pid for r in w.replicas])
    return found[0]


def _cards(w: World, approver: str) -> list[Message]:
    return [m for m in w.state.messages_to(approver) if "Access request" in m.text]


async def test_two_replicas_concurrent_clicks_and_a_crash(world: World) -> None:
    w = world
    asks = [(ADA, "I need Figma"), (EDSGER, "I need figma"), (EDSGER, "I need VPN"),
            (FRANCES, "I need vpn access")]
    for i, (who, text) in enumerate(asks):
        await _request(w, who, text, via=i % 2)
    await w.state.wait_for(
        lambda st: (len(_cards(w, ANNA)) == 4 and len(_cards(w, BERT)) == 4) or None, timeout=15
    )
    # Every card is clicked by both approvers on both replicas at once: two approvers at
    # the same time, double clicks, and the two replicas racing on the same request.
    clicks = []
    for approver in (ANNA, BERT):
        for card in _cards(w, approver):
            for sender in w.senders:
                clicks.append(sender.block_action(approver, "hd_access_approve.0", message=card))
    results = await asyncio.gather(*clicks)
    assert all(r.status_code == 200 and r.acked_in_time for r in results)
    for who, count in ((ADA, 1), (EDSGER, 2), (FRANCES, 1)):
        await w.state.wait_for(
            lambda st, who=who, count=count: len(  # type: ignore[misc]
                [m for m in st.messages_to(who) if "You're now a member" in m.text]) == count
            or None,
            timeout=20,
        )
    assert sorted(w.puts.values()) == [1, 1, 1, 1], w.puts
    conn = await asyncpg.connect(w.db_url)
    try:
        grants = await conn.fetch(
            "SELECT result, detail FROM audit_records WHERE action = 'access_grant'"
        )
        assert [g["result"] for g in grants] == ["success"] * 4
        states = await conn.fetch("SELECT state, approvals FROM access_requests")
        assert sorted((s["state"], s["approvals"]) for s in states) == [
            ("fulfilled", 1), ("fulfilled", 1), ("fulfilled", 2), ("fulfilled", 2)
        ]
        # Late clickers were told who decided (ephemeral), and nothing else happened.
        late = [e for u in (ANNA, BERT) for e in w.state.ephemerals_to(u)]
        assert late and all("already" in e.text for e in late)

        # A crash between approval and group add: the replica that decided holds the
        # fulfilment job (written claimed with the decision) and dies while the directory
        # is slow; the other finishes it once the lease runs out. Whichever replica's inbox
        # took the click, the one killed is the job's owner (its pid is in the owner token).
        await _request(w, FRANCES, "I need github", via=1)
        card = await w.state.wait_for(
            lambda st: next((m for m in _cards(w, ANNA) if "GitHub" in m.text), None)
        )
        w.okta.runtime.faults.hang_next(seconds=6, path="/api/v1/users/*", method="GET")
        await w.senders[0].block_action(ANNA, "hd_access_approve.0", message=card)
        for _ in range(200):
            owner = await conn.fetchval(
                "SELECT owner FROM jobs WHERE kind = 'fulfil' AND state = 'queued'"
            )
            if owner:
                break
            await asyncio.sleep(0.02)
        assert owner, "no replica took the fulfilment job"
        _replica_of(w, owner).kill()
        await w.state.wait_for(
            lambda st: len([m for m in st.messages_to(FRANCES)
                            if "You're now a member of *GitHub*" in m.text]) == 1 or None,
            timeout=20,
        )
        job = await conn.fetchrow("SELECT state, attempts, owner FROM jobs "
                                  "WHERE kind = 'fulfil' ORDER BY id DESC LIMIT 1")
        assert job["state"] == "done" and job["attempts"] == 2 and job["owner"] != owner
        assert sorted(w.puts.values()) == [1, 1, 1, 1, 1], w.puts
        github = await conn.fetchval(
            "SELECT count(*) FROM audit_records WHERE action = 'access_grant' "
            "AND detail::text LIKE '%github-org%'"
        )
        assert github == 1
    finally:
        await conn.close()
