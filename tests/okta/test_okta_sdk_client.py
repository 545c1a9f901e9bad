"""The slim SDK client: every typed call the connector makes exists on it, and the
bot never imports the SDK's everything-client (``okta.client``, ~100 MiB)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import okta.client

from connectors.okta.sdk import OPERATIONS, DirectoryClient

ROOT = Path(__file__).resolve().parents[2]
CALL = re.compile(r"\.api\.client\.(\w+)\(|self\.client\.(\w+)\(")


def _called() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "connectors" / "okta").glob("*.py"):
        for match in CALL.finditer(path.read_text()):
            names.add(match.group(1) or match.group(2))
    return names - {"get_request_executor"}


def test_every_typed_call_the_connector_makes_is_listed_and_on_the_client() -> None:
    called = _called()
    listed = {name for names in OPERATIONS.values() for name in names}
    assert called, "the scan found no typed calls: the pattern no longer matches the code"
    assert called == listed
    for api, names in OPERATIONS.items():
        assert issubclass(DirectoryClient, api)
        for name in names:
            # The SDK's own method, from the API class it is listed under.
            assert getattr(DirectoryClient, name) is getattr(api, name)
            assert getattr(DirectoryClient, name) is getattr(okta.client.Client, name)


def test_the_running_bot_does_not_import_the_sdks_whole_client() -> None:
    code = (
        "import sys, bot.cli, bot.serve, connectors.okta;"
        "print('okta.client' in sys.modules, len([m for m in sys.modules"
        " if m.startswith('okta.api.')]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "False"
    assert int(out[1]) == len(OPERATIONS)
