"""The doctor's report: every finding of one run, its exit code, as a table or as JSON.

Nothing in the report holds a secret: secrets are named by where they are read
from (``env SLACK_BOT_TOKEN``), and every string is passed through the log
redactor before it is printed.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from config.logging import scrub_text
from connectors.doctor import Finding, Status, worst

REPORT_VERSION = 1


@dataclass
class DoctorReport:
    """Every finding of one run, grouped by area in the order the areas were checked.

    ``labels`` name each area for people (``okta`` -> ``Okta``); ``strict`` makes
    warnings count as problems.
    """

    findings: list[Finding]
    source: str
    generated_at: datetime
    duration: float
    labels: dict[str, str] = field(default_factory=dict)
    strict: bool = False

    def areas(self) -> list[str]:
        """The areas in report order."""
        return list(dict.fromkeys(f.area for f in self.findings))

    def in_area(self, area: str) -> list[Finding]:
        """The findings of one area."""
        return [f for f in self.findings if f.area == area]

    def area_status(self, area: str) -> Status:
        """The worst status in an area (what an admin view shows per connector)."""
        return worst(f.status for f in self.in_area(area))

    def counts(self) -> dict[str, int]:
        """How many findings have each status."""
        return {s.value: sum(f.status is s for f in self.findings) for s in Status}

    @property
    def problems(self) -> list[Finding]:
        """Failed findings, and warnings too when ``strict``."""
        bad = {Status.FAIL, Status.WARN} if self.strict else {Status.FAIL}
        return [f for f in self.findings if f.status in bad]

    @property
    def exit_code(self) -> int:
        """0 when there is no problem, 1 otherwise."""
        return 1 if self.problems else 0

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON types (the ``--json`` output)."""
        return {
            "version": REPORT_VERSION,
            "ok": not self.problems,
            "exit_code": self.exit_code,
            "strict": self.strict,
            "config": self.source,
            "generated_at": self.generated_at.isoformat().replace("+00:00", "Z"),
            "duration_seconds": round(self.duration, 3),
            "summary": self.counts(),
            "areas": {
                area: {
                    "label": self.labels.get(area, area),
                    "status": self.area_status(area).value,
                }
                for area in self.areas()
            },
            "findings": [f.to_dict() for f in self.findings],
        }


_TAGS = {Status.OK: "ok", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.SKIP: "skip"}


def render_table(report: DoctorReport, width: int = 100) -> str:
    """The report as a readable table, one section per area, fixes under their finding."""
    lines = [
        f"helpdesk doctor: {report.source}, "
        f"{report.generated_at:%Y-%m-%d %H:%M:%SZ} ({report.duration:.1f}s)",
    ]
    check_width = min(30, max((len(f.check) for f in report.findings), default=10))
    indent = 2 + 6 + check_width + 2
    for area in report.areas():
        label = report.labels.get(area, area)
        title = area if label in (area, "") else f"{area} ({label})"
        lines += ["", f"{title}: {report.area_status(area).value}"]
        for finding in report.in_area(area):
            tag = _TAGS[finding.status]
            summary = scrub_text(finding.summary)
            head = f"  {tag:<6}{finding.check:<{check_width}}  "
            if len(finding.check) > check_width:
                lines.append(f"  {tag:<6}{finding.check}")
                head = " " * indent
            lines += textwrap.wrap(
                summary,
                width=width,
                initial_indent=head,
                subsequent_indent=" " * indent,
                break_on_hyphens=False,
                break_long_words=False,
            ) or [head.rstrip()]
            for extra in finding.details:
                lines += textwrap.wrap(
                    scrub_text(extra),
                    width=width,
                    initial_indent=" " * indent,
                    subsequent_indent=" " * indent,
                    break_long_words=False,
                )
            if finding.fix and finding.status is not Status.OK:
                lines += textwrap.wrap(
                    f"fix: {scrub_text(finding.fix)}",
                    width=width,
                    initial_indent=" " * indent,
                    subsequent_indent=" " * (indent + 5),
                    break_on_hyphens=False,
                    break_long_words=False,
                )
    counts = report.counts()
    verdict = (
        f"{counts['fail']} problem(s), {counts['warn']} warning(s), {counts['ok']} ok, "
        f"{counts['skip']} skipped: exit {report.exit_code}"
    )
    if report.strict:
        verdict += " (strict: warnings count as problems)"
    lines += ["", verdict]
    return "\n".join(lines) + "\n"


def render_json(report: DoctorReport) -> str:
    """The report as indented JSON (``--json``)."""
    return json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"
