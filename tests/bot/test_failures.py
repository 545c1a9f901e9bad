"""The one error path: connector errors to refusals, and the answer to anything unexpected."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from actions.errors import Refusal, changes_may_start, connector_call, refusal_for, tracking
from bot.dialogues.failures import answered, as_list
from bot.replies import Reply
from connectors.errors import (
    ConnectorError,
    GroupNotFound,
    InvalidState,
    NotSupported,
    PermissionDenied,
    PolicyRejected,
    Unavailable,
    UserNotFound,
)
from tests.bot.helpers import assert_failure_answered

WHERE = "the IT desk in #it-help"


@pytest.mark.parametrize(
    ("error", "code", "says"),
    [
        (Unavailable("okta", "timeout"), "unavailable", "Okta is not answering; nothing was"),
        (PolicyRejected("okta", "E0000080", user_message="Too recent."), "policy",
         "Okta refused: Too recent."),
        (InvalidState("okta", "suspended"), "account_state", "not in a state I can change"),
        (PermissionDenied("okta", "403"), "permission", "I'm not allowed to do that"),
        (NotSupported("okta", "no"), "not_available", "Okta doesn't support that from chat"),
        (UserNotFound("okta", "gone"), "unknown_user", "I couldn't find your Okta account"),
        (GroupNotFound("okta", "gone"), "error", "Something went wrong with Okta"),
    ],
)
def test_each_connector_error_has_one_message(error: ConnectorError, code: str, says: str) -> None:
    refusal = refusal_for(error, "Okta", WHERE)
    assert refusal.code == code and says in refusal.user_message
    # The vendor's own words never reach the employee, except a policy's safe message.
    assert error.message not in refusal.user_message or code == "policy"


async def test_the_wrapper_refuses_what_it_catches_and_lets_the_rest_through() -> None:
    seen: list[tuple[str, str]] = []

    async def audit(exc: ConnectorError, refusal: Refusal) -> None:
        seen.append((type(exc).__name__, refusal.code))

    with pytest.raises(Refusal) as caught:
        async with connector_call("Okta", WHERE, on_refusal=audit):
            raise PermissionDenied("okta", "403")
    assert caught.value.code == "permission" and seen == [("PermissionDenied", "permission")]
    with pytest.raises(PermissionDenied):
        async with connector_call("Okta", WHERE, catch=Unavailable):
            raise PermissionDenied("okta", "403")


async def test_a_write_marks_the_flow_and_nested_flows_share_it() -> None:
    with tracking() as outer:
        with tracking() as inner:
            assert inner is outer
            async with connector_call("Okta", WHERE):
                pass
            assert not outer.changing
            async with connector_call("Okta", WHERE, writes=True):
                pass
        assert outer.changing
    changes_may_start()  # outside a flow: nothing to mark, no error


async def test_a_refusal_that_got_this_far_is_a_business_answer() -> None:
    async def refuse() -> list[Reply]:
        raise Refusal("busy", "Please try again in a minute.")

    with capture_logs() as logs:
        [reply] = await answered("message", refuse, as_list)
    assert reply.text == "Please try again in a minute."
    assert [e["log_level"] for e in logs] == ["info"]


async def test_a_crash_is_answered_and_logged_without_its_message() -> None:
    async def crash() -> list[Reply]:
        changes_may_start()
        raise ValueError("token=xoxb-123456789-secret")

    with capture_logs() as logs:
        [reply] = await answered("button:hd_confirm", crash, as_list)
    assert_failure_answered(logs, reply.text, "ValueError", changing=True)
    assert "xoxb" not in str(logs) and "xoxb" not in reply.text
    [entry] = logs
    assert entry["flow"] == "button:hd_confirm" and "test_failures.py:crash:" in entry["at"]
