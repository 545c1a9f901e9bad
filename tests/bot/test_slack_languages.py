"""Answers in the employee's language, end to end over the signed HTTP surface.

The language of the message first, else the person's Slack locale (asked of Slack with
``include_locale``), else the organisation's; an approver's card in the approver's own
locale, whatever the requester's language.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from store.slack_directory import SlackDirectoryStore
from tests.bot.slack_world import BOT_USER, ORGANISATION, SlackWorld, acme, slack_user, slack_world

ADA, LOCKED, ANNA = "U0ADA00001", "U0LOCKED01", "U0ANNA0001"
APPROVALS = "C0APPROVAL1"

CATALOGUE: list[dict[str, Any]] = [
    {"key": "figma-editors", "display_name": "Figma (editor)", "aliases": ["figma"],
     "provider_group": "figma-editors", "approvers": [ANNA, "#it-approvals"]},
]


@pytest.fixture
async def world(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[SlackWorld]:
    """``request.param`` (indirect parametrisation): the organisation's language."""
    workspace = acme(
        [slack_user(ADA, "ada@example.com", locale="en-US"),
         slack_user(LOCKED, "locked@example.com", locale="es-ES"),
         slack_user(ANNA, "anna@example.com", locale="de-DE")],
        channels=[{"id": APPROVALS, "name": "it-approvals", "members": [BOT_USER, ANNA]}],
    )
    organisation = {**ORGANISATION, "language": getattr(request, "param", "en")}
    async with slack_world(
        SlackWorld, tmp_path, workspace, organisation=organisation, catalogue=CATALOGUE
    ) as world:
        yield world


async def test_a_spanish_dm_gets_a_spanish_reset_offer_and_link(world: SlackWorld) -> None:
    """Ada's Slack is in English; she writes in Spanish, so the whole flow answers in Spanish."""
    w = world
    await w.sender.dm(ADA, "se me olvidó la contraseña otra vez")
    offer = await w.state.wait_for_message(ADA, "Puedo restablecer tu contraseña de mem")
    assert "¿Sigo?" in offer.visible_text
    labels = [e["text"]["text"] for b in offer.blocks or () if b["type"] == "actions"
              for e in b["elements"]]
    assert labels == ["Restablecer mi contraseña", "Cancelar"]
    # The confirmation is a click (no words): it answers in the language the offer was in.
    await w.sender.block_action(ADA, "hd_confirm.0")
    link = await w.state.wait_for_message(ADA, "Aquí tienes tu enlace de un solo uso")
    assert "Lo borraré de este chat el" in link.visible_text
    # An English message still gets English.
    await w.sender.dm(ADA, "thanks!")
    await w.state.wait_for_message(ADA, "You're welcome!")


async def test_the_slack_locale_decides_when_words_do_not(world: SlackWorld) -> None:
    """A command says nothing of a language: the profile's locale (include_locale) decides."""
    w = world
    await w.sender.slash_command(LOCKED, "/helpdesk", "unlock")
    done = await w.state.wait_for_message(LOCKED, "Tu cuenta de mem está desbloqueada")
    assert "puedo restablecerla" in done.visible_text
    stored = await SlackDirectoryStore(w.surface.runtime.store.engine).profile(LOCKED)
    assert stored is not None and stored.locale == "es-ES"
    # A profile change (whose event carries no locale) keeps the stored one.
    await w.sender.user_change(LOCKED)
    await asyncio.sleep(0.5)
    after = await SlackDirectoryStore(w.surface.runtime.store.engine).profile(LOCKED)
    assert after is not None and after.locale == "es-ES"
    await w.sender.slash_command(LOCKED, "/helpdesk", "unlock")
    await w.state.wait_for_message(LOCKED, "Tu cuenta de mem no está bloqueada")


@pytest.mark.parametrize("world", ["de"], indirect=True)
async def test_the_commands_ack_speaks_the_organisations_language(world: SlackWorld) -> None:
    """A command's ack comes before anything is looked up: the organisation's language
    (German here). The answer in the DM then speaks the person's (Spanish)."""
    w = world
    acked = await w.sender.slash_command(LOCKED, "/helpdesk", "unlock")
    assert acked.status_code == 200
    assert acked.response.text == "Wird erledigt: Ich antworte Ihnen per Direktnachricht."
    await w.state.wait_for_message(LOCKED, "Tu cuenta de mem está desbloqueada")


async def test_a_german_approver_gets_a_german_card_for_a_spanish_request(
    world: SlackWorld,
) -> None:
    w = world
    await w.sender.dm(ADA, "necesito acceso a figma, por favor")
    prompt = await w.state.wait_for_message(ADA, "¿Solicitar acceso a *Figma (editor)*")
    await w.sender.block_action(ADA, "hd_access_request.0")
    await w.state.wait_for(lambda st: "Enviada: tu solicitud" in prompt.visible_text or None)
    # Anna's Slack is in German: her card is German, whoever asked and in whatever language.
    card = await w.state.wait_for_message(ANNA, "Zugriffsanfrage")
    assert "möchte *Figma (editor)*" in card.visible_text
    assert "Benötigte Genehmigungen" in json.dumps(card.blocks, ensure_ascii=False)
    buttons = [e["text"]["text"] for b in card.blocks or () if b["type"] == "actions"
               for e in b["elements"]]
    assert buttons == ["Genehmigen", "Ablehnen"]
    # The channel's card is in the organisation's language (English here).
    await w.state.wait_for_message(APPROVALS, "*Access request*")
    # Anna approves: her card is updated in German.
    await w.sender.block_action(ANNA, "hd_access_approve.0")
    await w.state.wait_for(lambda st: "Genehmigt von <@U0ANNA0001>" in card.visible_text or None)
