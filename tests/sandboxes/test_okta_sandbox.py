"""Behaviour of the Okta sandbox: paging, search, lifecycle rules, authorisation,
membership, rate limits, faults, the exchange hook, OAuth and the ways to run it.

Most tests talk to the ASGI app in process (no TLS); the last ones start the real
HTTPS server, the background-thread runner and the command line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette

from sandboxes.okta import (
    DEMO_SEED,
    DEMO_TOKEN,
    Exchange,
    ManualClock,
    OktaSandboxThread,
    OktaState,
    RateLimitConfig,
    RecordedRequest,
    RecordedResponse,
    UserStatus,
    create_app,
    generate_users,
    load_seed,
    run_okta_sandbox,
)
from sandboxes.okta.expressions import And, Compare, ExpressionError, Not, Or, parse
from sandboxes.okta.pagination import page_after
from sandboxes.okta.runtime import Runtime

BASE = "https://okta.test"
ADMIN_TOKEN = "test-super-admin-token"
READ_ONLY_TOKEN = "test-read-only-token"
COMMON_HEADERS = (
    "x-okta-request-id",
    "date",
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
)


def demo_org(clock: ManualClock | None = None) -> OktaState:
    state = load_seed(DEMO_SEED, clock=clock or time.time)
    alan = state.find_user("alan.turing@example.com")
    assert alan is not None
    state.add_api_token(ADMIN_TOKEN, alan.id, "admin")
    auditor = state.add_user(
        {"login": "auditor@example.com", "firstName": "Audit", "lastName": "Or"}
    )
    state.assign_role("READ_ONLY_ADMIN", user_id=auditor.id)
    state.add_api_token(READ_ONLY_TOKEN, auditor.id, "read-only")
    return state


def client(app: Starlette, token: str | None = DEMO_TOKEN) -> httpx.AsyncClient:
    headers = {"Authorization": f"SSWS {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, headers=headers)


def runtime(app: Starlette) -> Runtime:
    value: Runtime = app.state.okta
    return value


def uid(state: OktaState, login: str) -> str:
    user = state.find_user(login)
    assert user is not None
    return user.id


def links(response: httpx.Response) -> dict[str, str]:
    """Map rel -> URL from the response's Link headers (one header per relation)."""
    found = {}
    for value in response.headers.get_list("link"):
        url, rel = value.split(">; rel=")
        found[rel.strip('"')] = url.lstrip("<")
    return found


def assert_okta_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errorCode"] == code
    assert body["errorLink"] == code
    assert body["errorId"].startswith("oae")
    assert isinstance(body["errorSummary"], str) and body["errorSummary"]
    assert isinstance(body["errorCauses"], list)


@pytest.fixture
def org() -> OktaState:
    return demo_org()


@pytest.fixture
def app(org: OktaState) -> Starlette:
    return create_app(org)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client(app) as value:
        yield value


# paging ----------------------------------------------------------------------


async def test_users_pages_follow_link_next_until_it_is_absent() -> None:
    state = generate_users(450)
    async with client(create_app(state), token="bench-token-not-secret") as http:
        response = await http.get("/api/v1/users", params={"limit": 200})
        assert links(response)["self"] == f"{BASE}/api/v1/users?limit=200"
        # okta SDK 3.x folds headers into a dict, keeping the last Link: next must be last.
        assert response.headers.get_list("link")[-1].endswith('rel="next"')
        seen: list[str] = []
        pages = 0
        while True:
            pages += 1
            page = [user["id"] for user in response.json()]
            seen += page
            rels = links(response)
            if "next" not in rels:
                break
            assert rels["next"] == f"{BASE}/api/v1/users?after={page[-1]}&limit=200"
            response = await http.get(rels["next"])
        assert pages == 3
        assert seen == sorted(seen) and len(set(seen)) == len(seen) == 451


async def test_next_link_keeps_the_search_and_the_last_page_has_none(org: OktaState) -> None:
    generate_users(30, state=org, group_names=["bulk"])
    async with client(create_app(org)) as http:
        query = 'profile.department eq "Engineering"'
        first = await http.get("/api/v1/users", params={"search": query, "limit": 2})
        next_url = links(first)["next"]
        params = parse_qs(urlsplit(next_url).query)
        assert params == {"after": [first.json()[-1]["id"]], "limit": ["2"], "search": [query]}
        url: str | None = next_url
        total = len(first.json())
        while url:
            page = await http.get(url)
            total += len(page.json())
            url = links(page).get("next")
        expected = [u for u in org.users.values() if u.profile.get("department") == "Engineering"]
        assert total == len(expected)


async def test_limit_defaults_to_200_and_is_capped(http: httpx.AsyncClient, org: OktaState) -> None:
    generate_users(300, state=org)
    assert len((await http.get("/api/v1/users")).json()) == 200
    assert len((await http.get("/api/v1/users", params={"limit": 1000})).json()) == 200
    assert len((await http.get("/api/v1/users", params={"limit": 7})).json()) == 7
    assert_okta_error(await http.get("/api/v1/users", params={"limit": "x"}), 400, "E0000001")


async def test_q_defaults_to_10_never_pages_and_skips_deprovisioned(
    http: httpx.AsyncClient, org: OktaState
) -> None:
    generate_users(40, state=org)  # every login starts with "user"
    response = await http.get("/api/v1/users", params={"q": "USER"})
    assert len(response.json()) == 10
    assert set(links(response)) == {"self"}
    gone = org.find_user("user000012@example.com")
    assert gone is not None
    org.set_status(gone, UserStatus.DEPROVISIONED)
    found = await http.get("/api/v1/users", params={"q": "user000012"})
    assert found.json() == []


async def test_plain_list_hides_deprovisioned_but_filter_and_search_show_them(
    http: httpx.AsyncClient, org: OktaState
) -> None:
    gone = org.find_user("frances.allen@example.com")
    assert gone is not None
    org.set_status(gone, UserStatus.DEPROVISIONED)
    listed = {u["id"] for u in (await http.get("/api/v1/users")).json()}
    assert gone.id not in listed
    by_filter = await http.get("/api/v1/users", params={"filter": 'status eq "DEPROVISIONED"'})
    assert [u["id"] for u in by_filter.json()] == [gone.id]
    by_search = await http.get("/api/v1/users", params={"search": f'id eq "{gone.id}"'})
    assert [u["id"] for u in by_search.json()] == [gone.id]


def test_a_page_deep_in_100k_users_looks_at_about_limit_users() -> None:
    started = time.perf_counter()
    state = generate_users(100_000, expiring_within_days=7)
    assert time.perf_counter() - started < 10
    ids = state.user_ids()
    looked_up: list[str] = []

    def lookup(user_id: str) -> object:
        looked_up.append(user_id)
        return state.users[user_id]

    page = page_after(ids, lookup, after=ids[99_000], limit=200)
    assert [u.id for u in page.items] == list(ids[99_001:99_201])  # type: ignore[attr-defined]
    assert page.next_cursor == ids[99_200]
    assert len(looked_up) == 201  # the page and one more to know a next page exists


async def test_group_members_page_with_links(http: httpx.AsyncClient, org: OktaState) -> None:
    generate_users(5, state=org, group_names=["vpn-users"])
    group = org.group_by_name("vpn-users")
    assert group is not None
    assert len(org.member_ids(group.id)) == 9
    response = await http.get(f"/api/v1/groups/{group.id}/users", params={"limit": 4})
    pages = [response.json()]
    while "next" in links(response):
        response = await http.get(links(response)["next"])
        pages.append(response.json())
    assert [len(page) for page in pages] == [4, 4, 1]
    assert [u["id"] for page in pages for u in page] == list(org.member_ids(group.id))


# search and filter -----------------------------------------------------------


@pytest.fixture
def tricky(org: OktaState) -> OktaState:
    org.add_user({"login": 'o"hara@example.com', "firstName": "Quote", "lastName": "Mark"})
    org.add_user({"login": "back\\slash@example.com", "firstName": "Back", "lastName": "Slash"})
    org.add_user({"login": "ohara@example.com", "firstName": "Plain", "lastName": "Hara"})
    return org


async def test_search_escaped_quote_matches_exactly_that_user(
    http: httpx.AsyncClient, tricky: OktaState
) -> None:
    response = await http.get(
        "/api/v1/users", params={"search": 'profile.email eq "o\\"hara@example.com"'}
    )
    assert [u["profile"]["email"] for u in response.json()] == ['o"hara@example.com']


async def test_search_escaped_backslash_matches_exactly_that_user(
    http: httpx.AsyncClient, tricky: OktaState
) -> None:
    response = await http.get(
        "/api/v1/users", params={"search": 'profile.login eq "back\\\\slash@example.com"'}
    )
    assert [u["profile"]["login"] for u in response.json()] == ["back\\slash@example.com"]


async def test_a_quote_inside_a_value_cannot_widen_the_search(
    http: httpx.AsyncClient, tricky: OktaState
) -> None:
    sneaky = 'profile.email eq "x\\" or status eq \\"ACTIVE"'
    response = await http.get("/api/v1/users", params={"search": sneaky})
    assert response.status_code == 200 and response.json() == []
    unescaped = 'profile.email eq "o"hara@example.com"'
    assert_okta_error(
        await http.get("/api/v1/users", params={"search": unescaped}), 400, "E0000031"
    )


@pytest.mark.parametrize(
    "expression",
    [
        'profile.email eq "unterminated',
        'profile.email eq "bad \\n escape"',
        "profile.email eq",
        '(status eq "ACTIVE"',
        'status eq "ACTIVE" and',
        'profile.email ne "x"',
        'profile.department co "ngin"',
        'passwordChanged lt "2024-01-01T00:00:00.000Z"',
    ],
)
async def test_invalid_searches_are_400_e0000031(http: httpx.AsyncClient, expression: str) -> None:
    response = await http.get("/api/v1/users", params={"search": expression})
    assert_okta_error(response, 400, "E0000031")
    assert response.json()["errorCauses"][0]["errorSummary"]


async def test_search_is_case_insensitive_and_filter_is_not(http: httpx.AsyncClient) -> None:
    search = await http.get(
        "/api/v1/users", params={"search": 'profile.email eq "ADA.LOVELACE@example.com"'}
    )
    assert len(search.json()) == 1
    filtered = await http.get(
        "/api/v1/users", params={"filter": 'profile.email eq "ADA.LOVELACE@example.com"'}
    )
    assert filtered.json() == []


async def test_search_operators_and_precedence(http: httpx.AsyncClient, org: OktaState) -> None:
    async def logins(expression: str) -> set[str]:
        response = await http.get("/api/v1/users", params={"search": expression})
        assert response.status_code == 200, response.text
        return {u["profile"]["login"] for u in response.json()}

    assert await logins('profile.firstName sw "Gr"') == {"grace.hopper@example.com"}
    assert await logins('profile.lastName co "ovela"') == {"ada.lovelace@example.com"}
    assert await logins("profile.manager pr") == {
        u.login for u in org.users.values() if u.profile.get("manager")
    }
    assert await logins(
        'status eq "LOCKED_OUT" or status eq "SUSPENDED" and profile.department eq "Nope"'
    ) == {"grace.hopper@example.com"}
    assert await logins(
        '(status eq "LOCKED_OUT" or status eq "SUSPENDED") and profile.department eq "Engineering"'
    ) == {"grace.hopper@example.com", "ken.thompson@example.com"}
    assert "ada.lovelace@example.com" not in await logins(
        'not (profile.firstName eq "Ada") and profile.department eq "Engineering"'
    )
    assert await logins('(status lt "STAGED" or status gt "STAGED") and status eq "SUSPENDED"') == {
        "ken.thompson@example.com"
    }


async def test_date_comparisons_and_bad_dates(http: httpx.AsyncClient, org: OktaState) -> None:
    ada = org.find_user("ada.lovelace@example.com")
    assert ada is not None
    ada.last_updated = org.now()
    cutoff = "2000-01-01T00:00:00.000Z"
    recent = await http.get("/api/v1/users", params={"filter": f'lastUpdated gt "{cutoff}"'})
    assert len(recent.json()) == len(org.users)
    future = await http.get("/api/v1/users", params={"search": 'created gt "2999-01-01T00:00:00Z"'})
    assert future.json() == []
    bad = await http.get("/api/v1/users", params={"filter": 'lastUpdated gt "yesterday"'})
    assert_okta_error(bad, 400, "E0000030")


async def test_filter_rejects_what_okta_filters_do_not_support(http: httpx.AsyncClient) -> None:
    for expression in ('not (status eq "ACTIVE")', 'profile.department eq "IT"', 'id sw "00u"'):
        response = await http.get("/api/v1/users", params={"filter": expression})
        assert_okta_error(response, 400, "E0000031")
    both = await http.get("/api/v1/users", params={"filter": 'id eq "x"', "search": 'id eq "x"'})
    assert_okta_error(both, 400, "E0000033")


def test_parser_builds_the_expected_tree() -> None:
    assert parse('a eq "1" or b eq "2" and not c pr') == Or(
        Compare("a", "eq", "1"), And(Compare("b", "eq", "2"), Not(parse("c pr")))
    )
    assert parse("n GT 5") == Compare("n", "gt", 5)
    assert parse('s eq "\\\\\\""') == Compare("s", "eq", '\\"')
    with pytest.raises(ExpressionError):
        parse('"just a string"')


async def test_groups_q_search_and_filter(http: httpx.AsyncClient, org: OktaState) -> None:
    names = {g["profile"]["name"] for g in (await http.get("/api/v1/groups")).json()}
    assert names == {g.name for g in org.groups.values()}
    queried = await http.get("/api/v1/groups", params={"q": "IT-"})
    assert [g["profile"]["name"] for g in queried.json()] == ["it-admins"]
    assert set(links(queried)) == {"self"}
    searched = await http.get("/api/v1/groups", params={"search": 'profile.name co "edit"'})
    assert [g["profile"]["name"] for g in searched.json()] == ["figma-editors"]
    typed = await http.get("/api/v1/groups", params={"filter": 'type eq "OKTA_GROUP"'})
    assert len(typed.json()) == len(org.groups)


# reading users ----------------------------------------------------------------


async def test_get_user_by_id_login_short_name_and_me(
    http: httpx.AsyncClient, org: OktaState
) -> None:
    ada = uid(org, "ada.lovelace@example.com")
    for key in (ada, "ada.lovelace@example.com", "Ada.Lovelace@Example.com", "ada.lovelace"):
        response = await http.get(f"/api/v1/users/{key}")
        assert response.json()["id"] == ada, key
    me = await http.get("/api/v1/users/me")
    assert me.json()["profile"]["login"] == "svc-helpdesk-bot@example.com"
    missing = await http.get("/api/v1/users/nobody@example.com")
    assert_okta_error(missing, 404, "E0000007")
    assert missing.json()["errorSummary"] == (
        "Not found: Resource not found: nobody@example.com (User)"
    )


async def test_single_user_links_follow_the_status(http: httpx.AsyncClient, org: OktaState) -> None:
    locked = (await http.get("/api/v1/users/grace.hopper@example.com")).json()
    assert "unlock" in locked["_links"]
    active = (await http.get("/api/v1/users/ada.lovelace@example.com")).json()
    assert "unlock" not in active["_links"] and "resetPassword" in active["_links"]
    assert active["credentials"]["provider"] == {"type": "OKTA", "name": "OKTA"}
    assert active["passwordChanged"].endswith("Z") and len(active["passwordChanged"]) == 24


async def test_roles_include_those_inherited_from_groups(
    http: httpx.AsyncClient, org: OktaState
) -> None:
    barbara = uid(org, "barbara.liskov@example.com")
    admins = org.group_by_name("it-admins")
    assert admins is not None
    async with client(create_app(org), ADMIN_TOKEN) as admin:
        roles = (await admin.get(f"/api/v1/users/{barbara}/roles")).json()
    assert [(r["type"], r["assignmentType"]) for r in roles] == [("ORG_ADMIN", "GROUP")]
    assert roles[0]["_links"]["assignee"]["href"] == f"{BASE}/api/v1/groups/{admins.id}"
    bot = await http.get(f"/api/v1/users/{uid(org, 'svc-helpdesk-bot@example.com')}/roles")
    assert {r["type"] for r in bot.json()} == {
        "HELP_DESK_ADMIN",
        "GROUP_MEMBERSHIP_ADMIN",
        "REPORT_ADMIN",
    }


async def test_password_policies_and_rules(http: httpx.AsyncClient, org: OktaState) -> None:
    policies = (await http.get("/api/v1/policies", params={"type": "PASSWORD"})).json()
    assert [(p["name"], p["settings"]["password"]["age"]["maxAgeDays"]) for p in policies] == [
        ("Service accounts", 0),
        ("Default Policy", 90),
    ]
    service = org.group_by_name("service-accounts")
    assert service is not None
    assert policies[0]["conditions"]["people"]["groups"]["include"] == [service.id]
    rules = (await http.get(f"/api/v1/policies/{policies[1]['id']}/rules")).json()
    assert rules[0]["type"] == "PASSWORD" and rules[0]["name"] == "Default Rule"
    policy = org.password_policy_for(uid(org, "svc-backup@example.com"))
    assert policy is not None and policy.max_age_days == 0
    assert_okta_error(await http.get("/api/v1/policies"), 400, "E0000001")


# lifecycle ----------------------------------------------------------------------


async def test_unlock_only_locked_out_users(http: httpx.AsyncClient, org: OktaState) -> None:
    grace = uid(org, "grace.hopper@example.com")
    response = await http.post(f"/api/v1/users/{grace}/lifecycle/unlock")
    assert response.status_code == 200 and response.json() == {}
    assert org.users[grace].status is UserStatus.ACTIVE
    again = await http.post(f"/api/v1/users/{grace}/lifecycle/unlock")
    assert_okta_error(again, 403, "E0000032")
    assert again.json()["errorSummary"] == "Unlock is not allowed for this user."


async def test_reset_password_moves_to_recovery(http: httpx.AsyncClient, org: OktaState) -> None:
    ada = uid(org, "ada.lovelace@example.com")
    path = f"/api/v1/users/{ada}/lifecycle/reset_password"
    link = await http.post(path, params={"sendEmail": "false"})
    assert link.json()["resetPasswordUrl"].startswith(f"{BASE}/reset_password/")
    assert org.users[ada].status is UserStatus.RECOVERY
    emailed = await http.post(path, params={"sendEmail": "true"})
    assert emailed.status_code == 200 and emailed.json() == {}


async def test_temp_password_expires_the_password(http: httpx.AsyncClient, org: OktaState) -> None:
    frances = org.find_user("frances.allen@example.com")
    assert frances is not None
    before = frances.password_changed
    response = await http.post(
        f"/api/v1/users/{frances.id}/lifecycle/expire_password_with_temp_password"
    )
    assert len(response.json()["tempPassword"]) == 8
    assert frances.status is UserStatus.PASSWORD_EXPIRED
    assert before is not None and frances.password_changed is not None
    assert frances.password_changed > before


@pytest.mark.parametrize("login", ["ken.thompson@example.com", "frances.allen@example.com"])
async def test_suspended_and_deprovisioned_users_refuse_password_operations(
    http: httpx.AsyncClient, org: OktaState, login: str
) -> None:
    user = org.find_user(login)
    assert user is not None
    if user.status is not UserStatus.SUSPENDED:
        org.set_status(user, UserStatus.DEPROVISIONED)
    for operation in ("reset_password", "expire_password_with_temp_password"):
        response = await http.post(f"/api/v1/users/{user.id}/lifecycle/{operation}")
        assert_okta_error(response, 403, "E0000038")
    assert_okta_error(await http.post(f"/api/v1/users/{user.id}/lifecycle/unlock"), 403, "E0000032")


async def test_factor_reset_and_unenroll(http: httpx.AsyncClient, org: OktaState) -> None:
    ada = uid(org, "ada.lovelace@example.com")
    factors = (await http.get(f"/api/v1/users/{ada}/factors")).json()
    assert [f["factorType"] for f in factors] == ["push", "token:software:totp"]
    removed = await http.delete(f"/api/v1/users/{ada}/factors/{factors[0]['id']}")
    assert removed.status_code == 204
    again = await http.delete(f"/api/v1/users/{ada}/factors/{factors[0]['id']}")
    assert_okta_error(again, 404, "E0000007")
    reset = await http.post(f"/api/v1/users/{ada}/lifecycle/reset_factors")
    assert reset.status_code == 200 and org.factors_of(ada) == []


async def test_unknown_lifecycle_operation_and_method(
    http: httpx.AsyncClient, org: OktaState
) -> None:
    ada = uid(org, "ada.lovelace@example.com")
    assert_okta_error(await http.post(f"/api/v1/users/{ada}/lifecycle/explode"), 404, "E0000008")
    assert_okta_error(await http.delete("/api/v1/users"), 405, "E0000022")


# authorisation -----------------------------------------------------------------


async def test_missing_or_unknown_token_is_401(app: Starlette) -> None:
    for token in (None, "nope"):
        async with client(app, token) as anonymous:
            assert_okta_error(await anonymous.get("/api/v1/users"), 401, "E0000011")
    async with client(app) as glued:
        response = await glued.get("/api/v1/users", headers={"Authorization": f"SSWS{DEMO_TOKEN}"})
        assert response.status_code == 200  # okta SDK 3.4.6 omits the space


async def test_token_of_a_deactivated_owner_stops_working(app: Starlette, org: OktaState) -> None:
    bot = org.find_user("svc-helpdesk-bot@example.com")
    assert bot is not None
    org.set_status(bot, UserStatus.DEPROVISIONED)
    async with client(app) as http:
        assert_okta_error(await http.get("/api/v1/users"), 401, "E0000011")


async def test_help_desk_may_not_touch_admins(http: httpx.AsyncClient, org: OktaState) -> None:
    for login in ("alan.turing@example.com", "barbara.liskov@example.com"):
        user = uid(org, login)
        for call in (
            http.post(f"/api/v1/users/{user}/lifecycle/reset_password?sendEmail=false"),
            http.post(f"/api/v1/users/{user}/lifecycle/reset_factors"),
        ):
            assert_okta_error(await call, 403, "E0000006")
    assert org.users[uid(org, "alan.turing@example.com")].status is UserStatus.ACTIVE


async def test_super_admin_may_touch_admins(app: Starlette, org: OktaState) -> None:
    barbara = uid(org, "barbara.liskov@example.com")
    async with client(app, ADMIN_TOKEN) as admin:
        response = await admin.post(f"/api/v1/users/{barbara}/lifecycle/reset_factors")
    assert response.status_code == 200


async def test_org_admin_may_touch_admins_but_not_super_admins(
    app: Starlette, org: OktaState
) -> None:
    org.add_api_token("org-admin-token", uid(org, "barbara.liskov@example.com"), "org-admin")
    bot = uid(org, "svc-helpdesk-bot@example.com")
    alan = uid(org, "alan.turing@example.com")
    async with client(app, "org-admin-token") as http:
        assert (await http.post(f"/api/v1/users/{bot}/lifecycle/reset_factors")).status_code == 200
        denied = await http.post(f"/api/v1/users/{alan}/lifecycle/reset_factors")
        assert_okta_error(denied, 403, "E0000006")


async def test_read_only_admin_reads_but_may_not_write(app: Starlette, org: OktaState) -> None:
    grace = uid(org, "grace.hopper@example.com")
    group = org.group_by_name("vpn-users")
    assert group is not None
    async with client(app, READ_ONLY_TOKEN) as http:
        assert (await http.get("/api/v1/users")).status_code == 200
        assert (await http.get("/api/v1/policies?type=PASSWORD")).status_code == 200
        assert_okta_error(
            await http.post(f"/api/v1/users/{grace}/lifecycle/unlock"), 403, "E0000006"
        )
        assert_okta_error(
            await http.put(f"/api/v1/groups/{group.id}/users/{grace}"), 403, "E0000006"
        )


# group membership --------------------------------------------------------------


async def test_membership_changes_are_idempotent() -> None:
    clock = ManualClock()
    org = demo_org(clock)
    group = org.group_by_name("figma-editors")
    assert group is not None
    ada = uid(org, "ada.lovelace@example.com")
    path = f"/api/v1/groups/{group.id}/users/{ada}"
    async with client(create_app(org)) as http:
        assert (await http.put(path)).status_code == 204
        changed = group.last_membership_updated
        clock.advance(5)
        assert (await http.put(path)).status_code == 204
        assert group.last_membership_updated == changed  # the repeat changed nothing
        members = (await http.get(f"/api/v1/groups/{group.id}/users")).json()
        assert [m["id"] for m in members].count(ada) == 1
        assert [(await http.delete(path)).status_code for _ in range(2)] == [204, 204]
        assert not org.is_member(group.id, ada)
        groups = (await http.get(f"/api/v1/users/{ada}/groups")).json()
        assert "figma-editors" not in {g["profile"]["name"] for g in groups}


async def test_membership_refusals(http: httpx.AsyncClient, org: OktaState) -> None:
    admins = org.group_by_name("it-admins")
    imported = org.add_group("ad-finance", group_type="APP_GROUP")
    assert admins is not None
    ada = uid(org, "ada.lovelace@example.com")
    assert_okta_error(await http.put(f"/api/v1/groups/{admins.id}/users/{ada}"), 403, "E0000006")
    assert_okta_error(await http.put(f"/api/v1/groups/{imported.id}/users/{ada}"), 403, "E0000006")
    assert_okta_error(await http.put(f"/api/v1/groups/00gnope/users/{ada}"), 404, "E0000007")
    assert_okta_error(
        await http.put(f"/api/v1/groups/{imported.id}/users/00unope"), 404, "E0000007"
    )
    assert not org.is_member(admins.id, ada)


# rate limits ---------------------------------------------------------------------


async def test_rate_limit_headers_429_and_reset() -> None:
    clock = ManualClock(start=1_700_000_010.0)
    state = demo_org(clock)
    app = create_app(state, rate_limits=RateLimitConfig.uniform(3), clock=clock)
    async with client(app) as http:
        answers = [await http.get("/api/v1/users") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert [r.headers["x-rate-limit-remaining"] for r in answers] == ["2", "1", "0", "0"]
        window_end = 1_700_000_040  # minute-aligned window containing the clock
        assert {r.headers["x-rate-limit-reset"] for r in answers} == {str(window_end)}
        assert {r.headers["x-rate-limit-limit"] for r in answers} == {"3"}
        assert_okta_error(answers[-1], 429, "E0000047")
        assert parsedate_to_datetime(answers[-1].headers["date"]).timestamp() == 1_700_000_010
        assert (await http.get("/api/v1/groups")).status_code == 200  # another bucket
        clock.advance(30)
        after = await http.get("/api/v1/users")
        assert after.status_code == 200 and after.headers["x-rate-limit-remaining"] == "2"


async def test_user_reads_and_user_lists_are_separate_buckets() -> None:
    limits = RateLimitConfig.enterprise()
    state = demo_org()
    async with client(create_app(state, rate_limits=limits)) as http:
        listed = await http.get("/api/v1/users")
        one = await http.get("/api/v1/users/me")
        assert listed.headers["x-rate-limit-limit"] == "600"
        assert one.headers["x-rate-limit-limit"] == "1000"


async def test_concurrency_limit_answers_429_with_zero_limit() -> None:
    state = demo_org()
    app = create_app(state, rate_limits=RateLimitConfig.uniform(100, concurrency=1))
    runtime(app).faults.hang_next(seconds=0.3, path="/api/v1/groups")
    async with client(app) as http:
        slow = asyncio.create_task(http.get("/api/v1/groups"))
        await asyncio.sleep(0.1)
        rejected = await http.get("/api/v1/users")
        assert rejected.status_code == 429
        assert rejected.headers["x-rate-limit-limit"] == "0"
        assert rejected.headers["x-rate-limit-remaining"] == "0"
        assert (await slow).status_code == 200
        assert (await http.get("/api/v1/users")).status_code == 200


# common headers, faults, exchange hook -------------------------------------------


async def test_every_answer_carries_the_common_headers(app: Starlette) -> None:
    runtime(app).faults.fail_next(1, status=503, path="/api/v1/groups")
    async with client(app) as http, client(app, None) as anonymous:
        answers = [
            await http.get("/api/v1/users"),
            await http.get("/api/v1/users/nobody"),
            await anonymous.get("/api/v1/users"),
            await http.get("/api/v1/groups"),
            await http.get("/nowhere"),
        ]
    assert [a.status_code for a in answers] == [200, 404, 401, 503, 404]
    for answer in answers:
        for name in COMMON_HEADERS:
            assert answer.headers.get(name), (answer.request.url, name)
    assert len({a.headers["x-okta-request-id"] for a in answers}) == len(answers)


async def test_faults_hit_matching_requests_then_run_out(app: Starlette) -> None:
    faults = runtime(app).faults
    faults.fail_next(2, status=503, path="/api/v1/groups*", method="GET")
    faults.fail_next(1, status=500, path="/api/v1/users/*/lifecycle/*")
    assert faults.pending() == 3
    async with client(app) as http:
        assert (await http.get("/api/v1/users")).status_code == 200
        assert [(await http.get("/api/v1/groups")).status_code for _ in range(3)] == [503, 503, 200]
        failed = await http.post("/api/v1/users/grace.hopper@example.com/lifecycle/unlock")
        assert_okta_error(failed, 500, "E0000009")
    assert faults.pending() == 0


async def test_hang_and_latency_delay_answers(app: Starlette) -> None:
    faults = runtime(app).faults
    async with client(app) as http:
        faults.hang_next(seconds=0.3, path="/api/v1/users")
        started = time.perf_counter()
        assert (await http.get("/api/v1/users")).status_code == 200
        assert time.perf_counter() - started >= 0.3
        faults.hang_next(seconds=0.05, then_status=503)
        assert (await http.get("/api/v1/groups")).status_code == 503
        faults.latency = 0.2
        started = time.perf_counter()
        await http.get("/api/v1/groups")
        assert time.perf_counter() - started >= 0.2
        faults.clear()
        started = time.perf_counter()
        await http.get("/api/v1/groups")
        assert time.perf_counter() - started < 0.2


async def test_on_exchange_sees_both_sides(org: OktaState) -> None:
    seen: list[Exchange] = []

    def record(request: RecordedRequest, response: RecordedResponse) -> None:
        seen.append(Exchange(request, response))

    app = create_app(org, on_exchange=record)
    grace = uid(org, "grace.hopper@example.com")
    async with client(app) as http:
        await http.get("/api/v1/users", params={"search": 'status eq "LOCKED_OUT"', "limit": 5})
        await http.post(f"/api/v1/users/{grace}/lifecycle/unlock", json={"note": "hi"})
    listed, unlocked = seen
    assert listed.request.method == "GET" and listed.request.path == "/api/v1/users"
    assert listed.request.query == (("search", 'status eq "LOCKED_OUT"'), ("limit", "5"))
    assert listed.request.header("authorization") == f"SSWS {DEMO_TOKEN}"
    assert listed.request.url.startswith(f"{BASE}/api/v1/users?")
    assert listed.response.status == 200
    assert [u["id"] for u in listed.response.json()] == [grace]
    assert len(listed.response.header_values("link")) == 1
    assert unlocked.request.body == b'{"note":"hi"}'
    assert unlocked.response.json() == {} and unlocked.response.header("x-okta-request-id")


# OAuth 2.0 service apps ------------------------------------------------------------


def _service_app(org: OktaState, scopes: set[str], roles: set[str]) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public_jwk["kid"] = "k1"
    org.add_oauth_client("0oa-helpdesk", jwks=[public_jwk], scopes=scopes, roles=roles)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _assertion(private_pem: bytes, audience: str, client_id: str = "0oa-helpdesk") -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 300}
    return jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": "k1"})


async def _token(http: httpx.AsyncClient, assertion: str, scope: str) -> httpx.Response:
    return await http.post(
        "/oauth2/v1/token",
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )


async def test_oauth_client_credentials_and_scopes(app: Starlette, org: OktaState) -> None:
    pem = _service_app(org, {"okta.users.read", "okta.users.manage"}, {"HELP_DESK_ADMIN"})
    audience = f"{BASE}/oauth2/v1/token"
    async with client(app, None) as http:
        issued = await _token(http, _assertion(pem, audience), "okta.users.read")
        assert issued.status_code == 200, issued.text
        body = issued.json()
        assert body["token_type"] == "Bearer" and body["scope"] == "okta.users.read"
        bearer = {"Authorization": f"Bearer {body['access_token']}"}
        assert (await http.get("/api/v1/users", headers=bearer)).status_code == 200
        grace = uid(org, "grace.hopper@example.com")
        denied = await http.post(f"/api/v1/users/{grace}/lifecycle/unlock", headers=bearer)
        assert_okta_error(denied, 403, "E0000006")
        assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]
        refused = await _token(http, _assertion(pem, audience), "okta.groups.manage")
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
        wrong_audience = await _token(http, _assertion(pem, "https://elsewhere"), "okta.users.read")
        assert wrong_audience.status_code == 401
        other_key = _service_app(OktaState(), {"okta.users.read"}, set())
        forged = await _token(http, _assertion(other_key, audience), "okta.users.read")
        assert forged.status_code == 401 and forged.json()["error"] == "invalid_client"


# running it ------------------------------------------------------------------------


async def test_https_server_on_an_os_chosen_port(org: OktaState) -> None:
    async with run_okta_sandbox(org) as sandbox:
        assert sandbox.url.startswith("https://127.0.0.1:") and not sandbox.url.endswith(":0")
        async with httpx.AsyncClient(verify=sandbox.ssl_context()) as http:
            response = await http.get(
                f"{sandbox.url}/api/v1/users/me", headers={"Authorization": f"SSWS {DEMO_TOKEN}"}
            )
        assert response.json()["_links"]["self"]["href"].startswith(sandbox.url)
        async with httpx.AsyncClient() as untrusting:
            with pytest.raises(httpx.ConnectError):
                await untrusting.get(f"{sandbox.url}/api/v1/users")


def test_thread_runner_serves_synchronous_code(org: OktaState) -> None:
    with OktaSandboxThread(org) as sandbox:
        sandbox.faults.fail_next(1, status=503)
        sandbox.faults.hang_next(seconds=1.0, path="/api/v1/groups")
        with httpx.Client(verify=sandbox.ssl_context()) as http:
            headers = {"Authorization": f"SSWS {DEMO_TOKEN}"}
            assert http.get(f"{sandbox.url}/api/v1/users", headers=headers).status_code == 503
            assert http.get(f"{sandbox.url}/api/v1/users", headers=headers).status_code == 200
            with pytest.raises(httpx.ReadTimeout):
                http.get(f"{sandbox.url}/api/v1/groups", headers=headers, timeout=0.2)
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=False) as http:
        http.get(f"{sandbox.url}/api/v1/users", timeout=1)


def test_command_line_serves_until_interrupted(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandboxes.okta", "--users", "25", "--rate-limit", "50"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        printed = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))
        trust = ssl.create_default_context(cafile=printed["OKTA_SANDBOX_CA"])
        with httpx.Client(verify=trust) as http:
            response = http.get(
                f"{printed['OKTA_SANDBOX_URL']}/api/v1/users",
                headers={"Authorization": f"SSWS {DEMO_TOKEN}"},
            )
        assert response.status_code == 200
        assert response.headers["x-rate-limit-limit"] == "50"
        assert printed["OKTA_SANDBOX_USERS"] == "34"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.communicate(timeout=10)[1] is None and process.returncode == 0
