"""``helpdesk doctor``: is the configuration valid and does every connector answer?

Checks each connector by looking up an address that cannot exist: a clean
"not found" proves connectivity and authentication without touching anyone.
"""

from __future__ import annotations

import json
import os

from actions.providers import Providers
from config.secrets import MissingSecret
from config.settings import HelpdeskConfig
from connectors.errors import ConnectorError, UserNotFound

PROBE_EMAIL = "helpdesk-doctor-probe@invalid.invalid"


async def run_doctor(cfg: HelpdeskConfig, *, as_json: bool = False) -> int:
    rows: list[dict[str, str]] = []
    for ref_name, ref in (
        ("slack.bot_token", cfg.slack.bot_token),
        ("slack.signing_secret", cfg.slack.signing_secret),
    ):
        try:
            ref.resolve(os.environ)
            rows.append({"check": ref_name, "status": "ok", "detail": ref.describe()})
        except MissingSecret as exc:
            rows.append({"check": ref_name, "status": "problem", "detail": str(exc)})
    try:
        providers = Providers.from_config(cfg)
    except MissingSecret as exc:
        rows.append({"check": "connectors", "status": "problem", "detail": str(exc)})
        providers = None
    if providers is not None:
        try:
            for name, conn in providers.connectors.items():
                try:
                    await conn.find_user_by_email(PROBE_EMAIL)
                    status, detail = "problem", "a user matched an impossible address"
                except UserNotFound:
                    status, detail = "ok", "reachable and authenticated"
                except ConnectorError as exc:
                    status, detail = "problem", f"{type(exc).__name__}: {exc.message}"
                rows.append({"check": f"connector {name}", "status": status, "detail": detail})
            for cap, served_by in providers.describe().items():
                rows.append(
                    {
                        "check": f"capability {cap}",
                        "status": "ok" if served_by else "off",
                        "detail": served_by or "not configured",
                    }
                )
        finally:
            await providers.aclose()
    problems = sum(r["status"] == "problem" for r in rows)
    if as_json:
        print(json.dumps({"ok": problems == 0, "checks": rows}))
    else:
        width = max(len(r["check"]) for r in rows)
        for r in rows:
            print(f"{r['check']:<{width}}  {r['status']:<8} {r['detail']}")
    return 1 if problems else 0
