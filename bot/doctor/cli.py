"""``helpdesk doctor``: run the checks, print the table or JSON, exit 0, 1 or 2."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from bot.doctor.report import render_json, render_table
from bot.doctor.run import DEFAULT_TIMEOUT, diagnose
from config.logging import scrub_text
from config.settings import HelpdeskConfig
from connectors.doctor import join


async def run_doctor(
    cfg: HelpdeskConfig,
    *,
    as_json: bool = False,
    strict: bool = False,
    area_timeout: float = DEFAULT_TIMEOUT,
    connectors: Sequence[str] | None = None,
    skip_slack: bool = False,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the doctor and print the report; the exit code: 0 fine, 1 problems, 2 could not run."""
    out = out or sys.stdout
    err = err or sys.stderr
    unknown = [n for n in connectors or () if n not in cfg.connectors]
    if unknown:
        known = join(sorted(cfg.connectors))
        print(f"doctor: no connector named {join(unknown)} (configured: {known})", file=err)
        return 2
    try:
        report = await diagnose(
            cfg,
            environ,
            skip=("slack",) if skip_slack else (),
            connectors=connectors,
            area_timeout=area_timeout,
            strict=strict,
        )
    except Exception as exc:  # the doctor's own failure: say so, exit 2
        print(f"doctor could not run: {type(exc).__name__}: {scrub_text(str(exc))}", file=err)
        return 2
    out.write(render_json(report) if as_json else render_table(report))
    out.flush()
    return report.exit_code
