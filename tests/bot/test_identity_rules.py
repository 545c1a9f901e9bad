"""The identity rules on Slack's user object, case by case (the end-to-end runs are in
test_slack_scenarios)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.identity import IdentityRefused, SlackIdentity

HOME = ("T0ACME0001", "")
GRID = ("T0ACME0001", "E0ACMEORG1")


def _user(**extra: Any) -> dict[str, Any]:
    return {"id": "U1", "team_id": "T0ACME0001", "name": "ada",
            "profile": {"email": "ada@example.com", "real_name": "Ada"}, **extra}


def _check(user: dict[str, Any], home: tuple[str, str] = HOME) -> str:
    try:
        SlackIdentity(None, "#it-help")._check(user, home)  # type: ignore[arg-type]
    except IdentityRefused as refused:
        return refused.code
    return "ok"


@pytest.mark.parametrize(
    ("user", "home", "expected"),
    [
        (_user(), HOME, "ok"),
        (_user(is_email_confirmed=True), HOME, "ok"),
        (_user(is_email_confirmed=False), HOME, "email_unconfirmed"),
        (_user(is_external=True), HOME, "external"),
        (_user(is_stranger=True), HOME, "external"),
        (_user(team_id="T0OTHERORG"), HOME, "external"),
        # Enterprise Grid: another workspace of the same organisation is home too...
        (_user(team_id="T0ACMESALES", enterprise_user={"enterprise_id": "E0ACMEORG1"}),
         GRID, "ok"),
        # ... another organisation's is not.
        (_user(team_id="T0OTHERORG", enterprise_user={"enterprise_id": "E0OTHERORG"}),
         GRID, "external"),
        (_user(team_id="T0OTHERORG"), GRID, "external"),
        (_user(is_restricted=True), HOME, "guest"),
    ],
)
def test_who_may_use_the_bot(user: dict[str, Any], home: tuple[str, str], expected: str) -> None:
    assert _check(user, home) == expected
