"""``helpdesk config``: check a configuration file, print its JSON Schema or its reference."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.configuration import load_config, missing_secrets
from config.reference import KindDoc, reference, schema
from config.settings import ConfigError, HelpdeskConfig
from connectors.registry import KINDS, kind_label, load_kind

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def kind_docs() -> list[KindDoc]:
    """Every connector kind the registry knows, for the reference and the schema."""
    return [KindDoc(k, kind_label(k), load_kind(k).Settings) for k in sorted(KINDS)]


def reference_text() -> str:
    return reference(HelpdeskConfig, kind_docs())


def _check(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"config error: {line}", file=sys.stderr)
        return 2
    if args.secrets:  # every secret the file names, read now (never printed)
        unset = missing_secrets(cfg)
        for line in unset:
            print(f"config error: {args.file}: {line}", file=sys.stderr)
        if unset:
            return 2
    connectors = ", ".join(f"{n} ({b.kind})" for n, b in cfg.connectors.items()) or "none"
    print(f"{args.file}: valid; connectors: {connectors}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(schema(HelpdeskConfig, kind_docs()), indent=2, sort_keys=True))
    return 0


def _reference(args: argparse.Namespace) -> int:
    text = reference_text()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def add_config_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = sub.add_parser("config", help="check a configuration file; its schema and reference")
    what = config.add_subparsers(dest="config_command", required=True)
    check = what.add_parser("check", help="validate FILE: exit 0, or 2 with one line per problem")
    check.add_argument("file")
    check.add_argument(
        "--secrets", action="store_true", help="also read every secret the file names"
    )
    check.set_defaults(func=_check)
    what.add_parser("schema", help="the configuration's JSON Schema").set_defaults(func=_schema)
    ref = what.add_parser("reference", help="the configuration reference (Markdown)")
    ref.add_argument("-o", "--output", help="write it to this file (docs/configuration.md)")
    ref.set_defaults(func=_reference)
