"""Okta-specific behaviour of the connector, over HTTP against the Okta sandbox.

Each test runs its own sandbox (``okta_rig``), and every exchange it sees is checked
against Okta's OpenAPI document when the test ends.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.base import Protection, ProtectionKind, ResetDelivery, UnlockResult, UserStatus
from connectors.errors import InvalidState, PermissionDenied, Unavailable, UserNotFound
from sandboxes.okta import Bucket, ManualClock, OktaState, RateLimitConfig, generate_users
from sandboxes.okta import UserStatus as OktaStatus
from sandboxes.okta.expressions import Compare, parse
from tests.okta.conftest import ManualTimer, OktaRig, contract_state, okta_rig


def ADMIN(detail: str) -> Protection:
    return Protection(ProtectionKind.ADMIN_ROLE, detail)


def GROUP(detail: str) -> Protection:
    return Protection(ProtectionKind.PROTECTED_GROUP, detail)


def _user_id(state: OktaState, login: str) -> str:
    user = state.find_user(login)
    assert user is not None, login
    return user.id


def _search_of(rig: OktaRig) -> list[str]:
    return [
        q for e in rig.seen("/api/v1/users", "GET") for k, q in e.request.query if k == "search"
    ]


# -- searching by email ----------------------------------------------------------------


ODD_EMAILS = ('o"brien@example.com', "back\\slash@example.com", 'both\\"kinds@example.com')


async def test_email_with_quote_or_backslash_stays_one_literal() -> None:
    users = [
        {"login": f"odd{i}@example.com", "email": email, "password_changed_days_ago": 1}
        for i, email in enumerate(ODD_EMAILS)
    ]
    async with okta_rig(contract_state(users=users)) as rig:
        connector = rig.connector()
        for email in ODD_EMAILS:
            rig.clear()
            found = await connector.find_user_by_email(email.upper())
            assert found.email == email
            # What reached Okta is a single comparison whose value is the input.
            (search,) = _search_of(rig)
            node = parse(search)
            assert node == Compare("profile.email", "eq", email.upper())


@pytest.mark.parametrize(
    "hostile",
    [
        'ada@example.com" or profile.email sw "',
        '" or status eq "ACTIVE',
        'x\\" or profile.email pr or profile.email eq \\"',
        "ada@example.com\\",
    ],
)
async def test_hostile_email_reaches_okta_as_one_value(hostile: str) -> None:
    async with okta_rig(contract_state()) as rig:
        connector = rig.connector()
        with pytest.raises(UserNotFound):
            await connector.find_user_by_email(hostile)
        (search,) = _search_of(rig)
        assert parse(search) == Compare("profile.email", "eq", hostile)


async def test_two_live_users_with_one_email_is_ambiguous() -> None:
    users = [
        {"login": "twin1@example.com", "email": "twin@example.com"},
        {"login": "twin2@example.com", "email": "TWIN@example.com"},
        {"login": "gone@example.com", "email": "solo@example.com", "status": "DEPROVISIONED"},
        {"login": "solo@example.com", "email": "solo@example.com"},
    ]
    async with okta_rig(contract_state(users=users)) as rig:
        connector = rig.connector()
        with pytest.raises(UserNotFound, match="2 users"):
            await connector.find_user_by_email("twin@example.com")
        # A deprovisioned namesake does not make a live account ambiguous.
        solo = await connector.find_user_by_email("solo@example.com")
        assert solo.login == "solo@example.com" and solo.status is UserStatus.ACTIVE


async def test_get_user_takes_ids_not_logins() -> None:
    async with okta_rig(contract_state()) as rig:
        connector = rig.connector()
        for not_an_id in ("ada@example.com", "ada", "../groups", ""):
            with pytest.raises(UserNotFound):
                await connector.get_user(not_an_id)
        # "ada" is a valid id shape, and Okta resolves it as a login short name; the
        # connector refuses the answer because its id differs.
        assert [e.request.path for e in rig.seen("/api/v1/users/*")] == ["/api/v1/users/ada"]


# -- paging ----------------------------------------------------------------------------


async def test_users_are_paged_through_link_headers() -> None:
    state = generate_users(450, state=contract_state(), expiring_fraction=0.3)
    listed = [u for u in state.users.values() if u.status.value != "DEPROVISIONED"]
    async with okta_rig(state) as rig:
        connector = rig.connector()
        pages = [page async for page in connector.iter_user_pages()]
        assert [len(p) for p in pages] == [200, 200, len(listed) - 400]
        ids = [u.user.id for page in pages for u in page]
        assert sorted(ids) == sorted(u.id for u in listed)
        requests = [e.request for e in rig.seen("/api/v1/users", "GET")]
        assert len(requests) == 3
        assert "after" not in dict(requests[0].query)
        assert all(
            dict(r.query).get("after") and dict(r.query)["limit"] == "200" for r in requests[1:]
        )

        rig.clear()
        small = rig.connector(page_size=50)
        sizes = [len(p) async for p in small.iter_user_pages()]
        assert sum(sizes) == len(listed) and len(sizes) == math.ceil(len(listed) / 50)


async def test_expiry_sweep_over_several_pages() -> None:
    state = generate_users(450, state=contract_state(), expiring_fraction=0.3)
    before = datetime.now(UTC) + timedelta(days=14)
    service = state.group_by_name("service-accounts")
    assert service is not None
    expected = {
        u.id
        for u in state.users.values()
        if u.status.value in ("ACTIVE", "LOCKED_OUT", "PASSWORD_EXPIRED", "RECOVERY")
        and u.password_changed is not None
        and u.password_changed + timedelta(days=90) < before
        and not state.is_member(service.id, u.id)
    }
    async with okta_rig(state) as rig:
        connector = rig.connector()
        found = {
            row.user.id: row.status
            async for page in connector.iter_expiring(before)
            for row in page
        }
        assert set(found) == expected and len(expected) > 100
        assert all(s.expires_at is not None and s.expires_at < before for s in found.values())
        # Okta filtered by status; the age was checked locally.
        (first, *_rest) = _search_of(rig)
        assert 'status eq "ACTIVE"' in first and "passwordChanged" not in first


# -- rate limits -----------------------------------------------------------------------


def _window_end(clock: ManualClock) -> float:
    return (math.floor(clock() / 60) + 1) * 60


async def test_429_waits_for_the_reset_then_succeeds() -> None:
    clock = ManualClock(1_700_000_010.0)
    state = contract_state()
    async with okta_rig(state, clock=clock, rate_limits=RateLimitConfig.uniform(2)) as rig:
        timer = ManualTimer(clock)
        connector = rig.connector(timer=timer)
        # Another client has spent this minute's budget for single-user reads.
        for _ in range(2):
            assert rig.sandbox.limiter.acquire(Bucket.USER_GET).allowed
            rig.sandbox.limiter.release()
        wait_needed = _window_end(clock) - clock()

        user = await connector.get_user(_user_id(state, "ada@example.com"))

        assert user.email == "ada@example.com"
        assert [e.response.status for e in rig.seen("/api/v1/users/*")] == [429, 200]
        assert connector.stats.rate_limited == 1 and connector.stats.retries == 1
        assert len(timer.sleeps) == 1
        assert wait_needed <= timer.sleeps[0] <= wait_needed + 0.25  # reset plus jitter


async def test_spent_budget_is_waited_out_before_calling() -> None:
    clock = ManualClock(1_700_000_030.0)
    state = contract_state()
    async with okta_rig(state, clock=clock, rate_limits=RateLimitConfig.uniform(3)) as rig:
        timer = ManualTimer(clock)
        connector = rig.connector(timer=timer)
        user_id = _user_id(state, "ada@example.com")
        for _ in range(7):
            await connector.get_user(user_id)
        statuses = [e.response.status for e in rig.seen("/api/v1/users/*")]
        assert statuses == [200] * 7  # no 429 was ever collected
        assert connector.stats.paced_waits == 2 and connector.stats.rate_limited == 0
        assert all(0 < s <= 60.25 for s in timer.sleeps)


async def test_429_budget_exhausted_is_unavailable_with_retry_after() -> None:
    clock = ManualClock(1_700_000_000.0)
    state = contract_state()
    async with okta_rig(state, clock=clock, rate_limits=RateLimitConfig.uniform(1)) as rig:
        connector = rig.connector(timer=ManualTimer(clock), max_retry_wait=5)
        assert rig.sandbox.limiter.acquire(Bucket.USER_GET).allowed
        rig.sandbox.limiter.release()
        with pytest.raises(Unavailable) as info:
            await connector.get_user(_user_id(state, "ada@example.com"))
        assert info.value.code == "E0000047"
        assert info.value.retry_after is not None and 0 < info.value.retry_after <= 60
        assert len(rig.seen("/api/v1/users/*")) == 1  # waiting would have broken the budget


# -- server errors and timeouts --------------------------------------------------------


async def test_5xx_is_retried_within_the_attempt_budget() -> None:
    state = contract_state()
    async with okta_rig(state) as rig:
        timer = ManualTimer(ManualClock())
        connector = rig.connector(timer=timer, max_attempts=4)
        user_id = _user_id(state, "ada@example.com")

        rig.sandbox.faults.fail_next(2, status=503, path="/api/v1/users/*")
        assert (await connector.get_user(user_id)).id == user_id
        assert [e.response.status for e in rig.seen("/api/v1/users/*")] == [503, 503, 200]

        rig.clear()
        timer.sleeps.clear()
        rig.sandbox.faults.fail_next(10, status=500, path="/api/v1/users/*")
        with pytest.raises(Unavailable) as info:
            await connector.get_user(user_id)
        assert info.value.code == "E0000009"
        assert len(rig.seen("/api/v1/users/*")) == 4 and len(timer.sleeps) == 3
        rig.sandbox.faults.clear()


async def test_5xx_retries_stop_at_the_time_budget() -> None:
    state = contract_state()
    async with okta_rig(state) as rig:
        timer = ManualTimer(ManualClock())
        connector = rig.connector(timer=timer, max_attempts=10, max_retry_wait=2.0)
        rig.sandbox.faults.fail_next(10, status=503, path="/api/v1/users/*")
        with pytest.raises(Unavailable):
            await connector.get_user(_user_id(state, "ada@example.com"))
        attempts = len(rig.seen("/api/v1/users/*"))
        assert 1 <= attempts < 10 and sum(timer.sleeps) <= 2.0
        rig.sandbox.faults.clear()


async def test_timeout_of_a_read_is_retried() -> None:
    state = contract_state()
    async with okta_rig(state) as rig:
        connector = rig.connector(timer=ManualTimer(ManualClock()), request_timeout=0.3)
        rig.sandbox.faults.hang_next(seconds=1.0, path="/api/v1/users/*", method="GET")
        user = await connector.get_user(_user_id(state, "ada@example.com"))
        assert user.email == "ada@example.com"
        assert connector.stats.transport_errors == 1 and connector.stats.retries == 1
        await asyncio.sleep(1.0)  # let the hung request finish so it is recorded


@pytest.mark.parametrize(
    ("delivery", "operation"),
    [
        (ResetDelivery.LINK, "reset_password"),
        (ResetDelivery.TEMP_PASSWORD, "expire_password_with_temp_password"),
    ],
)
async def test_reset_is_never_resent_after_a_5xx(delivery: ResetDelivery, operation: str) -> None:
    state = contract_state()
    async with okta_rig(state) as rig:
        connector = rig.connector(timer=ManualTimer(ManualClock()))
        user = await connector.find_user_by_email("ada@example.com")
        rig.sandbox.faults.fail_next(1, status=500, path=f"/api/v1/users/*/lifecycle/{operation}")
        with pytest.raises(Unavailable):
            await connector.start_password_reset(user, delivery)
        assert len(rig.seen(f"/api/v1/users/*/lifecycle/{operation}")) == 1
        assert connector.stats.retries == 0


async def test_reset_is_not_resent_after_a_timeout() -> None:
    state = contract_state()
    async with okta_rig(state) as rig:
        connector = rig.connector(timer=ManualTimer(ManualClock()), request_timeout=0.3)
        user = await connector.find_user_by_email("ada@example.com")
        path = "/api/v1/users/*/lifecycle/expire_password_with_temp_password"
        rig.sandbox.faults.hang_next(seconds=0.8, path=path)
        with pytest.raises(Unavailable, match="timed out"):
            await connector.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
        await asyncio.sleep(1.0)
        # Okta did act on the one request: sending it again would issue a second password.
        assert len(rig.seen(path)) == 1
        assert state.users[user.id].status.value == "PASSWORD_EXPIRED"


async def test_reset_is_resent_after_a_429() -> None:
    clock = ManualClock(1_700_000_020.0)
    state = contract_state()
    async with okta_rig(state, clock=clock) as rig:
        connector = rig.connector(timer=ManualTimer(clock))
        user = await connector.find_user_by_email("ada@example.com")
        path = "/api/v1/users/*/lifecycle/reset_password"
        rig.sandbox.faults.fail_next(1, status=429, path=path)
        grant = await connector.start_password_reset(user, ResetDelivery.LINK)
        calls = rig.seen(path)
        assert [e.response.status for e in calls] == [429, 200]
        assert grant.secret.reveal() == calls[1].response.json()["resetPasswordUrl"]
        query = parse_qs(urlsplit(calls[1].request.url).query)
        assert query["sendEmail"] == ["false"]


# -- lifecycle specifics ---------------------------------------------------------------


async def test_unlock_of_an_unlocked_user_sends_no_lifecycle_call(rig: OktaRig) -> None:
    connector = rig.connector()
    user = await connector.find_user_by_email("ada@example.com")
    rig.clear()
    assert await connector.unlock(user) is UnlockResult.NOT_LOCKED
    assert rig.seen("*/lifecycle/*") == []
    assert [e.request.method for e in rig.exchanges] == ["GET"]


async def test_unlock_reads_the_status_fresh(rig: OktaRig) -> None:
    connector = rig.connector()
    user = await connector.find_user_by_email("locked@example.com")
    assert user.status is UserStatus.LOCKED_OUT
    # Someone else unlocks the account between our lookup and our unlock.
    state = rig.sandbox.state
    state.set_status(state.users[user.id], OktaStatus.ACTIVE)
    rig.clear()
    assert await connector.unlock(user) is UnlockResult.NOT_LOCKED
    assert rig.seen("*/lifecycle/*") == []


async def test_reset_link_lifetime_follows_the_policy(rig: OktaRig) -> None:
    connector = rig.connector(reset_link_max_minutes=24 * 60)
    user = await connector.find_user_by_email("ada@example.com")
    started = datetime.now(UTC)
    grant = await connector.start_password_reset(user, ResetDelivery.LINK)
    assert grant.secret.reveal().startswith(rig.sandbox.url + "/reset_password/")
    assert grant.expires_at is not None
    # The sandbox's default policy keeps recovery tokens 60 minutes.
    lifetime = grant.expires_at - started
    assert timedelta(minutes=59) < lifetime < timedelta(minutes=61)
    assert not grant.must_change_at_next_login


async def test_reset_link_lifetime_is_capped(rig: OktaRig) -> None:
    connector = rig.connector(reset_link_max_minutes=15)
    user = await connector.find_user_by_email("ada@example.com")
    grant = await connector.start_password_reset(user, ResetDelivery.LINK)
    assert grant.expires_at is not None
    assert grant.expires_at - datetime.now(UTC) <= timedelta(minutes=15)


async def test_temporary_password_expires_the_current_one(rig: OktaRig) -> None:
    connector = rig.connector()
    user = await connector.find_user_by_email("ada@example.com")
    grant = await connector.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
    assert grant.must_change_at_next_login and grant.expires_at is None
    assert (await connector.get_user(user.id)).status is UserStatus.PASSWORD_EXPIRED
    (call,) = rig.seen("*/lifecycle/expire_password_with_temp_password")
    assert dict(call.request.query) == {"revokeSessions": "true"}


async def test_reset_of_a_suspended_user_is_invalid_state() -> None:
    users = [{"login": "away@example.com", "status": "SUSPENDED"}]
    async with okta_rig(contract_state(users=users)) as rig:
        connector = rig.connector()
        user = await connector.find_user_by_email("away@example.com")
        with pytest.raises(InvalidState) as info:
            await connector.start_password_reset(user, ResetDelivery.TEMP_PASSWORD)
        assert info.value.code == "E0000038"


async def test_unknown_factor_removes_nothing(rig: OktaRig) -> None:
    connector = rig.connector()
    user = await connector.find_user_by_email("phone@example.com")
    assert await connector.reset_factors(user, "opfNoSuchFactor000000") == 0
    assert rig.seen("*/factors/*", "DELETE") == []
    assert len(await connector.list_factors(user)) == 2


async def test_reset_all_factors_of_an_unenrolled_user_sends_nothing(rig: OktaRig) -> None:
    connector = rig.connector()
    user = await connector.find_user_by_email("ada@example.com")
    assert await connector.reset_factors(user) == 0
    assert rig.seen("*/lifecycle/*") == []


# -- password policies -----------------------------------------------------------------


def _policy_state() -> OktaState:
    state = contract_state(
        groups=[{"name": "contractors"}],
        users=[
            {
                "login": "temp@example.com",
                "groups": ["contractors"],
                "password_changed_days_ago": 20,
            },
            {
                "login": "both@example.com",
                "groups": ["contractors", "service-accounts"],
                "password_changed_days_ago": 200,
            },
            {
                "login": "fresh@example.com",
                "groups": ["contractors"],
                "password_changed_days_ago": 1,
            },
        ],
    )
    contractors = state.group_by_name("contractors")
    assert contractors is not None
    # Priorities: service accounts 1 (never), contractors 2 (30 days), default 3 (90 days).
    for policy in state.policies_of_type("PASSWORD"):
        if policy.name == "Default Policy":
            policy.priority = 3
    state.add_password_policy(
        "Contractors", max_age_days=30, priority=2, group_ids=[contractors.id]
    )
    # An inactive policy that would otherwise win for contractors.
    inactive = state.add_password_policy(
        "Old contractors", max_age_days=1, priority=0, group_ids=[contractors.id]
    )
    inactive.status = "INACTIVE"
    return state


async def test_expiry_follows_the_first_matching_active_policy() -> None:
    state = _policy_state()
    now = datetime.now(UTC)
    async with okta_rig(state) as rig:
        connector = rig.connector()
        temp = await connector.find_user_by_email("temp@example.com")
        status = await connector.password_status(temp)
        assert status.expires_at is not None and not status.never_expires
        assert timedelta(days=9) < status.expires_at - now < timedelta(days=11)

        both = await connector.find_user_by_email("both@example.com")
        assert (await connector.password_status(both)).never_expires

        svc = await connector.find_user_by_email("svc@example.com")
        svc_status = await connector.password_status(svc)
        assert svc_status.never_expires and svc_status.expires_at is None
        assert svc_status.last_changed is not None

        found = {
            row.user.email
            async for page in connector.iter_expiring(now + timedelta(days=14))
            for row in page
        }
        # soon@ (85 of 90 days) and temp@ (20 of 30); never-expiring and fresh users not.
        assert found == {"soon@example.com", "temp@example.com"}
        # The policy list was read once and cached.
        assert len(rig.seen("/api/v1/policies")) == 1


async def test_no_expiring_policy_means_no_sweep() -> None:
    state = contract_state()
    for policy in state.policies_of_type("PASSWORD"):
        policy.settings["password"]["age"]["maxAgeDays"] = 0
    async with okta_rig(state) as rig:
        connector = rig.connector()
        rows = [
            page async for page in connector.iter_expiring(datetime.now(UTC) + timedelta(days=3650))
        ]
        assert rows == []
        assert rig.seen("/api/v1/users") == []


# -- privilege checks ------------------------------------------------------------------


async def test_admin_roles_direct_and_through_groups() -> None:
    state = contract_state(
        groups=[{"name": "it-admins", "roles": ["ORG_ADMIN"]}],
        users=[{"login": "barbara@example.com", "groups": ["it-admins"]}],
    )
    async with okta_rig(state) as rig:
        connector = rig.connector(protected_groups=("Figma-Editors",))
        root = await connector.find_user_by_email("root@example.com")
        assert await connector.protections(root, []) == [ADMIN("SUPER_ADMIN")]
        barbara = await connector.find_user_by_email("barbara@example.com")
        assert await connector.protections(barbara, ["IT-ADMINS"]) == [
            ADMIN("ORG_ADMIN"),
            GROUP("it-admins"),
        ]
        ada = await connector.find_user_by_email("ada@example.com")
        assert await connector.protections(ada, ["it-admins"]) == []
        group = await connector.find_group("figma-editors")
        await connector.add_to_group(ada, group)
        # Protected by configuration as well as by the caller.
        assert await connector.protections(ada, []) == [GROUP("figma-editors")]


async def test_privilege_check_fails_closed() -> None:
    users = [{"login": "desk@example.com", "roles": ["HELP_DESK_ADMIN"]}]
    tokens = [{"name": "desk", "value": "desk-token-not-secret", "owner": "desk@example.com"}]
    async with okta_rig(contract_state(users=users, api_tokens=tokens)) as rig:
        # A help desk admin alone may not read role assignments.
        connector = rig.connector(token="desk-token-not-secret")
        ada = await connector.find_user_by_email("ada@example.com")
        with pytest.raises(PermissionDenied):
            await connector.protections(ada, [])


async def test_admins_are_out_of_the_helpdesk_token_reach(rig: OktaRig) -> None:
    connector = rig.connector()
    root = await connector.find_user_by_email("root@example.com")
    with pytest.raises(PermissionDenied) as info:
        await connector.start_password_reset(root, ResetDelivery.LINK)
    assert info.value.code == "E0000006"


async def test_invalid_token_is_permission_denied(rig: OktaRig) -> None:
    connector = rig.connector(token="not-a-real-token")
    with pytest.raises(PermissionDenied, match="token") as info:
        await connector.find_user_by_email("ada@example.com")
    assert info.value.code == "E0000011"
    assert "not-a-real-token" not in str(info.value)
