"""Containing an AD account reported as taken over, against the real Samba DC.

The seeded service account holds "Write userAccountControl" on the delegated OU (as the
README asks of a deployment that wants reports to disable accounts) and nothing on
``CN=Users``: there, disabling is refused and the report pages security with the steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ldap3.core.exceptions import LDAPSocketReceiveError

from actions.notices import ChangeNotices, LinkSigner
from actions.notices.service import ReportResult
from actions.providers import Providers
from bot.views.notices import render
from config.notices import NoticeSettings
from connectors.ad import containment
from connectors.ad.connector import ActiveDirectoryConnector
from connectors.ad.ldap import Conn, modify
from connectors.base import Capability, ContainStep, UserStatus
from connectors.errors import ConnectorError, PermissionDenied
from store.db import Store
from tests.ad.samba import USERS_CN, SambaDC
from tests.attacks.helpers import Recorder

pytestmark = pytest.mark.samba

ENABLED_NO_EXPIRY = 0x200 | 0x10000  # NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD
DISABLE = 0x2


def _uac(dc: SambaDC, dn: str) -> int:
    return int(dc.search_one(dn, "userAccountControl")["userAccountControl"][0])


async def test_disabling_sets_only_the_disable_bit_and_is_idempotent(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    person = await asyncio.to_thread(samba_dc.make_user, "taken", uac=ENABLED_NO_EXPIRY)
    user = await ad.find_user_by_email(person.email)
    assert Capability.CONTAIN in ad.capabilities
    assert ad.containment_steps() == {ContainStep.SUSPEND}
    before = await asyncio.to_thread(samba_dc.try_bind, person.email, person.password)
    assert before["description"] == "success", before
    # AD has no session to end: that step is not done, the account is disabled.
    steps = [ContainStep.CLEAR_SESSIONS, ContainStep.SUSPEND]
    assert await ad.contain(user, steps) == [ContainStep.SUSPEND]
    assert await asyncio.to_thread(_uac, samba_dc, person.dn) == ENABLED_NO_EXPIRY | DISABLE
    assert (await ad.get_user(user.id)).status is UserStatus.SUSPENDED
    after = await asyncio.to_thread(samba_dc.try_bind, person.email, person.password)
    assert after["description"] == "invalidCredentials", after  # data 533: disabled
    # Again: already disabled counts as done, and nothing else changes.
    assert await ad.contain(user, steps) == [ContainStep.SUSPEND]
    assert await asyncio.to_thread(_uac, samba_dc, person.dn) == ENABLED_NO_EXPIRY | DISABLE


async def test_without_the_delegated_right_disabling_is_permission_denied(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    person = await asyncio.to_thread(samba_dc.make_user, "outside", ou=USERS_CN)
    user = await ad.find_user_by_email(person.email)
    with pytest.raises(PermissionDenied):
        await ad.contain(user, [ContainStep.SUSPEND])
    assert await asyncio.to_thread(_uac, samba_dc, person.dn) == 0x200
    assert (await ad.get_user(user.id)).status is UserStatus.ACTIVE


@pytest.fixture
async def notices(
    tmp_path: Path, ad: ActiveDirectoryConnector
) -> AsyncIterator[tuple[ChangeNotices, Recorder]]:
    store = await Store.open(f"sqlite:///{tmp_path}/contain.sqlite3")
    providers = Providers({"ad": ad}, {Capability.PASSWORD_RESET: "ad"},
                          {"ad": "Active Directory"})
    out = Recorder()
    settings = NoticeSettings.model_validate({"public_url": "https://helpdesk.example.com"})
    signer = LinkSigner(b"ad-containment-link-key-01234567")
    try:
        yield ChangeNotices(settings, store, providers, out, signer, dms=out, mailer=out), out
    finally:
        await store.close()


def _token(notices: ChangeNotices, user_id: str) -> str:
    claim = notices.signer.claim(slack_user="U0ADA00001", provider="ad", user_id=user_id,
                                 capability="password_reset", ttl=timedelta(days=1))
    return notices.signer.sign(claim)


async def test_a_report_disables_the_account_and_leaves_the_sign_out_to_security(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector,
    notices: tuple[ChangeNotices, Recorder],
) -> None:
    service, out = notices
    person = await asyncio.to_thread(samba_dc.make_user, "reported")
    user = await ad.find_user_by_email(person.email)
    page = await service.report(_token(service, user.id))
    assert page.result is ReportResult.PARTLY and page.done == [ContainStep.SUSPEND]
    status, html = render(page)
    assert status == 200 and "The bot has suspended your account." in html
    assert "The rest has to be done by a person" in html
    assert await asyncio.to_thread(_uac, samba_dc, person.dn) == 0x200 | DISABLE
    [alert] = out.security
    assert "Done: suspended the account." in alert
    assert "Active Directory offers the bot no way to clear sessions" in alert
    assert f"sign {user.login} off the computers they use" in alert


async def test_a_report_the_service_account_may_not_act_on_pages_the_exact_steps(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector,
    notices: tuple[ChangeNotices, Recorder],
) -> None:
    service, out = notices
    person = await asyncio.to_thread(samba_dc.make_user, "unreachable", ou=USERS_CN)
    user = await ad.find_user_by_email(person.email)
    page = await service.report(_token(service, user.id))
    assert page.result is ReportResult.ALERTED and page.done == []
    status, html = render(page)
    assert status == 200 and "The security team has been alerted" in html
    assert "could not lock the account itself" in html
    assert await asyncio.to_thread(_uac, samba_dc, person.dn) == 0x200
    [alert] = out.security
    assert "the bot's service account may not suspend" in alert
    assert (f"`Get-ADUser -Filter \"UserPrincipalName -eq '{user.login}'\" | "
            "Disable-ADAccount`") in alert


async def test_a_lost_answer_to_the_disable_is_read_back(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = await asyncio.to_thread(samba_dc.make_user, "lost")
    user = await ad.find_user_by_email(person.email)

    def applied_then_cut(conn: Conn, dn: str, changes: Any) -> tuple[bool, dict[str, Any]]:
        modify(conn, dn, changes)  # the DC applies it...
        raise LDAPSocketReceiveError("connection reset")  # ...and its answer never arrives

    monkeypatch.setattr(containment, "modify", applied_then_cut)
    assert await ad.contain(user, [ContainStep.SUSPEND]) == [ContainStep.SUSPEND]
    assert await asyncio.to_thread(_uac, samba_dc, person.dn) == 0x200 | DISABLE
    # Cut before it reached the DC: still enabled, and the error says so.
    other = await asyncio.to_thread(samba_dc.make_user, "cut")
    target = await ad.find_user_by_email(other.email)

    def cut(conn: Conn, dn: str, changes: Any) -> tuple[bool, dict[str, Any]]:
        raise LDAPSocketReceiveError("connection reset")

    monkeypatch.setattr(containment, "modify", cut)
    with pytest.raises(ConnectorError, match="unknown"):
        await ad.contain(target, [ContainStep.SUSPEND])
    assert await asyncio.to_thread(_uac, samba_dc, other.dn) == 0x200
