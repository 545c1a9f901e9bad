"""``/metrics`` and ``/readyz``: the names docs/operations.md defines, moving when flows run.

In HTTP mode the bot is two processes: the counters must come from both (acks from the
ingress, connector calls and actions from the work), merged into one exposition. The
readiness checks fail on what they promise to catch: the store gone, migrations behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.serve import slack_surface
from bot.slack.http_server import running_http
from bot.slack.server import health_app
from config import metrics
from sandboxes.okta import DEMO_SEED, DEMO_TOKEN, load_seed, run_okta_sandbox
from sandboxes.slack import SlackEventSender, SlackState, Workspace, run_slack_fake
from tests.access.replicas import Replica, running_replicas
from tests.bot.helpers import make_config, make_directory, providers_for
from tests.bot.slack_world import SlackWorld, slack_world
from tests.bot.test_slack_scenarios import ADA, _workspace
from tests.deploy.artifacts import metric_table

SECRET = "metrics-signing-secret-000001"
OKTA_ADA = "U0ADA00001"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """Samples by (name, sorted labels), and each family's type."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels``."""
    return sum(
        v for (n, ls), v in samples.items()
        if n == name and all((k, want) in ls for k, want in labels.items())
    )


# -- merging across processes ------------------------------------------------------------


def test_merge_adds_counters_and_histograms_and_renders_valid_text() -> None:
    one = [
        {"name": "helpdesk_acks", "type": "counter", "help": "acks",
         "samples": [["helpdesk_acks_total", {}, 3.0]]},
        {"name": "helpdesk_ack_seconds", "type": "histogram", "help": "lat",
         "samples": [["helpdesk_ack_seconds_bucket", {"le": "0.1"}, 2.0],
                     ["helpdesk_ack_seconds_bucket", {"le": "+Inf"}, 3.0],
                     ["helpdesk_ack_seconds_count", {}, 3.0],
                     ["helpdesk_ack_seconds_sum", {}, 0.2]]},
    ]
    two = [
        {"name": "helpdesk_acks", "type": "counter", "help": "acks",
         "samples": [["helpdesk_acks_total", {}, 4.0]]},
        {"name": "helpdesk_ack_seconds", "type": "histogram", "help": "lat",
         "samples": [["helpdesk_ack_seconds_bucket", {"le": "0.1"}, 1.0],
                     ["helpdesk_ack_seconds_bucket", {"le": "+Inf"}, 1.0],
                     ["helpdesk_ack_seconds_count", {}, 1.0],
                     ["helpdesk_ack_seconds_sum", {}, 0.05]]},
        {"name": "helpdesk_jobs_depth", "type": "gauge", "help": "jobs",
         "samples": [["helpdesk_jobs_depth", {}, 5.0]]},
    ]
    samples, types = parse(metrics.render(metrics.merge(one, two)).decode())
    assert value(samples, "helpdesk_acks_total") == 7
    assert value(samples, "helpdesk_ack_seconds_bucket", le="0.1") == 3
    assert value(samples, "helpdesk_ack_seconds_count") == 4
    assert value(samples, "helpdesk_jobs_depth") == 5
    assert types["helpdesk_ack_seconds"] == "histogram"


def test_the_exposition_defines_every_documented_metric_with_its_type_and_labels() -> None:
    metrics.EVENTS.labels(kind="message")
    metrics.ACTIONS.labels(capability="unlock", result="ok")
    metrics.CONNECTOR_CALLS.labels(connector="okta", operation="unlock", outcome="ok")
    metrics.CONNECTOR_SECONDS.labels(connector="okta", operation="unlock")
    metrics.THROTTLED.labels(api="slack")
    metrics.RETRIES.labels(api="slack")
    text = metrics.exposition().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for documented, (kind, labels) in metric_table().items():
        base = documented.removesuffix("_total")
        assert base in families, f"{documented} is documented but not exposed"
        family = families[base]
        assert family.type == kind, documented
        seen = {k for s in family.samples for k in s.labels if k != "le"}
        assert seen == labels, (documented, seen, labels)


def test_event_kinds_follow_the_documented_values() -> None:
    assert metrics.event_kind(None) == "rejected"
    assert metrics.event_kind({"type": "event_callback", "event": {"type": "message"}}) == "message"
    assert metrics.event_kind(
        {"type": "event_callback", "event": {"type": "app_home_opened"}}) == "app_home_opened"
    assert metrics.event_kind({"type": "event_callback", "event": {"type": "team_join"}}) == "other"
    assert metrics.event_kind({"command": "/helpdesk", "user_id": "U1"}) == "command"
    for kind in ("block_actions", "view_submission", "url_verification"):
        assert metrics.event_kind({"type": kind}) == kind


def test_actions_are_counted_from_audit_results() -> None:
    def count(capability: str, result: str) -> float:
        return float(metrics.ACTIONS.labels(capability=capability, result=result)._value.get())

    before = (count("unlock", "ok"), count("groups", "refused"), count("groups", "error"))
    metrics.audited("unlock", "success")
    metrics.audited("access_request", "refused")
    metrics.audited("access_request", "submitted")  # not finished: no count
    metrics.audited("access_grant", "failed")
    metrics.audited("access_remind", "sent")  # not an action
    after = (count("unlock", "ok"), count("groups", "refused"), count("groups", "error"))
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]


# -- one process (the surface behind the ASGI app, as the tests serve it) ----------------


@contextlib.asynccontextmanager
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, SlackState]]:
    async with slack_world(
        SlackWorld, tmp_path, _workspace(), database_url=database_url
    ) as world:
        await world.sender.dm(ADA, "when does my password expire?")
        await world.state.wait_for_message(ADA, "expire", timeout=20)
        await world.surface.drain()
        yield world.url, world.state


async def test_a_flow_moves_the_counters_in_one_process(tmp_path: Path) -> None:
    before, _ = parse(metrics.exposition().decode())
    async with (
        served(f"sqlite:///{tmp_path}/bot.sqlite3", tmp_path) as (url, _state),
        httpx.AsyncClient() as http,
    ):
        answer = await http.get(f"{url}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    after, _ = parse(answer.text)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("helpdesk_acks_total") >= 1
    assert moved("helpdesk_ack_seconds_count") >= 1
    assert moved("helpdesk_events_total", kind="message") >= 1
    assert moved("helpdesk_actions_total", capability="password_expiry", result="ok") == 1
    assert moved("helpdesk_connector_calls_total", connector="mem", outcome="ok") >= 1
    assert moved("helpdesk_connector_seconds_count", connector="mem") >= 1
    assert ("helpdesk_jobs_depth", ()) in after
    assert value(after, "helpdesk_inbox_depth") == 0  # the DM was worked through


async def test_ready_when_the_store_answers_and_not_when_it_is_gone(
    pg_url: str, tmp_path: Path
) -> None:
    from tests.conftest import PG_ADMIN_DSN

    async with served(pg_url, tmp_path) as (url, _state), httpx.AsyncClient() as http:
        ready = await http.get(f"{url}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {
            "stopping": "no", "store": "ok", "slack": "ok",
            "migrations": ready.json()["checks"]["migrations"],
        }
        assert ready.json()["checks"]["migrations"].startswith("at head")

        # Migrations behind: stamped one revision back, as an older version left it.
        conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            head = await conn.fetchval("SELECT version_num FROM alembic_version")
            await conn.execute("UPDATE alembic_version SET version_num = '0004'")
            await asyncio.sleep(1.1)  # past the checks' one-second cache
            behind = await http.get(f"{url}/readyz")
            assert behind.status_code == 503
            assert behind.json()["checks"]["migrations"].startswith("behind")
            await conn.execute("UPDATE alembic_version SET version_num = $1", head)
        finally:
            await conn.close()

        # The store gone: its database dropped under the running bot.
        name = pg_url.rsplit("/", 1)[1]
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        await asyncio.sleep(1.1)
        gone = await http.get(f"{url}/readyz")
        assert gone.status_code == 503
        assert gone.json()["checks"]["store"] != "ok"
        # /metrics still answers with the store gone (its gauges keep their last values).
        assert (await http.get(f"{url}/metrics")).status_code == 200


async def test_a_stopping_server_is_not_ready(tmp_path: Path) -> None:
    state = SlackState(_workspace())
    async with run_slack_fake(state) as fake:
        db = f"sqlite:///{tmp_path}/bot.sqlite3"
        cfg = make_config(db, slack={"api_base_url": fake.base_url})
        environ = {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET}
        async with slack_surface(cfg, environ, providers=providers_for(make_directory(), cfg)) as s:
            app = health_app(s)
            async with running_http(app) as url, httpx.AsyncClient() as http:
                assert (await http.get(f"{url}/readyz")).status_code == 200
                # Socket Mode's port has no Slack endpoint.
                assert (await http.post(f"{url}/slack/events")).status_code == 404
                app.stopping = True
                answer = await http.get(f"{url}/readyz")
                assert answer.status_code == 503 and answer.json()["checks"]["stopping"] == "yes"


# -- the deployed shapes: two processes over HTTP, one in Socket Mode ---------------------


def _process_config(db: Path, okta_url: str, ca: Path, slack_url: str) -> dict[str, Any]:
    return {
        "database_url": f"sqlite:///{db}",
        "log_level": "INFO",
        "organisation": {"it_channel": "#it-help"},
        "slack": {"api_base_url": slack_url, "bot_token": {"env": "SLACK_BOT_TOKEN"},
                  "signing_secret": {"env": "SLACK_SIGNING_SECRET"}},
        "connectors": {"okta": {"kind": "okta", "org_url": okta_url,
                                "api_token": {"env": "OKTA_TOKEN"}, "ca_file": str(ca)}},
        "capabilities": {"password_expiry": "okta", "password_reset": "okta"},
    }


async def _scrape(replica: Replica) -> Samples:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{replica.url}/metrics", timeout=20)
    assert answer.status_code == 200, answer.text
    return parse(answer.text)[0]


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_the_running_bot_reports_both_processes_and_readiness(
    mode: str, tmp_path: Path
) -> None:
    state = SlackState(Workspace.from_dict({
        "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
        "users": [{"id": OKTA_ADA, "name": "ada",
                   "profile": {"email": "ada.lovelace@example.com"}}],
    }))
    async with contextlib.AsyncExitStack() as stack:
        okta = await stack.enter_async_context(run_okta_sandbox(load_seed(DEMO_SEED)))
        fake = await stack.enter_async_context(run_slack_fake(state))
        environ = {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET,
                   "OKTA_TOKEN": DEMO_TOKEN}
        config = _process_config(tmp_path / "bot.sqlite3", okta.url, okta.ca_path, fake.base_url)
        if mode == "socket":
            assert fake.app_token is not None
            environ["SLACK_APP_TOKEN"] = fake.app_token
            config["slack"]["app_token"] = {"env": "SLACK_APP_TOKEN"}
        (replica,) = await stack.enter_async_context(
            running_replicas(1, config, environ, tmp_path))
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"{replica.url}/readyz", timeout=20)
        assert ready.status_code == 200, ready.text

        if mode == "socket":
            from sandboxes.slack import SocketModeTransport

            await fake.socket_mode.wait_connected()
            sender = await stack.enter_async_context(SlackEventSender(
                SECRET, "http://socket-mode.invalid/", state=state,
                transport=SocketModeTransport(fake.socket_mode)))
        else:
            sender = await stack.enter_async_context(
                SlackEventSender(SECRET, replica.events_url, state=state))
        await sender.dm(OKTA_ADA, "when does my password expire?")
        await state.wait_for_message(OKTA_ADA, "expire", timeout=30)

        samples: Samples = {}
        for _ in range(50):  # the action is counted when its audit record is written
            samples = await _scrape(replica)
            if value(samples, "helpdesk_actions_total", capability="password_expiry"):
                break
            await asyncio.sleep(0.1)
        # Counted where Slack is answered (the ingress process in HTTP mode) ...
        assert value(samples, "helpdesk_acks_total") >= 1
        assert value(samples, "helpdesk_events_total", kind="message") >= 1
        # ... and where the work runs.
        assert value(samples, "helpdesk_actions_total",
                     capability="password_expiry", result="ok") == 1
        assert value(samples, "helpdesk_connector_calls_total",
                     connector="okta", outcome="ok") >= 1
        assert ("helpdesk_approvals_pending", ()) in samples


# -- tracing (optional, off unless configured) ---------------------------------------------


def test_tracing_is_off_without_an_endpoint() -> None:
    from config import tracing

    assert tracing.configure({}) is False
    assert not tracing.enabled()


def test_tracing_turns_on_with_an_otlp_endpoint() -> None:
    from config import tracing

    try:
        assert tracing.configure({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9/"})
        assert tracing.enabled()
    finally:
        tracing.shutdown()
    assert not tracing.enabled()


async def test_a_request_and_its_connector_calls_share_the_correlation_id(
    tmp_path: Path,
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from config import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        async with served(f"sqlite:///{tmp_path}/bot.sqlite3", tmp_path):
            pass
    finally:
        tracing.use(None)
    spans = exporter.get_finished_spans()
    assert any(s.name == "slack.request" for s in spans)  # the acknowledged request
    turns = [s for s in spans if s.name == "helpdesk.turn"]
    calls = [s for s in spans if s.name.startswith("connector.")]
    assert turns and calls
    turn = next(s for s in turns if (s.attributes or {}).get("helpdesk.kind") == "message")
    cid = (turn.attributes or {})["helpdesk.correlation_id"]
    assert cid
    mine = [s for s in calls if (s.attributes or {}).get("helpdesk.correlation_id") == cid]
    assert {s.name for s in mine} >= {"connector.find_user_by_email"}
    assert turn.context is not None
    for call in mine:
        assert call.context is not None and call.context.trace_id == turn.context.trace_id
        assert call.parent is not None and call.parent.span_id == turn.context.span_id
