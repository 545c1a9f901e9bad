"""Secrets never reach a log line, whoever logs them and however."""

from __future__ import annotations

import io
import json
import logging

import pytest

from config.logging import configure_logging, get_logger
from config.secrets import Secret


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_temporary_password_never_logged() -> None:
    out = io.StringIO()
    configure_logging("DEBUG", out)
    temp = Secret("Tmp-Pa55word-9000")
    link = Secret("https://acme.okta.com/signin/reset-password/XE6wE17zmphl3KqAPFxO")
    log = get_logger("test")
    log.info("reset_done", secret=temp, note=f"password is {temp.reveal()}")
    log.info("delivered", url=link.reveal(), tempPassword="abc")
    log.info("headers", headers={"Authorization": "SSWS 00abcdefghijklmnopqrstuvwxyz"})
    logging.getLogger("some.library").warning("sent %s to user", temp.reveal())
    try:
        raise RuntimeError(f"failed with {temp.reveal()}")
    except RuntimeError:
        log.exception("boom")
    text = out.getvalue()
    assert "Tmp-Pa55word-9000" not in text
    assert "XE6wE17zmphl3KqAPFxO" not in text
    assert "00abcdefghijklmnopqrstuvwxyz" not in text
    assert "abc" not in json.dumps([r.get("tempPassword") for r in _lines(out)])
    assert len(_lines(out)) == 5
    assert text.count("[REDACTED]") >= 6


def test_token_shapes_scrubbed_from_free_text() -> None:
    out = io.StringIO()
    configure_logging("INFO", out)
    leak = "token xoxb-1234567890-abcdefghij leaked, Bearer eyJhbGciOi.x"
    get_logger("t").info("oops", detail=leak)
    text = out.getvalue()
    assert "xoxb-1234567890" not in text and "eyJhbGciOi" not in text


def test_secret_repr_hides_value() -> None:
    s = Secret("hunter2-hunter2")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and "hunter2" not in f"{s}"


def test_keys_that_mention_a_secret_keep_their_values() -> None:
    """Redact values that are secrets, not every key that mentions one."""
    out = io.StringIO()
    configure_logging("INFO", out)
    get_logger("t").info(
        "starting",
        capabilities={"password_reset": "okta", "unlock": "okta"},
        token_type="Bearer",
        bot_token="xoxb-visible-only-by-key",
        client={"signing_secret": "abc123def", "resetPasswordUrl": "https://x.example/r"},
    )
    line = _lines(out)[0]
    assert line["capabilities"] == {"password_reset": "okta", "unlock": "okta"}
    assert line["token_type"] == "Bearer"
    assert line["bot_token"] == "[REDACTED]"
    assert line["client"] == {"signing_secret": "[REDACTED]", "resetPasswordUrl": "[REDACTED]"}


def test_no_colour_codes_inside_json_lines() -> None:
    """uvicorn logs a coloured copy of its message as ``color_message``; it stays out.

    The record is made the way uvicorn makes it, on a logger of this test's own (the
    ``uvicorn`` loggers' handlers and propagation are whatever earlier tests left).
    """
    out = io.StringIO()
    configure_logging("INFO", out)
    logging.getLogger("test.uvicorn.error").info(
        "Started server process [%d]", 42,
        extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},
    )
    text = out.getvalue()
    assert "\\u001b" not in text and "\x1b" not in text and "color_message" not in text
    assert _lines(out)[0]["event"] == "Started server process [42]"


def test_no_token_unused_warning_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    out = io.StringIO()
    configure_logging("INFO", out)
    AsyncApp(client=AsyncWebClient(token="xoxb-from-the-environment"), signing_secret="s" * 8)
    assert "will be unused" not in out.getvalue()
    # Other warnings of the same logger still pass.
    logging.getLogger("slack_bolt.AsyncApp").warning("something else")
    assert "something else" in out.getvalue()
