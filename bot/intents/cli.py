"""``helpdesk classify``: utterances on stdin, one JSON object per line on stdout.

Each output line is ``{"text", "intent", "confidence", "group", "language"}``
for the input line of the same position (``language`` is ISO 639-1). The
configuration is ``--config FILE`` (a ``helpdesk.yaml``), else
``$HELPDESK_CONFIG``, else the packaged ``config/helpdesk.yaml``; it is
validated like the bot's own (``config.settings.load_config``), and its
catalogue and examples file build the router. ``--locale`` (e.g. ``es-ES``)
is the language hint for lines too short to tell. Exit status: 0, or 2 with
one ``helpdesk classify: ...`` line per problem on stderr when the configuration
or examples file cannot be used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from bot.intents.config import IntentConfigError
from bot.intents.router import IntentRouter
from bot.intents.setup import router_from_config
from config.settings import ConfigError, load_config

EXIT_OK = 0
EXIT_CONFIG = 2


def load_router(config: str | None, environ: Mapping[str, str] | None = None) -> IntentRouter:
    """Build the router the way ``helpdesk classify`` does.

    Raises ``ConfigError`` (configuration) or ``IntentConfigError`` (examples file).
    """
    env = os.environ if environ is None else environ
    return router_from_config(load_config(config, env))


def run_classify(
    argv_config: str | None,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    locale: str | None = None,
) -> int:
    """Classify every line of ``stdin``; returns the process exit status."""
    try:
        router = load_router(argv_config)
    except ConfigError as exc:
        for problem in exc.problems:
            stderr.write(f"helpdesk classify: {problem}\n")
        return EXIT_CONFIG
    except IntentConfigError as exc:
        message = " ".join(str(exc).split())
        stderr.write(f"helpdesk classify: {message}\n")
        return EXIT_CONFIG
    try:
        for line in stdin:
            text = line.rstrip("\r\n")
            result = router.classify(text, locale)
            record = {
                "text": text,
                "intent": result.intent.value,
                "confidence": round(result.confidence, 4),
                "group": result.group,
                "language": result.language,
            }
            stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        stdout.flush()
    except BrokenPipeError:
        pass
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m bot.intents.cli [--config FILE] [--locale L]``."""
    parser = argparse.ArgumentParser(prog="helpdesk classify", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="helpdesk.yaml (default: $HELPDESK_CONFIG or packaged)")
    parser.add_argument("--locale", help="language hint for short lines, e.g. es-ES")
    args = parser.parse_args(argv)
    return run_classify(args.config, sys.stdin, sys.stdout, sys.stderr, args.locale)


if __name__ == "__main__":
    raise SystemExit(main())
