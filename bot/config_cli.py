"""``helpdesk config``: the configuration's JSON Schema, a file's check, the reference.

- ``schema``: the JSON Schema of ``helpdesk.yaml``, connector blocks by kind;
- ``check FILE``: exit 0 when the file is valid, else 2 and one line per problem
  (``--secrets`` also reads every secret it names);
- ``reference [-o FILE]``: ``docs/configuration.md``, made from the settings models.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.configuration import load_config, missing_secrets
from config.reference import json_schema, render_reference
from config.settings import ConfigError
from connectors.registry import KINDS, kind_label, load_kind


def kind_models() -> dict[str, type[BaseModel]]:
    """Each connector kind's ``Settings``, by kind."""
    return {kind: load_kind(kind).Settings for kind in KINDS}


def reference_text() -> str:
    """The text of ``docs/configuration.md``."""
    return render_reference(kind_models(), {kind: kind_label(kind) for kind in KINDS})


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(kind_models()), indent=2, sort_keys=True))
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    if args.secrets:
        unset = missing_secrets(cfg)
        for line in unset:
            print(f"{args.file}: {line}", file=sys.stderr)
        if unset:
            return 2
    print(f"{args.file}: valid")
    return 0


def _reference(args: argparse.Namespace) -> int:
    text = reference_text()
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


def add_config_parser(sub: Any) -> None:
    """``helpdesk config schema|check|reference``."""
    config = sub.add_parser(
        "config", help="the configuration: JSON Schema, check a file, the reference document"
    )
    actions = config.add_subparsers(dest="action", required=True)
    schema = actions.add_parser("schema", help="print the JSON Schema of helpdesk.yaml")
    schema.set_defaults(func=_schema)
    check = actions.add_parser(
        "check", help="validate a helpdesk.yaml: exit 0, or 2 and one line per problem"
    )
    check.add_argument("file", help="the helpdesk.yaml to check")
    check.add_argument(
        "--secrets", action="store_true", help="also read every secret the file names"
    )
    check.set_defaults(func=_check)
    reference = actions.add_parser(
        "reference", help="write the configuration reference (docs/configuration.md)"
    )
    reference.add_argument("-o", "--output", help="write to this file (default: stdout)")
    reference.set_defaults(func=_reference)
