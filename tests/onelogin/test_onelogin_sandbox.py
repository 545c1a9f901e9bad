"""The OneLogin sandbox answers like OneLogin: auth, shapes, paging, limits, faults."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.errors import GroupNotFound, InvalidState, PolicyRejected, UserNotFound
from connectors.onelogin.errors import Subject, error_from_response, parse_error_body
from sandboxes.onelogin import (
    DEMO_SEED,
    ManualClock,
    OneLoginSandbox,
    load_seed,
    run_onelogin_sandbox,
)

TOKEN = "/auth/oauth2/v2/token"


@pytest.fixture
async def client(sandbox: OneLoginSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as raw:
        response = await raw.post(
            TOKEN,
            json={"grant_type": "client_credentials"},
            auth=(sandbox.client_id, sandbox.client_secret),
        )
        raw.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        yield raw


async def test_token_accepts_basic_the_documented_header_and_form(
    sandbox: OneLoginSandbox,
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as raw:
        basic = await raw.post(
            TOKEN,
            json={"grant_type": "client_credentials"},
            auth=(sandbox.client_id, sandbox.client_secret),
        )
        header = await raw.post(
            TOKEN,
            json={"grant_type": "client_credentials"},
            headers={
                "Authorization": f"client_id:{sandbox.client_id}, "
                f"client_secret:{sandbox.client_secret}"
            },
        )
        form = await raw.post(
            TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
            },
        )
        body = basic.json()
        assert {basic.status_code, header.status_code, form.status_code} == {200}
        # The same token comes back until it expires (OneLogin's documented behaviour).
        assert header.json()["access_token"] == form.json()["access_token"] == body["access_token"]
        assert body["token_type"] == "bearer" and body["expires_in"] > 35000
        bad = await raw.post(
            TOKEN, json={"grant_type": "client_credentials"}, auth=(sandbox.client_id, "nope")
        )
        assert bad.status_code == 401
        assert bad.json() == {
            "status": {
                "error": True,
                "code": 401,
                "type": "Unauthorized",
                "message": "Authentication Failure",
            }
        }
        wrong_grant = await raw.post(
            TOKEN, json={"grant_type": "password"}, auth=(sandbox.client_id, sandbox.client_secret)
        )
        assert wrong_grant.status_code == 400


async def test_api_needs_a_valid_bearer_token(sandbox: OneLoginSandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as raw:
        missing = await raw.get("/api/2/users")
        wrong = await raw.get("/api/2/users", headers={"Authorization": "Bearer nope"})
        v1 = await raw.get("/api/1/privileges", headers={"Authorization": "bearer:nope"})
    assert missing.status_code == wrong.status_code == v1.status_code == 401
    assert missing.json() == {
        "statusCode": 401,
        "name": "UnauthorizedError",
        "message": "Unauthorized",
    }


async def test_users_paging_headers_and_cursor(
    sandbox: OneLoginSandbox, client: httpx.AsyncClient
) -> None:
    first = await client.get("/api/2/users", params={"limit": 4})
    assert len(first.json()) == 4
    assert first.headers["Total-Count"] == str(len(sandbox.state.users))
    assert first.headers["Current-Page"] == "1" and "Before-Cursor" not in first.headers
    second = await client.get(
        "/api/2/users", params={"limit": 4, "cursor": first.headers["After-Cursor"]}
    )
    assert second.headers["Current-Page"] == "2" and "Before-Cursor" in second.headers
    assert {u["id"] for u in first.json()}.isdisjoint({u["id"] for u in second.json()})
    over = await client.get("/api/2/users", params={"limit": 1000})
    assert len(over.json()) == min(100, len(sandbox.state.users))
    bad = await client.get("/api/2/users", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["name"] == "BadRequestError"


async def test_filters_support_wildcards_and_negation(client: httpx.AsyncClient) -> None:
    exact = await client.get("/api/2/users", params={"email": "ADA@example.com"})
    assert [u["email"] for u in exact.json()] == ["ada@example.com"]
    star = await client.get("/api/2/users", params={"email": "*", "limit": 100})
    assert len(star.json()) > 5
    negated = await client.get("/api/2/users", params={"email": "!ada@example.com", "limit": 100})
    assert "ada@example.com" not in {u["email"] for u in negated.json()}
    fields = await client.get(
        "/api/2/users", params={"email": "ada@example.com", "fields": "email"}
    )
    assert fields.json() == [{"id": exact.json()[0]["id"], "email": "ada@example.com"}]


async def test_rate_limit_headers_429_and_window_reset() -> None:
    clock = ManualClock(start=time.time())
    state = load_seed(DEMO_SEED, now=clock())
    async with (
        run_onelogin_sandbox(state, clock=clock, rate_limit_per_window=2, rate_window=60) as sb,
        httpx.AsyncClient(base_url=sb.base_url) as raw,
    ):
        token = (
            await raw.post(
                TOKEN,
                json={"grant_type": "client_credentials"},
                auth=(sb.client_id, sb.client_secret),
            )
        ).json()["access_token"]
        raw.headers["Authorization"] = f"Bearer {token}"
        one = await raw.get("/api/2/roles")
        assert one.headers["X-RateLimit-Limit"] == "2"
        assert one.headers["X-RateLimit-Remaining"] == "1"
        assert one.headers["X-RateLimit-Reset"] == "60"
        clock.advance(20)
        await raw.get("/api/2/roles")
        limited = await raw.get("/api/2/roles")
        assert limited.status_code == 429
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert limited.headers["X-RateLimit-Reset"] == "40"
        assert limited.json()["name"] == "TooManyRequestsError"
        budget = await raw.get("/auth/rate_limit")
        assert budget.json()["data"]["X-RateLimit-Remaining"] == 0
        clock.advance(40)
        assert (await raw.get("/api/2/roles")).status_code == 200


async def test_unlock_lock_and_v1_shapes(
    sandbox: OneLoginSandbox, client: httpx.AsyncClient
) -> None:
    ada = sandbox.state.user_by_email("ada@example.com")
    not_locked = await client.post(f"/api/2/users/{ada.id}/unlock")
    assert not_locked.status_code == 422 and not_locked.json() == {
        "message": "User cannot be unlocked"
    }
    locked = await client.put(f"/api/1/users/{ada.id}/lock_user", json={"locked_until": 15})
    assert locked.json()["status"]["type"] == "success"
    assert ada.status == 3 and ada.locked_until is not None
    bad = await client.put(f"/api/1/users/{ada.id}/lock_user", json={"locked_until": "soon"})
    assert (
        bad.status_code == 400
        and bad.json()["status"]["message"] == "locked_until should be -> integer"
    )
    assert (await client.post(f"/api/2/users/{ada.id}/unlock")).status_code == 200
    assert ada.status == 1 and ada.locked_until is None
    missing = await client.put("/api/1/users/1/lock_user", json={"locked_until": 0})
    assert missing.status_code == 404 and missing.json()["status"]["code"] == 404


async def test_password_update_validates_the_policy(
    sandbox: OneLoginSandbox, client: httpx.AsyncClient
) -> None:
    ada = sandbox.state.user_by_email("ada@example.com")
    weak = await client.put(
        f"/api/2/users/{ada.id}", json={"password": "short", "password_confirmation": "short"}
    )
    assert weak.status_code == 422 and "too short" in weak.json()["message"]
    mismatch = await client.put(
        f"/api/2/users/{ada.id}", json={"password": "Good-pass-123", "password_confirmation": "x"}
    )
    assert mismatch.status_code == 422
    unchecked = await client.put(
        f"/api/2/users/{ada.id}",
        params={"validate_policy": "false"},
        json={"password": "short", "password_confirmation": "short"},
    )
    assert unchecked.status_code == 200 and sandbox.state.check_password(ada.id, "short")
    good = await client.put(
        f"/api/1/users/set_password_clear_text/{ada.id}",
        json={"password": "Good-pass-123", "password_confirmation": "Good-pass-123"},
    )
    assert good.status_code == 200 and sandbox.state.check_password(ada.id, "Good-pass-123")
    unknown = await client.put(f"/api/2/users/{ada.id}", json={"user_id": 1})
    assert unknown.json() == {
        "statusCode": 400,
        "name": "BadRequestError",
        "message": "unknown attribute: user_id",
    }


async def test_roles_users_and_bodies(sandbox: OneLoginSandbox, client: httpx.AsyncClient) -> None:
    ada = sandbox.state.user_by_email("ada@example.com")
    added = await client.post("/api/2/roles/202/users", json=[ada.id])
    assert added.json() == [{"id": ada.id}]
    listed = await client.get("/api/2/roles/202/users")
    assert [u["id"] for u in listed.json()] == [ada.id]
    wrapped = await client.request("DELETE", "/api/2/roles/202/users", json={"user_id": [ada.id]})
    assert wrapped.status_code == 400  # a bare array, not an object
    removed = await client.request("DELETE", "/api/2/roles/202/users", json=[ada.id])
    assert removed.status_code == 204 and ada.id not in sandbox.state.roles[202].user_ids
    assert (await client.get("/api/2/roles/999/users")).status_code == 404
    unknown_user = await client.post("/api/2/roles/202/users", json=[1])
    assert unknown_user.status_code == 422


async def test_faults_fail_hang_and_unknown_paths(
    sandbox: OneLoginSandbox, client: httpx.AsyncClient
) -> None:
    sandbox.faults.fail_next(2, status=503, path="/api/2/roles")
    assert (await client.get("/api/2/roles")).status_code == 503
    assert (await client.get("/api/2/users")).status_code == 200  # path did not match
    assert (await client.get("/api/2/roles")).json()["name"] == "ServiceUnavailableError"
    assert (await client.get("/api/2/roles")).status_code == 200
    sandbox.faults.hang_next(seconds=0.3, path="/api/2/roles")
    with pytest.raises(httpx.ReadTimeout):
        await client.get("/api/2/roles", timeout=0.1)
    nowhere = await client.get("/api/2/nothing-here")
    assert nowhere.status_code == 404 and nowhere.json()["name"] == "NotFoundError"


# -- the connector's error table ---------------------------------------------------------------
def _answer(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_error_bodies_of_every_shape_are_read() -> None:
    v2 = parse_error_body(
        b'{"statusCode": 422, "name": "UnprocessableEntityError", "message": "x"}'
    )
    assert (v2.name, v2.message) == ("UnprocessableEntityError", "x")
    v1 = parse_error_body(
        b'{"status": {"error": true, "code": 400, "type": "bad request",'
        b' "message": {"attribute": "id", "description": "ID is incorrect"}}}'
    )
    assert (v1.name, v1.message) == ("bad request", "id: ID is incorrect")
    bare = parse_error_body(b'{"message": "User cannot be unlocked"}')
    assert bare.message == "User cannot be unlocked"
    assert parse_error_body(b"<html>oops</html>").message is None
    long = parse_error_body(('{"message": "' + "y" * 500 + '"}').encode())
    assert long.message is not None and len(long.message) <= 160


def test_statuses_map_by_subject() -> None:
    not_found = _answer(404, {"statusCode": 404, "name": "NotFoundError", "message": "gone"})
    assert isinstance(error_from_response("ol", not_found, Subject.USER), UserNotFound)
    assert isinstance(error_from_response("ol", not_found, Subject.ROLE), GroupNotFound)
    policy = _answer(422, {"statusCode": 422, "name": "UnprocessableEntityError", "message": "no"})
    rejected = error_from_response("ol", policy, Subject.PASSWORD)
    assert isinstance(rejected, PolicyRejected) and rejected.code == "UnprocessableEntityError"
    assert isinstance(error_from_response("ol", policy, Subject.UNLOCK), InvalidState)
    limited = httpx.Response(429, headers={"X-RateLimit-Reset": "42"})
    error = error_from_response("ol", limited, Subject.USER)
    assert getattr(error, "retry_after", None) == 42.0


def test_basic_auth_header_is_what_the_connector_sends() -> None:
    # httpx.BasicAuth, as used for the token request, produces OneLogin's documented form.
    request = httpx.Request("POST", "https://acme.onelogin.com" + TOKEN)
    flow = httpx.BasicAuth("cid", "sec").auth_flow(request)
    sent = next(flow)
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:sec").decode()
