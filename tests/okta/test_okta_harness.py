"""The spec check the Okta tests rely on does catch violations, on both sides."""

from __future__ import annotations

import json

import pytest

from sandboxes.okta import Exchange, RecordedRequest, RecordedResponse
from tests.okta.conftest import check_exchanges, contract_state, okta_rig

ORG = "https://127.0.0.1:8443"


def _exchange(method: str, path: str, query: str, status: int, body: object) -> Exchange:
    pairs = tuple(tuple(p.split("=", 1)) for p in query.split("&") if p)
    request = RecordedRequest(
        method=method,
        url=f"{ORG}{path}" + (f"?{query}" if query else ""),
        path=path,
        query=pairs,  # type: ignore[arg-type]
        headers=(("host", "127.0.0.1:8443"), ("authorization", "SSWS x")),
        body=b"",
    )
    response = RecordedResponse(
        status=status,
        headers=(("content-type", "application/json"),),
        body=json.dumps(body).encode(),
    )
    return Exchange(request, response)


def test_a_response_off_the_spec_is_reported() -> None:
    bad = _exchange("GET", "/api/v1/users/00u1", "", 200, {"id": 5, "status": "NOT_A_STATUS"})
    assert check_exchanges([bad])


def test_a_request_off_the_spec_is_reported() -> None:
    # sendEmail is a required query parameter of reset_password.
    bad = _exchange("POST", "/api/v1/users/00u1/lifecycle/reset_password", "", 200, {})
    assert check_exchanges([bad])


def test_an_error_without_okta_error_fields_is_reported() -> None:
    bad = _exchange("GET", "/api/v1/users/00u1", "", 404, {"message": "nope"})
    assert check_exchanges([bad])


def test_token_endpoint_answers_are_checked_against_rfc6749() -> None:
    ok = _exchange("POST", "/oauth2/v1/token", "", 400, {"error": "invalid_client"})
    bad = _exchange("POST", "/oauth2/v1/token", "", 200, {"token_type": "Bearer"})
    assert check_exchanges([ok]) == []
    assert check_exchanges([bad])


async def test_the_rig_fails_a_test_that_saw_a_violation() -> None:
    with pytest.raises(pytest.fail.Exception, match="break Okta's OpenAPI spec"):
        async with okta_rig(contract_state()) as rig:
            await rig.connector().find_user_by_email("ada@example.com")
            assert rig.exchanges
            rig.exchanges.append(
                _exchange("GET", "/api/v1/users/00u1", "", 200, {"id": 5, "status": "NOPE"})
            )
