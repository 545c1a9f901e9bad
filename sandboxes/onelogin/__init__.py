"""A local OneLogin-compatible server for tests and demos ("the OneLogin sandbox").

Public surface::

    OneLoginState, load_seed, DEMO_SEED   the in-memory account and how to build it
    create_app                            the Starlette app
    ManualClock                           an injectable clock (also a fake ``sleep``)
    run_onelogin_sandbox, OneLoginSandbox serve it on 127.0.0.1 (port 0) in-process

Nothing here talks to a real OneLogin account.
"""

from pathlib import Path

from sandboxes.onelogin.app import create_app
from sandboxes.onelogin.clock import ManualClock
from sandboxes.onelogin.runtime import FaultInjector, RateLimiter, RecordedRequest, TokenStore
from sandboxes.onelogin.server import OneLoginSandbox, run_onelogin_sandbox
from sandboxes.onelogin.state import OneLoginState, load_seed

DEMO_SEED = Path(__file__).with_name("seed") / "demo.yaml"

__all__ = [
    "DEMO_SEED",
    "FaultInjector",
    "ManualClock",
    "OneLoginSandbox",
    "OneLoginState",
    "RateLimiter",
    "RecordedRequest",
    "TokenStore",
    "create_app",
    "load_seed",
    "run_onelogin_sandbox",
]
