"""Ready-made orgs: the demo seed, the seed file format, and a fast user generator.

Seed format (every section optional; ``seed/demo.yaml`` is a full example)::

    seed: demo                      # makes minted ids reproducible
    groups:
      - {name: it-admins, description: ..., roles: [ORG_ADMIN], type: OKTA_GROUP}
    users:
      - login: ada@example.com      # email defaults to login
        firstName: Ada
        lastName: Lovelace
        profile: {department: Engineering}     # any other profile attributes
        status: LOCKED_OUT                     # default ACTIVE
        groups: [vpn-users]
        roles: [SUPER_ADMIN]
        created_days_ago: 400                  # or created: 2024-01-01T00:00:00Z
        password_changed_days_ago: 85          # or password_changed: ...
        last_login_days_ago: 1                 # or last_login: ...
        factors: [{type: push, provider: OKTA, profile: {...}}]
    policies:                       # PASSWORD policies; lower priority number wins
      - {name: Never expire, priority: 1, max_age_days: 0, groups: [service-accounts]}
    api_tokens:
      - {name: helpdesk-bot, value: demo-token-not-secret, owner: svc@example.com}

Relative ``*_days_ago`` times are taken from the org clock at load time, so the demo
org looks the same whenever it is loaded. :func:`load_seed` reads this format.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sandboxes.okta.state import OktaState, UserStatus, load_seed

__all__ = [
    "BENCH_ADMIN_LOGIN",
    "BENCH_TOKEN",
    "DEMO_SEED",
    "DEMO_TOKEN",
    "generate_users",
    "load_seed",
]

DEMO_SEED = Path(__file__).with_name("seed") / "demo.yaml"
# The demo org's SSWS token (api_tokens in demo.yaml): a fixture value, not a secret.
DEMO_TOKEN = "demo-token-not-secret"
# The token of orgs made by generate_users(state=None), owned by a super admin.
BENCH_TOKEN = "bench-token-not-secret"
BENCH_ADMIN_LOGIN = "sandbox-admin@example.com"
DEFAULT_MAX_AGE_DAYS = 90

_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia")
_LAST = ("Hopper", "Turing", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Ritchie")
_DEPARTMENTS = ("Engineering", "Sales", "Finance", "Support")


def generate_users(
    count: int,
    *,
    state: OktaState | None = None,
    expiring_within_days: int = 14,
    expiring_fraction: float = 0.1,
    locked_fraction: float = 0.0,
    group_names: Sequence[str] = (),
    domain: str = "example.com",
    seed: int = 0,
) -> OktaState:
    """Add ``count`` users to ``state`` (a new org when None) and return the org.

    A new org has a 90-day default password policy and a super admin
    ``sandbox-admin@example.com`` owning the token ``bench-token-not-secret``.
    ``expiring_fraction`` of the users have a password expiring within
    ``expiring_within_days`` under the default policy; the others changed theirs too
    recently for that. ``locked_fraction`` are ``LOCKED_OUT``. All generated users join
    ``group_names`` (created when missing). 100,000 users take about a second.
    """
    if state is None:
        state = _bench_org()
    rng = random.Random(seed)
    now = state.now()
    max_age = _default_max_age(state)
    window = max(0, min(expiring_within_days, max_age))
    fresh_span = max(max_age - window - 1, 1) if max_age else 365
    created = now - timedelta(days=(max_age or 365) + 30)
    groups = [state.group_by_name(name) or state.add_group(name) for name in group_names]
    offset = len(state.users)
    for index in range(offset, offset + count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        if window and rng.random() < expiring_fraction:
            age_days = max_age - rng.uniform(0, window)
        else:
            age_days = rng.uniform(0, fresh_span)
        locked = locked_fraction > 0 and rng.random() < locked_fraction
        login = f"user{index:06d}@{domain}"
        user = state.add_user(
            {
                "login": login,
                "email": login,
                "firstName": first,
                "lastName": last,
                "displayName": f"{first} {last}",
                "department": rng.choice(_DEPARTMENTS),
            },
            status=UserStatus.LOCKED_OUT if locked else UserStatus.ACTIVE,
            created=created,
            password_changed=now - timedelta(days=age_days),
        )
        for group in groups:
            state.add_member(group.id, user.id)
    return state


def _default_max_age(state: OktaState) -> int:
    """The password age of the org-wide policy (one that includes no groups), 0 if none."""
    for policy in state.policies_of_type("PASSWORD"):
        if not policy.include_group_ids and policy.status == "ACTIVE":
            return policy.max_age_days
    return 0


def _bench_org() -> OktaState:
    state = OktaState(seed="bench")
    admin = state.add_user(
        {"login": BENCH_ADMIN_LOGIN, "firstName": "Sandbox", "lastName": "Admin"},
        password_changed=state.now(),
    )
    state.assign_role("SUPER_ADMIN", user_id=admin.id)
    state.add_api_token(BENCH_TOKEN, admin.id, "bench")
    state.add_password_policy("Default Policy", max_age_days=DEFAULT_MAX_AGE_DAYS, system=True)
    return state
