"""The "This wasn't me" page: pure HTML builders, and the handler the HTTP endpoint calls.

A GET shows what the link is about and a button; only the button's POST reports
(mail scanners and link previews follow links, they must not lock anyone out).
Every page is self-contained (no script, no external resource), never cached,
never framed, and sends no referrer (the link's token is in the URL).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from urllib.parse import parse_qs

from actions.notices import ChangeNotices, ReportPage, ReportResult
from actions.notices.links import MAX_TOKEN
from actions.notices.service import CHANGE_WORDS
from bot.slack.server import PAGE_HEADER
from config.i18n import N_, accepted, current, speaking, t

# PAGE_HEADER: set by the HTTP endpoint (to the request's method) when it hands the work
# this page rather than a Slack request; removed from anything Slack sends.

HEADERS: dict[str, str] = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
}

_STYLE = ("body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em}"
          "button{font-size:1em;padding:.6em 1.2em;background:#b00020;color:#fff;border:0;"
          "border-radius:4px;cursor:pointer}")

def _doc(title: str, body: str) -> str:
    return (f"<!doctype html><html lang={current()}><head><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<meta name=robots content=noindex><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
            "</body></html>")


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def render(page: ReportPage, token: str = "") -> tuple[int, str]:
    """The status and HTML of ``page``; ``token`` goes into the confirm form (GET only)."""
    where = page.where_to_go
    if page.result is ReportResult.INVALID:
        return 400, _doc(t("This link isn't valid"), _p(t(
            "It may have been copied incompletely. Nothing was done. If a change to your "
            "account wasn't you, tell {where} at once.", where=where)))
    if page.result is ReportResult.EXPIRED:
        return 410, _doc(t("This link has expired"), _p(t(
            "Nothing was done. If a change to your account wasn't you, tell {where} at once.",
            where=where)))
    if page.result is ReportResult.ALREADY:
        return 409, _doc(t("Already reported"), _p(t(
            "This change was already reported and the security team was alerted then. "
            "If you need to add something, contact {where}.", where=where)))
    claim = page.claim
    assert claim is not None
    what = t(CHANGE_WORDS.get(claim.capability, claim.capability.replace("_", " ")))
    if page.result is None:
        button = html.escape(t("This wasn't me: lock my account"))
        form = (f"<form method=post><input type=hidden name=t value='{html.escape(token)}'>"
                f"<button type=submit>{button}</button></form>")
        return 200, _doc(t("Wasn't you?"), _p(t(
            "Through the IT helpdesk bot, {what} for your {label} account. If you didn't ask "
            "for it, someone may be using your Slack account.",
            what=what, label=page.system or claim.provider)) + _p(t(
            "Confirm below: the bot will lock the account down as far as it is allowed to "
            "and alert the security team at once.")) + form)
    if page.result is ReportResult.CONTAINED:
        return 200, _doc(t("Your account is locked down"), _p(_sentences(
            t("Thank you."), _done(page),
            t("The security team has been alerted and will contact you by phone or in person "
              "to get you back in."))))
    if page.result is ReportResult.PARTLY:
        return 200, _doc(t("The security team has been alerted"), _p(_sentences(
            t("Thank you."), _done(page),
            t("The rest has to be done by a person: the security team has been alerted with "
              "the steps and will contact you."))))
    return 200, _doc(t("The security team has been alerted"), _p(t(
        "Thank you. The bot could not lock the account itself; the security team has been "
        "alerted with the steps to take and will contact you. You can also call {where}.",
        where=where)))


def _sentences(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _done(page: ReportPage) -> str:
    words = {"clear_sessions": N_("signed your account out everywhere"),
             "suspend": N_("suspended your account"),
             "reset_factors": N_("removed its MFA factors")}
    parts = [t(words[s.value]) for s in page.done]
    if not parts:
        return ""
    done = (t("{names} and {last}", names=", ".join(parts[:-1]), last=parts[-1])
            if len(parts) > 1 else parts[0])
    return t("The bot has {done}.", done=done)


def _token(query: str, body: bytes) -> str:
    form = parse_qs(body.decode("utf-8", "replace")) if body else parse_qs(query)
    values = form.get("t") or []
    token = values[0] if values else ""
    return token if len(token) <= MAX_TOKEN else ""


async def handle(
    notices: ChangeNotices, method: str, query: str, body: bytes, languages: str = ""
) -> tuple[int, str, Mapping[str, str]]:
    """A request to the report page: GET shows it, POST reports; (status, html, headers).

    ``languages``: the browser's ``Accept-Language``; the page is in the first one with a
    catalogue, else English.
    """
    with speaking(*accepted(languages)):
        if method == "POST":
            token = _token("", body)
            status, text = render(await notices.report(token))
        else:
            token = _token(query, b"")
            status, text = render(await notices.page(token), token)
    return status, text, HEADERS


__all__ = ["HEADERS", "PAGE_HEADER", "handle", "render"]
