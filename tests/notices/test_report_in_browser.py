"""The "This wasn't me" page in a real headless Chromium: the link from the email opens the
page (which changes nothing), its button POSTs the report under the page's own CSP, and the
security channel is paged. Skipped, with the reason, where Chromium is not installed."""

from __future__ import annotations

import re
from pathlib import Path

from tests.notices.browser import headless_chromium
from tests.notices.world import ADA, SECURITY, notice_world, reset_through_push

EMAILED_LINK = re.compile(r"(https?://\S+/notices/report\?t=[\w.-]+)")


async def test_the_emailed_link_opens_in_chromium_and_its_button_pages_security(
    tmp_path: Path,
) -> None:
    async with headless_chromium() as browser, notice_world(tmp_path) as world:
        await reset_through_push(world)
        [mail] = world.smtp.mailbox.messages
        found = EMAILED_LINK.search(mail.text)
        assert found is not None, mail.text
        okta = world.okta.state
        await browser.open(found.group(1))
        assert await browser.title() == "Wasn't you?"
        shown = await browser.source()
        assert "a password reset was started for your Okta account" in shown
        # Opening the page (as a mail scanner or a link preview would) did nothing.
        assert okta.users[world.ada_id].sessions == 1
        assert world.state.messages_to(SECURITY) == []
        await browser.click("form button[type=submit]")
        await browser.wait_for_title("The security team has been alerted")
        assert "signed your account out everywhere" in await browser.source()
        assert okta.users[world.ada_id].sessions == 0
        alert = await world.state.wait_for_message(SECURITY, "wasn't them", timeout=10)
        assert f"<@{ADA}>" in alert.text
        # Back and submit again (a double click, a reload): refused, nothing more done.
        await browser.open(found.group(1))
        assert await browser.title() == "Already reported"
