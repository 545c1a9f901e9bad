"""Prometheus metrics, with the names, labels and values docs/operations.md defines.

One registry per process (``REGISTRY``), filled by the code at each choke point: the
ingress counts acknowledgements (``acknowledged``), the audit trail counts finished
actions (``audited``), ``actions.providers`` times every connector call, the Slack
client's retry handler and the connectors' transport statistics count 429s and retries,
and the work process reads queue depths from the shared store just before it is scraped.

HTTP mode runs two processes (``bot.slack.ingress``): ``GET /metrics`` is answered by the
ingress with its own samples and the work process's, which it asks for over their socket
pair as a ``snapshot()`` (plain JSON). ``merge`` adds samples with the same name and
labels (counters and histograms add up across processes; each gauge is only ever set in
the work process, so the sum is its value). Socket Mode is one process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# ``*_created`` samples are timestamps: they cannot be added across processes, and the
# alerting rules do not use them.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what generate_latest writes
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REGISTRY = CollectorRegistry(auto_describe=True)

ACKS = Counter(
    "helpdesk_acks", "Slack requests acknowledged", registry=REGISTRY)
ACK_SECONDS = Histogram(
    "helpdesk_ack_seconds", "From receiving a Slack request to acknowledging it",
    buckets=ACK_BUCKETS, registry=REGISTRY)
EVENTS = Counter(
    "helpdesk_events", "Slack requests received, by kind", ["kind"], registry=REGISTRY)
ACTIONS = Counter(
    "helpdesk_actions", "Self-service and access actions finished",
    ["capability", "result"], registry=REGISTRY)
CONNECTOR_CALLS = Counter(
    "helpdesk_connector_calls", "Calls to identity systems",
    ["connector", "operation", "outcome"], registry=REGISTRY)
CONNECTOR_SECONDS = Histogram(
    "helpdesk_connector_seconds", "Duration of calls to identity systems, retries included",
    ["connector", "operation"], buckets=CALL_BUCKETS, registry=REGISTRY)
THROTTLED = Counter(
    "helpdesk_api_throttled", "429 answers received", ["api"], registry=REGISTRY)
RETRIES = Counter(
    "helpdesk_api_retries", "Retried calls, whatever the cause", ["api"], registry=REGISTRY)
OUTBOX_DEPTH = Gauge(
    "helpdesk_outbox_depth", "Messages for Slack accepted but not yet posted",
    registry=REGISTRY)
OUTBOX_OLDEST = Gauge(
    "helpdesk_outbox_oldest_seconds", "Age of the oldest message not yet posted",
    registry=REGISTRY)
INBOX_DEPTH = Gauge(
    "helpdesk_inbox_depth", "Slack requests acknowledged and not yet worked through",
    registry=REGISTRY)
JOBS_DEPTH = Gauge(
    "helpdesk_jobs_depth", "Durable jobs due and not done", registry=REGISTRY)
JOBS_OLDEST = Gauge(
    "helpdesk_jobs_oldest_seconds", "How late the most overdue job is", registry=REGISTRY)
APPROVALS_PENDING = Gauge(
    "helpdesk_approvals_pending", "Access requests waiting for a decision", registry=REGISTRY)
SWEEP_PROGRESS = Gauge(
    "helpdesk_sweep_progress_ratio", "The password-expiry sweep's progress, 0 to 1",
    registry=REGISTRY)
SWEEP_LAST_SUCCESS = Gauge(
    "helpdesk_sweep_last_success_timestamp_seconds", "When the last sweep finished",
    registry=REGISTRY)

#: The kinds ``helpdesk_events_total`` counts (anything else is ``other``).
EVENT_KINDS = frozenset({
    "message", "app_home_opened", "block_actions", "view_submission", "command",
    "url_verification", "duplicate", "rejected", "other",
})


def event_kind(parsed: Mapping[str, Any] | None) -> str:
    """The ``kind`` label of a Slack request (None: it could not be read)."""
    if parsed is None:
        return "rejected"
    kind = parsed.get("type")
    if kind == "event_callback":
        event = parsed.get("event")
        inner = event.get("type") if isinstance(event, dict) else None
        return inner if inner in ("message", "app_home_opened") else "other"
    if kind in ("block_actions", "view_submission", "url_verification"):
        return str(kind)
    if kind is None and "command" in parsed:
        return "command"
    return "other"


def acknowledged(kind: str, started: float) -> None:
    """Count one request answered to Slack; ``started`` is its ``time.perf_counter()``."""
    ACKS.inc()
    ACK_SECONDS.observe(time.perf_counter() - started)
    EVENTS.labels(kind=kind if kind in EVENT_KINDS else "other").inc()


def received(kind: str) -> None:
    """Count a request that is not acknowledged here (``rejected``, ``duplicate``)."""
    EVENTS.labels(kind=kind if kind in EVENT_KINDS else "other").inc()


# -- actions, from the audit trail -----------------------------------------------------

_SELF_SERVICE = frozenset({"password_reset", "unlock", "mfa_reset", "password_expiry"})
_OK = frozenset({"success", "ok", "sent", "granted"})
_REFUSED = frozenset({"refused", "denied", "rate_limited"})


def audited(action: str, result: str) -> None:
    """Count a finished action from its audit record (other records are not actions).

    Self-service records carry the capability as their action. For group access, an
    action finishes when the group is changed (``access_grant``: ``ok`` or ``error``)
    or when the request is refused before it reaches an approver.
    """
    if action in _SELF_SERVICE:
        capability = action
    elif action == "access_grant" or (action == "access_request" and result in _REFUSED):
        capability = "groups"
    else:
        return
    outcome = "ok" if result in _OK else "refused" if result in _REFUSED else "error"
    ACTIONS.labels(capability=capability, result=outcome).inc()


# -- connector calls -------------------------------------------------------------------


def connector_called(connector: str, operation: str, outcome: str, seconds: float) -> None:
    CONNECTOR_CALLS.labels(connector=connector, operation=operation, outcome=outcome).inc()
    CONNECTOR_SECONDS.labels(connector=connector, operation=operation).observe(seconds)


class TransportCounts:
    """Turns a transport's running totals (retries, 429s) into counter increments.

    Connectors count what their HTTP layer did in plain attributes (``stats.retries``,
    ``stats.rate_limited``); ``sync`` adds what is new since the last call, so the
    connectors need not know about Prometheus.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}

    def sync(self, api: str, retries: float, throttled: float) -> None:
        for counter, key, total in ((RETRIES, "retries", retries), (THROTTLED, "429", throttled)):
            before = self._seen.get((api, key), 0.0)
            if total > before:
                counter.labels(api=api).inc(total - before)
            self._seen[(api, key)] = total


TRANSPORTS = TransportCounts()


# -- across processes ------------------------------------------------------------------


def snapshot(registry: CollectorRegistry = REGISTRY) -> list[dict[str, Any]]:
    """The registry's current samples as plain data (what the work process sends)."""
    return [
        {
            "name": family.name,
            "type": family.type,
            "help": family.documentation,
            "samples": [[s.name, dict(s.labels), s.value] for s in family.samples],
        }
        for family in registry.collect()
    ]


def merge(*snapshots: Sequence[Mapping[str, Any]]) -> list[Metric]:
    """One family per name, samples with equal name and labels added together."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for snap in snapshots:
        for family in snap:
            name = str(family["name"])
            if name not in families:
                families[name] = Metric(name, str(family["help"]), str(family["type"]))
                values[name] = {}
            for sample_name, labels, value in family["samples"]:
                key = (str(sample_name), tuple(sorted((str(k), str(v)) for k, v in labels.items())))
                values[name][key] = values[name].get(key, 0.0) + float(value)
    for name, merged in families.items():
        for (sample_name, labels), value in values[name].items():
            merged.add_sample(sample_name, dict(labels), value)
    return list(families.values())


class _Fixed(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def render(families: Iterable[Metric]) -> bytes:
    """Prometheus text exposition of ``families``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))
    return generate_latest(registry)


def exposition(*others: Sequence[Mapping[str, Any]]) -> bytes:
    """This process's metrics merged with other processes' snapshots, as Prometheus text."""
    return render(merge(snapshot(), *others))


# -- the password-expiry sweep ---------------------------------------------------------


class _Sweep:
    """Whether a sweep runs in this process (it then sets the progress gauge itself)."""

    running_here = False


SWEEP = _Sweep()


def sweep_progress(settled: int, in_flight: int) -> None:
    """A sweep here has settled ``settled`` people with ``in_flight`` more under way.

    Below 1 until the sweep ends: how many people a pass covers is only known at its end.
    """
    SWEEP.running_here = True
    total = settled + in_flight
    SWEEP_PROGRESS.set(min(0.99, settled / total) if total else 0.0)


def sweep_ended(completed: bool) -> None:
    SWEEP.running_here = False
    if completed:
        SWEEP_PROGRESS.set(1.0)


def sweep_elsewhere(running: bool, ever_completed: bool) -> None:
    """Progress as this replica sees it from the store, when it is not sweeping itself.

    A sweep running on another replica shows 0 here, so ``max()`` over replicas is the
    sweeping replica's figure (and a stalled sweep is not hidden behind an idle replica's 1).
    """
    if SWEEP.running_here:
        return
    SWEEP_PROGRESS.set(0.0 if running or not ever_completed else 1.0)
