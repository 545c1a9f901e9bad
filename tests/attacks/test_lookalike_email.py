"""A Slack profile email that imitates an employee's address never reaches their account.

Matching is exact (``connectors.emails``: NFC, ASCII case only); an address that imitates
a plain one (folding or a known homoglyph) is refused, audited and reported to security.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.audit import Actor
from actions.errors import Refusal
from connectors.emails import lookalike, same_email
from tests.attacks.helpers import deployment

# The report: the Kelvin sign folds onto "k" under casefold.
KELVIN = "edsger.dij\u212astra@example.com"
SPOOFS = {
    "kelvin sign": KELVIN,
    "long s": "ed\u017fger.dijkstra@example.com",
    "dotless i": "edsger.d\u0131jkstra@example.com",
    "full-width e": "\uff45dsger.dijkstra@example.com",
    "cyrillic e": "\u0435dsger.dijkstra@example.com",
    "plus-addressing": "edsger.dijkstra+it@example.com",
    "trailing dot": "edsger.dijkstra@example.com.",
    "prefix": "edsger.dijkstr@example.com",
}


@pytest.mark.parametrize("kind", sorted(SPOOFS))
async def test_spoofed_profile_email_changes_nothing(tmp_path: Path, kind: str) -> None:
    async with deployment(tmp_path, verification={
        "password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]}) as dep:
        spoof = Actor("U0SPOOF001", SPOOFS[kind], "Not Edsger")
        for change in (dep.service.reset_password, dep.service.unlock, dep.service.reset_mfa):
            with pytest.raises(Refusal) as refused:
                await change(spoof)
            assert refused.value.code == "unknown_user"
        assert dep.writes() == []
        refusals = await dep.store.list_audit(actor="U0SPOOF001")
        assert len(refusals) == 3 and {r.result for r in refusals} == {"refused"}
        if lookalike(SPOOFS[kind]):
            assert {r.detail["reason"] for r in refusals} == {"lookalike_email"}
            assert len(dep.out.security) == 3
            assert all("imitates a plain address" in n for n in dep.out.security)


async def test_the_real_owner_still_matches_in_any_ascii_case(tmp_path: Path) -> None:
    async with deployment(tmp_path, verification={
        "password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]}) as dep:
        owner = Actor("U0EDSGER01", "Edsger.Dijkstra@EXAMPLE.com", "Edsger")
        outcome = await dep.service.reset_password(owner)
        assert outcome.target.user.email == "edsger.dijkstra@example.com"


def test_the_comparison_itself() -> None:
    assert not same_email(KELVIN, "edsger.dijkstra@example.com")
    assert same_email("Ada@Example.COM", "ada@example.com")
    assert same_email("jose\u0301@example.com", "jos\u00e9@example.com")  # NFC, same mailbox
    assert not same_email("\u00c5da@example.com", "\u212bda@example.com")  # Angstrom sign
    assert all(lookalike(SPOOFS[k]) for k in ("kelvin sign", "long s", "dotless i",
                                              "full-width e", "cyrillic e"))
    assert not lookalike("jos\u00e9@example.com")
