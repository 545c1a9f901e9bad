"""``helpdesk classify``: utterances on stdin, one JSON object per line on stdout.

Each output line is ``{"text", "intent", "confidence", "group"}`` for the input
line of the same position. The configuration is ``--config FILE`` (a
``helpdesk.yaml``), else ``$HELPDESK_CONFIG``, else the packaged
``config/helpdesk.yaml`` if present (otherwise no catalogue). Exit status: 0,
or 2 with a single ``helpdesk classify: ...`` line on stderr when the
configuration or examples file cannot be used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from bot.intents.config import (
    DEFAULT_HELPDESK_FILE,
    IntentConfigError,
    load_examples,
    load_helpdesk,
)
from bot.intents.router import IntentRouter
from bot.intents.types import GroupChoice

EXIT_OK = 0
EXIT_CONFIG = 2


def load_router(config: str | None, environ: Mapping[str, str] | None = None) -> IntentRouter:
    """Build the router the way ``helpdesk classify`` does; raises ``IntentConfigError``."""
    env = os.environ if environ is None else environ
    chosen = config or env.get("HELPDESK_CONFIG")
    catalogue: tuple[GroupChoice, ...] = ()
    intents_file: Path | None = None
    if chosen:
        settings = load_helpdesk(chosen)
        catalogue, intents_file = settings.catalogue, settings.intents_file
    elif DEFAULT_HELPDESK_FILE.exists():
        settings = load_helpdesk(DEFAULT_HELPDESK_FILE)
        catalogue, intents_file = settings.catalogue, settings.intents_file
    return IntentRouter.build(load_examples(intents_file), catalogue)


def run_classify(argv_config: str | None, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Classify every line of ``stdin``; returns the process exit status."""
    try:
        router = load_router(argv_config)
    except IntentConfigError as exc:
        message = " ".join(str(exc).split())
        stderr.write(f"helpdesk classify: {message}\n")
        return EXIT_CONFIG
    try:
        for line in stdin:
            text = line.rstrip("\r\n")
            result = router.classify(text)
            record = {
                "text": text,
                "intent": result.intent.value,
                "confidence": round(result.confidence, 4),
                "group": result.group,
            }
            stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        stdout.flush()
    except BrokenPipeError:
        pass
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m bot.intents.cli [--config FILE]``."""
    parser = argparse.ArgumentParser(prog="helpdesk classify", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="helpdesk.yaml (default: $HELPDESK_CONFIG or packaged)")
    args = parser.parse_args(argv)
    return run_classify(args.config, sys.stdin, sys.stdout, sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
