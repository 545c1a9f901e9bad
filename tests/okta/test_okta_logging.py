"""Secrets the connector handles never reach a log record, even with logging at DEBUG."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog

from config.logging import configure_logging
from connectors.base import ResetDelivery
from tests.okta.conftest import TOKEN, OktaRig


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def debug_logs() -> Iterator[tuple[io.StringIO, _Keep]]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    keep = _Keep()
    root.addHandler(keep)
    try:
        yield stream, keep
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


def _everything_logged(stream: io.StringIO, keep: _Keep) -> str:
    parts = [stream.getvalue()]
    for record in keep.records:
        parts.append(record.getMessage())
        parts.append(repr(record.__dict__))
    return "\n".join(parts)


async def test_temporary_password_and_link_never_logged(
    rig: OktaRig, debug_logs: tuple[io.StringIO, _Keep]
) -> None:
    stream, keep = debug_logs
    connector = rig.connector()
    ada = await connector.find_user_by_email("ada@example.com")
    temp = await connector.start_password_reset(ada, ResetDelivery.TEMP_PASSWORD)
    frances = await connector.find_user_by_email("soon@example.com")
    link = await connector.start_password_reset(frances, ResetDelivery.LINK)

    logged = _everything_logged(stream, keep)
    assert '"okta request"' in stream.getvalue()  # DEBUG records were really written
    assert "okta temporary password issued" in logged
    for secret in (temp.secret.reveal(), link.secret.reveal(), TOKEN):
        assert secret not in logged
    # The SDK's own logger (it logs whole requests at DEBUG) said nothing.
    assert not [r for r in keep.records if r.name.startswith("okta-sdk")]


async def test_failures_do_not_log_or_raise_the_token(
    rig: OktaRig, debug_logs: tuple[io.StringIO, _Keep]
) -> None:
    stream, keep = debug_logs
    connector = rig.connector(token="wrong-token-value-123")
    with pytest.raises(Exception) as info:
        await connector.find_user_by_email("ada@example.com")
    logged = _everything_logged(stream, keep)
    assert "wrong-token-value-123" not in logged
    assert "wrong-token-value-123" not in repr(info.value)
    assert "wrong-token-value-123" not in str(info.value.__cause__)
