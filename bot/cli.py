"""``helpdesk``: run the bot, the terminal demo, the doctor, the audit trail, the classifier.

Exit codes: 0 fine, 1 problems found (doctor; ``migrate --check``: not at head), 2 could
not run (bad configuration or arguments, unreachable database: one clear line per
problem, no traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Sequence

from bot.configuration import load_config, missing_secrets, slack_credentials
from bot.deployment import demo_missing, ephemeral_sqlite, in_container, with_password_file
from config.i18n import LANGUAGES
from config.secrets import MissingSecret
from config.settings import ConfigError, HelpdeskConfig


def _config_errors(lines: Sequence[str]) -> int:
    """Print one ``config error:`` line per problem; the exit status for a bad configuration."""
    for line in lines:
        print(f"config error: {line}", file=sys.stderr)
    return 2


def _config_or_exit(path: str | None) -> HelpdeskConfig:
    try:
        cfg = load_config(path)
        # DATABASE_PASSWORD_FILE: the password from a secret file, never in the URL.
        url = with_password_file(cfg.database_url, os.environ)
    except ConfigError as exc:
        raise SystemExit(_config_errors(exc.problems)) from None
    except (MissingSecret, ValueError) as exc:
        print(f"config error: DATABASE_PASSWORD_FILE: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return cfg if url == cfg.database_url else cfg.model_copy(update={"database_url": url})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("helpdesk-bot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = _config_or_exit(args.config)
    refusal = ephemeral_sqlite(cfg.database_url, os.environ)
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 2
    any_slack, half = slack_credentials(cfg)
    if half:  # half a Slack configuration would "succeed" as a demo and never be restarted
        return _config_errors(half)
    if not any_slack:
        # A container has no terminal to demo in: a missing secret is a deployment error.
        missing = "running in the container image" if in_container(os.environ) else demo_missing()
        try:
            cfg.slack.bot_token.resolve()
            unset = f"{cfg.slack.bot_token.describe()} is unset"
        except MissingSecret as exc:
            unset = str(exc)
        if missing is not None:
            print(f"No Slack credentials configured ({unset}); no demo: {missing}.",
                  file=sys.stderr)
            return 2
        print(
            f"No Slack credentials configured ({unset}): starting the local demo "
            "instead. See README.md, 'Connect it to Slack'.",
            file=sys.stderr,
        )
        from bot.demo import main_demo

        return main_demo(None)
    # Every secret is read before the store is touched: no migration, then a dead start.
    unset_secrets = missing_secrets(cfg)
    if unset_secrets:
        return _config_errors(unset_secrets)
    from bot.serve import serve

    return asyncio.run(serve(cfg))


def _cmd_demo(args: argparse.Namespace) -> int:
    _config_or_exit(None)  # the demo starts from $HELPDESK_CONFIG (or the packaged file)
    missing = demo_missing()
    if missing is not None:
        print(f"No demo: {missing}.", file=sys.stderr)
        return 2
    if args.nudges:
        from bot.demo_nudges import main_demo_nudges

        return main_demo_nudges()
    from bot.demo import main_demo

    return main_demo(args.as_email, args.lang)


def _cmd_migrate(args: argparse.Namespace) -> int:
    cfg = _config_or_exit(args.config)
    from config.logging import configure_logging, scrub_text
    from store.revisions import schema_state, shown_url, upgrade

    configure_logging("WARNING")
    shown = shown_url(cfg.database_url)
    try:
        if args.check:
            state = asyncio.run(schema_state(cfg.database_url))
            print(f"{shown}: {state.describe()}")
            return 0 if state.at_head else 1
        before, after = asyncio.run(upgrade(cfg.database_url))
    except Exception as exc:  # one line for the operator, whatever the driver raised
        lines = scrub_text(str(exc)).strip().splitlines()
        detail = f": {lines[0]}" if lines else ""
        print(
            f"migrate: cannot use the database at {shown}: {type(exc).__name__}{detail}",
            file=sys.stderr,
        )
        return 2
    if before.unknown:
        print(f"{shown}: {before.describe()}; nothing done", file=sys.stderr)
        return 2
    if before.at_head:
        print(f"{shown}: already {after.describe()}")
    else:
        print(f"{shown}: migrated from {', '.join(before.current) or 'empty'}: {after.describe()}")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    cfg = _config_or_exit(args.config)
    from bot.doctor import run_doctor
    from config.logging import configure_logging

    # Log lines go to stderr (JSON), so stdout holds only the report.
    configure_logging("WARNING")
    return asyncio.run(
        run_doctor(
            cfg,
            as_json=args.json,
            strict=args.strict,
            area_timeout=args.timeout,
            connectors=args.connector or None,
            skip_slack=args.no_slack,
        )
    )


def _cmd_audit(args: argparse.Namespace) -> int:
    cfg = _config_or_exit(args.config)
    from bot.audit_cli import main_audit
    from config.logging import configure_logging

    configure_logging("WARNING")
    return main_audit(cfg, args)


def _cmd_classify(args: argparse.Namespace) -> int:
    from bot.intents.cli import run_classify

    return run_classify(args.config, sys.stdin, sys.stdout, sys.stderr, args.locale)


# -- password-expiry nudges (issue #5) -----------------------------------------------


def _cmd_nudges(args: argparse.Namespace) -> int:
    cfg = _config_or_exit(args.config)
    # Slack's bot token only when the run talks to Slack; every connector's secrets always.
    slack_needed = not args.dry_run or args.check_slack
    unset_secrets = missing_secrets(cfg, slack={"bot_token"} if slack_needed else False)
    if unset_secrets:
        return _config_errors(unset_secrets)
    from bot.nudges import run_cli
    from config.logging import configure_logging

    configure_logging(cfg.log_level)
    return asyncio.run(
        run_cli(
            cfg,
            dry=args.dry_run,
            check_slack=args.check_slack,
            as_json=args.json,
            verbose=args.verbose,
            progress=not args.no_progress,
        )
    )


def _add_nudges_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    nudges = sub.add_parser(
        "nudges", help="password-expiry nudges: who would be nudged, or run one sweep now"
    )
    mode = nudges.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="print who would be nudged and why")
    mode.add_argument("--now", action="store_true", help="run one sweep now (takes the lease)")
    nudges.add_argument("--config")
    nudges.add_argument(
        "--check-slack", action="store_true", help="dry run: also find each person in Slack"
    )
    nudges.add_argument("-v", "--verbose", action="store_true", help="dry run: list skips too")
    nudges.add_argument("--json", action="store_true", help="machine-readable output")
    nudges.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    nudges.set_defaults(func=_cmd_nudges)


# ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpdesk", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"helpdesk {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="serve Slack (or the demo when no Slack credentials are set)")
    run.add_argument("--config", help="helpdesk.yaml (default: $HELPDESK_CONFIG or packaged)")
    run.set_defaults(func=_cmd_run)

    demo = sub.add_parser("demo", help="the bot in this terminal, on a local Okta sandbox")
    demo.add_argument("--as", dest="as_email", help="which demo employee you are")
    demo.add_argument(
        "--lang", choices=LANGUAGES, default=None,
        help="the demo employees' Slack language (otherwise each message's language decides)",
    )
    demo.add_argument(
        "--nudges",
        action="store_true",
        help="run the password-expiry sweep over the demo directory, print each employee's "
        "nudge and the IT channel's summary, then exit",
    )
    demo.set_defaults(func=_cmd_demo)

    doctor = sub.add_parser(
        "doctor", help="check configuration, credentials, least privilege and connectivity"
    )
    doctor.add_argument("--config")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("--strict", action="store_true", help="warnings count as problems")
    doctor.add_argument(
        "--connector", action="append", default=[], help="check only this connector (repeatable)"
    )
    doctor.add_argument("--no-slack", action="store_true", help="skip the Slack checks")
    doctor.add_argument(
        "--timeout", type=float, default=60.0, help="seconds allowed per area (default 60)"
    )
    doctor.set_defaults(func=_cmd_doctor)

    from bot.audit_cli import add_audit_parser

    add_audit_parser(sub).set_defaults(func=_cmd_audit)

    classify = sub.add_parser("classify", help="classify utterances from stdin, JSON lines out")
    classify.add_argument("--config")
    classify.add_argument("--locale", help="language hint for short lines, e.g. es-ES")
    classify.set_defaults(func=_cmd_classify)

    _add_nudges_parser(sub)

    from bot.config_cli import add_config_parser

    add_config_parser(sub)

    migrate = sub.add_parser(
        "migrate", help="upgrade the database to this version's schema (the bot also does at start)"
    )
    migrate.add_argument("--config")
    migrate.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when not at head"
    )
    migrate.set_defaults(func=_cmd_migrate)
    return parser


def _fault(exc: BaseException) -> str | None:
    """One line for a fault the operator can fix (secret, file, configuration, server)."""
    from config.logging import scrub_text

    if isinstance(exc, ConfigError):
        return "; ".join(exc.problems)
    if isinstance(exc, MissingSecret):
        return f"a secret cannot be read: {exc}"
    text = " ".join(scrub_text(str(exc)).split())
    modules = {c.__module__.split(".")[0] for c in type(exc).__mro__}
    unreachable = (ConnectionError, TimeoutError, socket.gaierror)
    if isinstance(exc, unreachable) or modules & {"aiohttp", "sqlalchemy", "asyncpg"}:
        return f"cannot reach a server: {type(exc).__name__}: {text}"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot read or write{where}: {exc.strerror or text}"
    from connectors.errors import Unavailable
    from store.migrate import MigrationFailed

    if isinstance(exc, MigrationFailed):  # its line says why (an unreachable server, say)
        return f"the database could not be brought up to date: {text}"
    if isinstance(exc, Unavailable):
        return f"a directory is unavailable: {scrub_text(str(exc))}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # only the faults named in _fault become a line
        line = _fault(exc)
        if line is None:
            raise
        print(f"helpdesk {args.command}: {line}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
