"""Forged, replayed, expired, other-key and malformed "This wasn't me" links: 0 accepted.

A link is the bot's signature over one change to one account; nothing but an untouched,
unexpired, first use of such a link contains an account, and a GET never does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from actions.notices import REPORT_ACTION, LinkSigner, ReportResult
from tests.attacks.helpers import VICTIM, Deployment, deployment, now
from tests.notices.world import NoticeWorld, notice_world, reset_through_push

LOOSE = {"password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]}


@pytest.fixture
async def dep(tmp_path: Path) -> AsyncIterator[Deployment]:
    async with deployment(tmp_path, verification=LOOSE) as d:
        yield d


async def _legit_token(dep: Deployment) -> str:
    await dep.service.reset_password(VICTIM)
    await dep.notices.drain()
    [(_, _, text)] = dep.out.mails
    return text.split("?t=", 1)[1].split()[0]


def _contained(dep: Deployment) -> list[str]:
    return [c for c in dep.directory.calls if c.startswith("contain:")]


def _forge(token: str, **changes: object) -> str:
    part, mac = token.split(".")
    claim = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    claim.update(changes)
    body = json.dumps(claim, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(body).rstrip(b"=").decode() + "." + mac


async def test_forged_links_are_refused(dep: Deployment) -> None:
    token = await _legit_token(dep)
    boss = await dep.directory.find_user_by_email("boss@example.com")
    forged = [
        _forge(token, user_id=boss.id),  # another user's account, same signature
        _forge(token, expires=int((now() + timedelta(days=365)).timestamp())),
        _forge(token, event="another-event"),  # a replay under a fresh event id
        LinkSigner(b"someone-elses-key-0123456789abcd").sign(
            dep.signer.claim(slack_user="U0ATTACK01", provider="mem", user_id=boss.id,
                             capability="password_reset", ttl=timedelta(days=1))),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    ]
    for bad in forged:
        assert (await dep.notices.report(bad)).result is ReportResult.INVALID, bad
    assert _contained(dep) == []
    refused = await dep.store.list_audit(action=REPORT_ACTION)
    assert [r.result for r in refused] == ["refused"] * len(forged)
    assert {r.detail["reason"] for r in refused} == {"invalid"}


async def test_malformed_links_are_refused(dep: Deployment) -> None:
    for bad in ("", "x", "a.b.c", "é.é", "A" * 5000, "..", "e30.", ".e30"):
        assert (await dep.notices.report(bad)).result is ReportResult.INVALID, bad
        assert (await dep.notices.page(bad)).result is ReportResult.INVALID
    assert _contained(dep) == []


async def test_expired_links_are_refused(dep: Deployment) -> None:
    past = LinkSigner(b"attack-suite-link-key-0123456789", clock=lambda: now() - timedelta(days=2))
    ada = await dep.directory.find_user_by_email("ada@example.com")
    old = past.sign(past.claim(slack_user=VICTIM.slack_user_id, provider="mem",
                               user_id=ada.id, capability="password_reset",
                               ttl=timedelta(days=1)))
    assert (await dep.notices.report(old)).result is ReportResult.EXPIRED
    assert _contained(dep) == []


async def test_a_link_works_once_and_a_get_never_acts(dep: Deployment) -> None:
    token = await _legit_token(dep)
    for _ in range(5):  # mail scanners, link previews
        assert (await dep.notices.page(token)).result is None
    assert _contained(dep) == []
    first = await dep.notices.report(token)
    assert first.result is ReportResult.CONTAINED
    calls = _contained(dep)
    for _ in range(3):
        assert (await dep.notices.report(token)).result is ReportResult.ALREADY
        assert (await dep.notices.page(token)).result is ReportResult.ALREADY
    assert _contained(dep) == calls  # replays did nothing more
    results = [r.result for r in await dep.store.list_audit(action=REPORT_ACTION)]
    assert results == ["contained", "refused", "refused", "refused"]


async def test_over_http_forged_expired_and_replayed_posts_are_refused(tmp_path: Path) -> None:
    async with notice_world(tmp_path) as world:
        await reset_through_push(world)
        token = world.report_link().split("t=", 1)[1]
        okta = world.okta.state
        url = f"{world.url}/notices/report"

        async def post(t: str) -> int:
            return (await world.http.post(url, data={"t": t})).status_code

        assert await post(_forge(token, user_id="00uSomeoneElse00000")) == 400
        assert await post("") == 400
        assert await post("A" * 10_000) == 400
        assert (await world.http.get(url, params={"t": _forge(token, expires=1)})).status_code \
            == 400
        assert okta.users[world.ada_id].sessions == 1  # nothing done so far
        assert await post(token) == 200
        assert await post(token) == 409
        # Slack's endpoint ignores the page header: a forged Slack request stays unsigned.
        bogus = await world.http.post(f"{world.url}/slack/events", content=b"{}",
                                      headers={"x-helpdesk-page": "POST"})
        assert bogus.status_code == 401
        await _assert_nothing_more(world)


async def _assert_nothing_more(world: NoticeWorld) -> None:
    rows = await world.surface.runtime.store.list_audit(action=REPORT_ACTION)
    assert [r.result for r in rows].count("partly") == 1
