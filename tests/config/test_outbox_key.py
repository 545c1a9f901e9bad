"""The outbox's key: ``slack.outbox.key`` (env or file), else HELPDESK_OUTBOX_KEY, else made up."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.slack.outbox.sealing import Sealer, Unreadable
from config.outbox import KEY_ENV, OutboxSettings, outbox_key
from config.secrets import MissingSecret, Secret, SecretRef


def test_the_key_comes_from_the_setting_then_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "outbox-key"
    path.write_text("from a file\n")
    from_file = OutboxSettings(key=SecretRef(file=path))
    assert outbox_key(from_file, {KEY_ENV: "ignored"}) == Secret("from a file")
    from_env = OutboxSettings(key=SecretRef(env="MY_KEY"))
    assert outbox_key(from_env, {"MY_KEY": "named"}) == Secret("named")
    assert outbox_key(OutboxSettings(), {KEY_ENV: "fallback"}) == Secret("fallback")
    assert outbox_key(OutboxSettings(), {}) is None
    with pytest.raises(MissingSecret):
        outbox_key(from_env, {})


def test_sealed_parts_open_only_with_the_same_key() -> None:
    one, same, other = (Sealer(Secret(k)) for k in ("key one!", "key one!", "key two!"))
    token = one.seal({"text": "https://example.com/reset/abc123"})
    assert "abc123" not in token
    assert same.open(token) == {"text": "https://example.com/reset/abc123"}
    with pytest.raises(Unreadable) as raised:
        other.open(token)
    assert "abc123" not in str(raised.value)


def test_without_a_key_each_process_makes_one_up() -> None:
    a, b = Sealer(None), Sealer(None)
    assert a.generated and b.generated
    with pytest.raises(Unreadable):
        b.open(a.seal({"text": "x"}))


def test_a_secret_read_back_from_the_store_is_known_to_the_log_redactor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process (or this one after a restart) sends a stored temporary password:
    its value is scrubbed from free text a library logs, as in the process that made it."""
    from collections import OrderedDict
    from datetime import UTC, datetime

    import config.secret_values
    from bot.slack.outbox.message import POST, OutboxMessage
    from config.logging import scrub_text

    sealer = Sealer(Secret("the deployment's key"))
    password = "Tmp-Qx7!wz9Lk"
    message = OutboxMessage(
        POST, "D1", datetime(2030, 1, 1, tzinfo=UTC), text=f"Your temporary password: `{password}`",
        secret=True, secrets=(password,),
    )
    payload = message.payload(sealer)
    assert password not in str(payload)
    # A fresh process: nothing remembered yet, so a library's debug line would show it.
    monkeypatch.setattr(config.secret_values, "_LIVE_SECRETS", OrderedDict())
    line = f"chat.postMessage body text=Your temporary password: `{password}`"
    assert password in scrub_text(line)
    read = OutboxMessage.from_payload(payload, sealer)
    assert read.text == message.text and read.secrets == (password,)
    assert password not in scrub_text(line)
    assert password not in repr(read)
