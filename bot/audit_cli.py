"""``helpdesk audit``: list, filter and export the audit trail, and prune it by retention.

::

    helpdesk audit list   [filters] [--limit N] [--format table|jsonl|csv]
    helpdesk audit export [filters] --format jsonl|csv [--output FILE]
    helpdesk audit prune  [--older-than DURATION] [--dry-run]

Filters: ``--user`` (the person on either side: actor Slack id or email, target
email or directory id), ``--actor``, ``--target``, ``--action`` and ``--result``
(repeatable), ``--provider``, ``--since``/``--until`` (an ISO 8601 date or time,
UTC unless it says otherwise, or a duration back from now: ``7d``, ``12h``).

Exports are for a SIEM: JSON lines or CSV, oldest first, one record per line,
times in UTC (``2024-05-01T10:00:00.123456Z``), ``detail`` as a JSON object (a JSON
string in CSV). Every text passes through the log redactor on the way out, CSV
cells that a spreadsheet would run as a formula are prefixed with ``'``, and an
output file is created readable by its owner only (it holds email addresses).

Exit codes: 0 done, 2 could not run (bad arguments, no database).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from config.durations import parse_duration
from config.logging import scrub_text
from config.settings import HelpdeskConfig

FIELDS = (
    "id",
    "at",
    "correlation_id",
    "actor",
    "actor_email",
    "action",
    "provider",
    "target_user_id",
    "target",
    "result",
    "detail",
)
_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
_RELATIVE = re.compile(r"^\d+\s*[smhdw]$")


class UsageError(Exception):
    """A bad argument or setting: one line for the operator, exit code 2."""


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """``2024-05-01``, ``2024-05-01T10:00:00+02:00`` or ``7d`` (that long before ``now``)."""
    now = now or datetime.now(UTC)
    value = text.strip()
    if _RELATIVE.match(value):
        return now - parse_duration(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{text!r} is not a time: use 2024-05-01, 2024-05-01T10:00:00Z or 7d"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat().replace("+00:00", "Z")


def _clean(value: Any) -> Any:
    """Redact secret values and shapes in every string, recursively."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def record_dict(record: Any) -> dict[str, Any]:
    """One audit record as the export writes it (``FIELDS`` order, UTC time, redacted)."""
    return {
        "id": record.id,
        "at": _iso(record.at),
        "correlation_id": _clean(record.correlation_id),
        "actor": _clean(record.actor),
        "actor_email": _clean(record.actor_email),
        "action": _clean(record.action),
        "provider": _clean(record.provider),
        "target_user_id": _clean(record.target_user_id),
        "target": _clean(record.target),
        "result": _clean(record.result),
        "detail": _clean(dict(record.detail or {})),
    }


def csv_cell(value: Any) -> str:
    """A CSV cell: ``detail`` as JSON, ``None`` empty, formula-looking text neutralised.

    Spreadsheets run cells starting with ``=``, ``+``, ``-`` or ``@`` as formulas
    (https://owasp.org/www-community/attacks/CSV_Injection); a leading ``'`` keeps
    the text as text. Actor and target values come from outside, so every cell is
    treated that way.
    """
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
    return "'" + text if text.startswith(_FORMULA_LEAD) else text


async def write_jsonl(rows: AsyncIterator[dict[str, Any]], out: TextIO) -> int:
    """Write one JSON object per line; return how many."""
    count = 0
    async for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
        count += 1
    return count


async def write_csv(rows: AsyncIterator[dict[str, Any]], out: TextIO) -> int:
    """Write a header and one CSV row per record; return how many."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    count = 0
    async for row in rows:
        writer.writerow([csv_cell(row[name]) for name in FIELDS])
        count += 1
    return count


async def write_table(rows: AsyncIterator[dict[str, Any]], out: TextIO) -> int:
    """A compact, human-readable listing; return how many."""
    count = 0
    async for row in rows:
        if count == 0:
            out.write(f"{'time (UTC)':<20}  {'action':<16}  {'result':<10}  actor -> target\n")
        actor = row["actor_email"] or row["actor"]
        target = row["target"] or row["target_user_id"] or "-"
        provider = f" [{row['provider']}]" if row["provider"] else ""
        reason = row["detail"].get("reason")
        why = f" ({reason})" if reason else ""
        when = row["at"][:19].replace("T", " ")
        out.write(
            f"{when:<20}  {row['action']:<16}  {row['result']:<10}  "
            f"{actor} -> {target}{provider}{why}  {row['correlation_id']}\n"
        )
        count += 1
    if count == 0:
        out.write("no audit records match\n")
    return count


@dataclass(frozen=True, slots=True)
class PruneOutcome:
    """What a retention run did (or, dry, would do)."""

    cutoff: datetime | None
    pruned: int
    dry_run: bool


def longest_limit_window(cfg: HelpdeskConfig) -> timedelta:
    """The longest per-employee limit window: audit records younger than it are still counted."""
    limits = cfg.limits
    return max(limits.password_reset.per, limits.unlock.per, limits.mfa_reset.per)


async def apply_retention(
    store: Any,
    cfg: HelpdeskConfig,
    *,
    older_than: timedelta | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PruneOutcome:
    """Prune records older than ``older_than`` (default ``audit.retention``).

    For a scheduler (the bot's janitor, cron). Raises :class:`UsageError` for a
    window shorter than the longest limit window, which would reset the limits.
    """
    from store.audit import AuditFilter, count_audit, prune_audit

    keep = older_than if older_than is not None else cfg.audit.retention
    if keep is None:
        return PruneOutcome(None, 0, dry_run)
    window = longest_limit_window(cfg)
    if keep < window:
        raise UsageError(
            f"refusing to prune records younger than {window} (the longest limit window): "
            "the per-employee limits are counted from them"
        )
    cutoff = (now or datetime.now(UTC)) - keep
    if dry_run:
        return PruneOutcome(cutoff, await count_audit(store, AuditFilter(until=cutoff)), True)
    pruned = await prune_audit(store, cutoff, batch=cfg.audit.prune_batch)
    return PruneOutcome(cutoff, pruned, False)


def add_audit_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``audit`` and its subcommands to the CLI's subparsers; returns the parser."""
    audit = sub.add_parser("audit", help="list, export and prune the audit trail")
    verbs = audit.add_subparsers(dest="audit_command", required=True)

    def filters(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config")
        parser.add_argument("--user", help="the person on either side (Slack id, email, id)")
        parser.add_argument("--actor", help="who asked: Slack user id or email")
        parser.add_argument("--target", help="whose account: email or directory id")
        parser.add_argument("--action", action="append", default=[], help="repeatable")
        parser.add_argument("--result", action="append", default=[], help="repeatable")
        parser.add_argument("--provider", help="connector name")
        parser.add_argument("--since", help="ISO date/time or a duration back (7d)")
        parser.add_argument("--until", help="ISO date/time or a duration back (exclusive)")

    listing = verbs.add_parser("list", help="show the latest matching records, oldest first")
    filters(listing)
    listing.add_argument("--limit", type=int, default=100, help="at most N records (0: all)")
    listing.add_argument("--format", choices=("table", "jsonl", "csv"), default="table")

    export = verbs.add_parser("export", help="export matching records for a SIEM")
    filters(export)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")

    prune = verbs.add_parser("prune", help="delete records older than audit.retention")
    prune.add_argument("--config")
    prune.add_argument("--older-than", help="a duration overriding audit.retention (400d)")
    prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    return audit  # type: ignore[no-any-return]


def _filter_of(args: argparse.Namespace) -> Any:
    from store.audit import AuditFilter

    since = parse_when(args.since) if args.since else None
    until = parse_when(args.until) if args.until else None
    if since and until and since >= until:
        raise UsageError("--since must be before --until")
    return AuditFilter(
        user=args.user,
        actor=args.actor,
        target=args.target,
        actions=tuple(args.action),
        results=tuple(args.result),
        provider=args.provider,
        since=since,
        until=until,
    )


async def _open_store(cfg: HelpdeskConfig) -> Any:
    from store.db import Store, normalise_url

    url = normalise_url(cfg.database_url)
    if url.startswith("sqlite") and ":memory:" not in url:
        path = Path(url.split(":///", 1)[-1])
        if not await asyncio.to_thread(path.exists):
            raise UsageError(f"no database at {path}: check database_url or DATABASE_URL")
    return await Store.open(cfg.database_url)


def _open_output(path: str) -> TextIO:
    # Owner-only from the start: the export holds email addresses and actions.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


async def run_audit(cfg: HelpdeskConfig, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run one ``helpdesk audit`` subcommand; the exit code."""
    from store.audit import iter_audit, latest_audit

    try:
        if args.audit_command == "prune":
            older = parse_duration(args.older_than) if args.older_than else None
            store = await _open_store(cfg)
            try:
                outcome = await apply_retention(store, cfg, older_than=older, dry_run=args.dry_run)
            finally:
                await store.close()
            if outcome.cutoff is None:
                out.write("audit.retention is forever: nothing pruned\n")
            else:
                verb = "would prune" if outcome.dry_run else "pruned"
                out.write(f"{verb} {outcome.pruned} record(s) older than {_iso(outcome.cutoff)}\n")
            return 0
        flt = _filter_of(args)
        limit = None
        if args.audit_command == "list" and args.limit > 0:
            limit = args.limit
        store = await _open_store(cfg)
    except (UsageError, ValueError) as exc:
        err.write(f"audit: {exc}\n")
        return 2
    try:

        async def rows() -> AsyncIterator[dict[str, Any]]:
            if limit is not None:
                # A listing shows the latest records; an export streams everything.
                for record in await latest_audit(store, flt, limit):
                    yield record_dict(record)
                return
            async for record in iter_audit(store, flt):
                yield record_dict(record)

        writers = {"table": write_table, "jsonl": write_jsonl, "csv": write_csv}
        target = out
        output = getattr(args, "output", None)
        if output:
            target = _open_output(output)
        try:
            count = await writers[args.format](rows(), target)
        finally:
            if target is not out:
                target.close()
        if output or args.audit_command == "export":
            err.write(f"exported {count} record(s)" + (f" to {output}\n" if output else "\n"))
        return 0
    except OSError as exc:
        err.write(f"audit: cannot write: {exc.strerror}\n")
        return 2
    finally:
        await store.close()


def main_audit(cfg: HelpdeskConfig, args: argparse.Namespace) -> int:
    """The ``helpdesk audit`` entry point."""
    return asyncio.run(run_audit(cfg, args, sys.stdout, sys.stderr))
