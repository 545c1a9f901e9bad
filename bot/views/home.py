"""The App Home tab in Block Kit: help, my requests, requests waiting for me, admin sections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.replies import Home, HomeSection
from bot.views.blocks import MAX_BLOCKS, fields_block, plain, reply_blocks
from config.i18n import t, tn


def home_view(home: Home) -> dict[str, Any]:
    """The App Home tab: what the bot can do, my requests, requests waiting for me.

    A ``notice`` (building the rest failed) comes right under the title. Extra
    sections (the IT admins' view) come last; they are compact and always shown,
    the requests above them are cut to keep the view within 100 blocks.
    """
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(t("IT helpdesk"), 150)}]
    if home.notice:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": home.notice[:3000]}})
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": home.help.text[:3000]}})
    if home.waiting:
        blocks += [{"type": "divider"}, {"type": "header", "text": plain(t("Waiting for me"), 150)}]
        for reply in home.waiting:
            blocks += reply_blocks(reply)
    if home.mine:
        blocks += [{"type": "divider"}, {"type": "header", "text": plain(t("My requests"), 150)}]
        for reply in home.mine:
            blocks += reply_blocks(reply)
    extra = [b for section in home.sections for b in home_section_blocks(section)]
    room = MAX_BLOCKS - min(len(extra), MAX_BLOCKS // 2)
    if len(blocks) > room:
        more = {"type": "context", "elements": [{"type": "mrkdwn", "text": t("(more not shown)")}]}
        blocks = [*blocks[: room - 1], more]
    return {"type": "home", "blocks": [*blocks, *extra][:MAX_BLOCKS]}


def _fit_lines(lines: Sequence[str], limit: int) -> list[str]:
    """The leading lines whose text, joined by newlines, fits in ``limit`` characters."""
    shown: list[str] = []
    used = 0
    for line in lines:
        cut = line[:limit]
        cost = len(cut) + (1 if shown else 0)
        if used + cost > limit:
            break
        shown.append(cut)
        used += cost
    return shown


def _more(count: int) -> dict[str, Any]:
    more = tn("and {count} more", "and {count} more", count)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": more}]}


def home_section_blocks(section: HomeSection) -> list[dict[str, Any]]:
    """An extra App Home section: its title, its lines in one block, its fields, "and N more".

    At most five blocks: lines that do not fit one section's 3000 characters are
    counted in "and N more" with those the section already left out.
    """
    blocks: list[dict[str, Any]] = [
        {"type": "divider"}, {"type": "header", "text": plain(section.title, 150)}
    ]
    shown = _fit_lines(section.lines, 3000)
    if shown:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(shown)}})
    elif section.empty and not section.fields:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": section.empty[:3000]}})
    if section.fields:
        blocks.append(fields_block(section.fields))
    more = section.more + len(section.lines) - len(shown)
    if more > 0:
        blocks.append(_more(more))
    return blocks
