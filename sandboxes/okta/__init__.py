"""A local Okta-compatible server for tests and demos ("the Okta sandbox").

Public surface::

    OktaState, UserStatus            the in-memory org (state)
    load_seed, generate_users        build an org from YAML / generate many users (seed)
    DEMO_SEED, DEMO_TOKEN            the shipped demo org and its API token
    create_app                       the Starlette app (app)
    RateLimitConfig, ManualClock     rate-limit budgets, an injectable clock
    run_okta_sandbox                 async context manager serving HTTPS (server)
    OktaSandboxThread, OktaSandbox   the same from a background thread; the handle
    Exchange, RecordedRequest, RecordedResponse   what ``on_exchange`` receives

Nothing here talks to a real Okta org.
"""

from sandboxes.okta.app import create_app
from sandboxes.okta.clock import ManualClock
from sandboxes.okta.exchange import Exchange, RecordedRequest, RecordedResponse
from sandboxes.okta.ratelimit import Bucket, RateLimitConfig
from sandboxes.okta.seed import BENCH_TOKEN, DEMO_SEED, DEMO_TOKEN, generate_users, load_seed
from sandboxes.okta.server import OktaSandbox, OktaSandboxThread, run_okta_sandbox
from sandboxes.okta.state import OktaState, UserStatus

__all__ = [
    "BENCH_TOKEN",
    "DEMO_SEED",
    "DEMO_TOKEN",
    "Bucket",
    "Exchange",
    "ManualClock",
    "OktaSandbox",
    "OktaSandboxThread",
    "OktaState",
    "RateLimitConfig",
    "RecordedRequest",
    "RecordedResponse",
    "UserStatus",
    "create_app",
    "generate_users",
    "load_seed",
    "run_okta_sandbox",
]
