"""The Okta doctor against the sandbox (every exchange checked against Okta's OpenAPI spec).

The sandbox's admin roles apply org-wide and it serves no Role Targets API, so
group targets are exercised through the connector's paging with canned pages
and through the pure judgement function.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.base import ALL_CAPABILITIES, Capability, ResetDelivery
from connectors.doctor import Finding, Findings, Needs, Status
from connectors.okta.connector import OktaConnector
from connectors.okta.doctor import diagnose
from connectors.okta.errors import Subject
from connectors.okta.privilege import (
    Need,
    assess_roles,
    least_roles,
    least_scopes,
    needs_of,
    target_findings,
)
from connectors.okta.settings import DEFAULT_SCOPES
from tests.okta.conftest import BOT_ROLES, OktaRig, contract_state, okta_rig

EVERYTHING = Capability.NONE
for _cap in ALL_CAPABILITIES:
    EVERYTHING |= _cap

NEEDS = Needs(
    capabilities=EVERYTHING,
    groups=("figma-editors",),
    protected_groups=("payroll-admins",),
    reset_delivery=ResetDelivery.LINK,
)
CLIENT_ID = "0oadoctortest0000001"
KEY_ENV = "OKTA_DOCTOR_KEY"


def _by_check(rows: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in rows}


async def _diagnose(connector: OktaConnector, needs: Needs) -> list[Finding]:
    """The kind's ``diagnose``, with the settings the connector was built from."""
    return await diagnose(connector, connector.settings, needs)


def _owner(login: str, roles: list[str], token: str) -> dict[str, list[dict[str, Any]]]:
    """Seed extras: a service user holding ``roles`` and an API token it owns."""
    return {
        "users": [
            {
                "login": login,
                "firstName": "Svc",
                "lastName": login.split("@")[0],
                "roles": roles,
                "password_changed_days_ago": 5,
            }
        ],
        "api_tokens": [{"name": login, "value": token, "owner": login}],
    }


async def test_least_privileged_token_passes(rig: OktaRig) -> None:
    rows = await _diagnose(rig.connector(), NEEDS)
    found = _by_check(rows)
    assert found["connect"].status is Status.OK
    assert "bot@example.com" in found["connect"].summary
    assert found["admin roles"].status is Status.OK
    assert set(found["admin roles"].data["least_roles"]) == set(BOT_ROLES)
    assert found["least privilege"].status is Status.OK
    # The sandbox has no Role Targets API: unknown, never guessed.
    assert found["targets GROUP_MEMBERSHIP_ADMIN"].status is Status.SKIP
    assert found["group figma-editors"].status is Status.OK
    assert found["protected groups"].status is Status.OK
    assert found["password policies"].status is Status.OK
    assert not [f for f in rows if f.status is Status.FAIL]
    # Read-only: nothing but GETs reached the org.
    assert {e.request.method for e in rig.exchanges} == {"GET"}


async def test_super_admin_token_is_over_privileged() -> None:
    state = contract_state(**_owner("root-svc@example.com", ["SUPER_ADMIN"], "root-token-x1"))
    async with okta_rig(state) as rig:
        rows = await _diagnose(rig.connector(token="root-token-x1"), NEEDS)
    found = _by_check(rows)
    assert found["admin roles"].status is Status.OK  # it can do everything...
    over = found["least privilege"]
    assert over.status is Status.FAIL  # ...which is the problem
    assert "SUPER_ADMIN" in over.summary
    assert over.fix is not None
    for role in ("HELP_DESK_ADMIN", "GROUP_MEMBERSHIP_ADMIN targeted at figma-editors"):
        assert role in over.fix
    assert over.data["over_privileged"] == ["SUPER_ADMIN"]


async def test_org_admin_through_a_group_is_over_privileged() -> None:
    extra = _owner("org-svc@example.com", [], "org-token-x1")
    extra["groups"] = [{"name": "okta-admins", "roles": ["ORG_ADMIN"]}]
    extra["users"][0]["groups"] = ["okta-admins"]
    async with okta_rig(contract_state(**extra)) as rig:
        rows = await _diagnose(rig.connector(token="org-token-x1"), NEEDS)
    found = _by_check(rows)
    assert found["least privilege"].status is Status.FAIL
    assert "ORG_ADMIN" in found["least privilege"].summary
    assert "via group" in found["admin roles"].summary


async def test_help_desk_only_token_cannot_read_roles() -> None:
    state = contract_state(**_owner("hd@example.com", ["HELP_DESK_ADMIN"], "hd-token-x1"))
    async with okta_rig(state) as rig:
        rows = await _diagnose(rig.connector(token="hd-token-x1"), NEEDS)
    found = _by_check(rows)
    roles = found["admin roles"]
    assert roles.status is Status.FAIL
    assert "protected-account check" in roles.summary
    assert roles.fix is not None and "REPORT_ADMIN" in roles.fix
    assert found["password policies"].status is Status.FAIL


async def test_missing_group_membership_role_fails() -> None:
    extra = _owner("hdr@example.com", ["HELP_DESK_ADMIN", "REPORT_ADMIN"], "hdr-token-x1")
    async with okta_rig(contract_state(**extra)) as rig:
        rows = await _diagnose(rig.connector(token="hdr-token-x1"), NEEDS)
    roles = _by_check(rows)["admin roles"]
    assert roles.status is Status.FAIL
    assert Need.MEMBERSHIP.value in roles.summary
    assert roles.fix is not None and "GROUP_MEMBERSHIP_ADMIN" in roles.fix
    # Without the groups capability the same token is exactly right.
    async with okta_rig(contract_state(**extra)) as rig:
        needs = Needs(capabilities=EVERYTHING & ~Capability.GROUPS)
        rows = await _diagnose(rig.connector(token="hdr-token-x1"), needs)
    found = _by_check(rows)
    assert found["admin roles"].status is Status.OK
    assert found["least privilege"].status is Status.OK


async def test_group_admin_is_more_than_needed() -> None:
    extra = _owner("ga@example.com", ["USER_ADMIN", "REPORT_ADMIN"], "ga-token-x1")
    async with okta_rig(contract_state(**extra)) as rig:
        rows = await _diagnose(rig.connector(token="ga-token-x1"), NEEDS)
    found = _by_check(rows)
    assert found["admin roles"].status is Status.OK
    assert found["least privilege"].status is Status.WARN
    assert "USER_ADMIN: more than needed" in found["least privilege"].summary


async def test_catalogue_and_protected_groups_must_exist(rig: OktaRig) -> None:
    needs = Needs(
        capabilities=EVERYTHING,
        groups=("figma-editors", "no-such-group"),
        protected_groups=("payroll-admins", "ghosts"),
    )
    found = _by_check(await _diagnose(rig.connector(), needs))
    assert found["group no-such-group"].status is Status.FAIL
    assert found["protected groups"].status is Status.WARN
    assert found["protected groups"].data["missing"] == ["ghosts"]


async def test_revoked_token_fails_to_connect(rig: OktaRig) -> None:
    rows = await _diagnose(rig.connector(token="not-a-token-at-all"), NEEDS)
    assert [f.check for f in rows] == ["connect"]
    assert rows[0].status is Status.FAIL
    assert "API token" in rows[0].summary


# -- OAuth service apps ------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return pem, {**public, "kid": "k1", "use": "sig", "alg": "RS256"}


def _service_app(rig: OktaRig, pem: str, **overrides: Any) -> OktaConnector:
    return rig.connector(
        api_token=None,
        client_id=CLIENT_ID,
        private_key={"env": KEY_ENV},
        key_id="k1",
        environ={KEY_ENV: pem},
        **overrides,
    )


async def test_service_app_with_the_least_scopes(key_pair: tuple[str, dict[str, Any]]) -> None:
    pem, public = key_pair
    state = contract_state()
    state.add_oauth_client(CLIENT_ID, jwks=[public], scopes=DEFAULT_SCOPES, roles=BOT_ROLES)
    async with okta_rig(state) as rig:
        rows = await _diagnose(_service_app(rig, pem), NEEDS)
    found = _by_check(rows)
    assert found["connect"].status is Status.OK
    assert CLIENT_ID in found["connect"].summary
    assert found["scopes"].status is Status.OK
    # The sandbox does not serve the client-roles API: the roles are unknown, not "none".
    assert found["admin roles"].status is Status.SKIP


async def test_service_app_scopes_missing_and_extra(key_pair: tuple[str, dict[str, Any]]) -> None:
    pem, public = key_pair
    state = contract_state()
    granted = [*DEFAULT_SCOPES, "okta.users.read"]
    state.add_oauth_client(CLIENT_ID, jwks=[public], scopes=granted, roles=BOT_ROLES)
    async with okta_rig(state) as rig:
        lacking = _service_app(rig, pem, scopes=("okta.users.manage", "okta.groups.manage"))
        found = _by_check(await _diagnose(lacking, NEEDS))
        assert found["scopes"].status is Status.FAIL
        assert found["scopes"].data["missing"] == ["okta.policies.read", "okta.roles.read"]
        only_expiry = Needs(capabilities=Capability.PASSWORD_EXPIRY)
        found = _by_check(await _diagnose(_service_app(rig, pem), only_expiry))
        assert found["scopes"].status is Status.WARN
        assert "okta.users.manage" in found["scopes"].data["extra"]


async def test_service_app_asking_for_an_ungranted_scope(
    key_pair: tuple[str, dict[str, Any]],
) -> None:
    pem, public = key_pair
    state = contract_state()
    state.add_oauth_client(CLIENT_ID, jwks=[public], scopes=["okta.users.read"], roles=BOT_ROLES)
    async with okta_rig(state) as rig:
        rows = await _diagnose(_service_app(rig, pem), NEEDS)
    assert [f.check for f in rows] == ["connect"]
    assert rows[0].status is Status.FAIL
    assert rows[0].data["code"] == "invalid_scope"


# -- group targets -----------------------------------------------------------------------


async def test_targets_are_read_from_the_roles_api(
    rig: OktaRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real Okta answers the targets list; ``[]`` means the role is not limited."""
    connector = rig.connector()
    pages = connector.api.pages
    answers: dict[str, list[list[dict[str, Any]]]] = {
        "GROUP_MEMBERSHIP_ADMIN": [[{"id": "00g1", "profile": {"name": "figma-editors"}}]],
        "HELP_DESK_ADMIN": [[]],
    }
    seen: list[str] = []

    async def fake_pages(
        path: str, params: Mapping[str, str], subject: Any
    ) -> AsyncIterator[list[dict[str, Any]]]:
        if path.endswith("/targets/groups"):
            seen.append(path)
            assignment = path.split("/roles/")[1].split("/")[0]
            role = role_of[assignment]
            for page in answers.get(role, [[]]):
                yield page
            return
        async for page in pages(path, params, subject):
            yield page

    me = await connector.api.get("/api/v1/users/me", subject=Subject.USER)
    path = f"/api/v1/users/{me['id']}/roles"
    listed = await connector.api.get(path, subject=Subject.OTHER)
    role_of = {item["id"]: item["type"] for item in listed}
    monkeypatch.setattr(connector.api, "pages", fake_pages)
    found = _by_check(await _diagnose(connector, NEEDS))
    assert len(seen) == 2
    assert found["targets GROUP_MEMBERSHIP_ADMIN"].status is Status.OK
    assert found["targets GROUP_MEMBERSHIP_ADMIN"].data["targets"] == ["figma-editors"]
    assert found["targets HELP_DESK_ADMIN"].status is Status.OK


def _judge(role: str, targets: list[str] | None, needs: Needs = NEEDS) -> list[Finding]:
    out = Findings("okta")
    target_findings(role, targets, needs, out)
    return out.rows


def test_org_wide_membership_role_is_a_warning() -> None:
    (row,) = _judge("GROUP_MEMBERSHIP_ADMIN", [])
    assert row.status is Status.WARN
    assert row.fix is not None and "figma-editors" in row.fix


def test_targets_must_cover_the_catalogue_and_no_more() -> None:
    needs = Needs(capabilities=EVERYTHING, groups=("figma-editors", "vpn-users"))
    (short,) = _judge("GROUP_MEMBERSHIP_ADMIN", ["figma-editors"], needs)
    assert short.status is Status.FAIL
    assert short.data["missing"] == ["vpn-users"]
    (wide,) = _judge("GROUP_MEMBERSHIP_ADMIN", ["figma-editors", "vpn-users", "hr"], needs)
    assert wide.status is Status.WARN
    assert wide.data["extra"] == ["hr"]
    (exact,) = _judge("GROUP_MEMBERSHIP_ADMIN", ["VPN-users", "figma-editors"], needs)
    assert exact.status is Status.OK


def test_targeted_help_desk_role_leaves_others_unserved() -> None:
    (row,) = _judge("HELP_DESK_ADMIN", ["engineering"])
    assert row.status is Status.WARN
    assert "engineering" in row.summary
    assert _judge("HELP_DESK_ADMIN", None)[0].status is Status.SKIP
    # A role the deployment does not use says nothing about targets.
    assert _judge("HELP_DESK_ADMIN", ["x"], Needs(capabilities=Capability.GROUPS)) == []


# -- the role model ----------------------------------------------------------------------


def test_least_roles_and_scopes_follow_the_capabilities() -> None:
    assert least_roles(needs_of(NEEDS)) == [
        "HELP_DESK_ADMIN",
        "GROUP_MEMBERSHIP_ADMIN",
        "REPORT_ADMIN",
    ]
    only_groups = needs_of(Needs(capabilities=Capability.GROUPS))
    assert least_roles(only_groups) == ["GROUP_MEMBERSHIP_ADMIN"]
    assert least_scopes(only_groups) == ["okta.users.read", "okta.groups.manage"]
    expiry = needs_of(Needs(capabilities=Capability.PASSWORD_EXPIRY))
    assert least_roles(expiry) == ["REPORT_ADMIN"]
    assert least_scopes(expiry) == ["okta.users.read", "okta.policies.read", "okta.groups.read"]
    assert sorted(least_scopes(needs_of(NEEDS))) == sorted(DEFAULT_SCOPES)


def test_assessment_names_top_broader_and_unneeded_roles() -> None:
    wanted = needs_of(NEEDS)
    top = assess_roles(["SUPER_ADMIN", "HELP_DESK_ADMIN"], wanted)
    assert top.top == ("SUPER_ADMIN",)
    assert not top.missing
    assert "HELP_DESK_ADMIN" not in top.unneeded  # part of the least set
    extra = assess_roles([*BOT_ROLES, "MOBILE_ADMIN", "READ_ONLY_ADMIN"], wanted)
    assert set(extra.unneeded) == {"MOBILE_ADMIN", "READ_ONLY_ADMIN"}
    custom = assess_roles([*BOT_ROLES, "CUSTOM"], wanted)
    assert custom.custom == ("CUSTOM",)
    assert assess_roles([], wanted).missing == wanted
