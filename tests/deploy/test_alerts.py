"""The example alerting rules: valid PromQL over the metric names docs/operations.md defines."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.conftest import missing_server
from tests.deploy.artifacts import OPERATIONS, ROOT, metric_table

RULES: list[dict[str, Any]] = yaml.safe_load(
    (ROOT / "deploy" / "prometheus" / "alerts.yaml").read_text()
)["groups"][0]["rules"]
# The names the metrics work implements (the list); the table must define each.
PLANNED = {
    "helpdesk_acks_total", "helpdesk_ack_seconds", "helpdesk_events_total",
    "helpdesk_actions_total", "helpdesk_connector_calls_total", "helpdesk_connector_seconds",
    "helpdesk_api_throttled_total", "helpdesk_api_retries_total", "helpdesk_outbox_depth",
    "helpdesk_outbox_oldest_seconds", "helpdesk_jobs_depth", "helpdesk_jobs_oldest_seconds",
    "helpdesk_approvals_pending", "helpdesk_sweep_progress_ratio", "helpdesk_inbox_depth",
    "helpdesk_sweep_last_success_timestamp_seconds",
}


def test_the_metric_table_defines_the_planned_names() -> None:
    table = metric_table()
    assert set(table) == PLANNED
    assert table["helpdesk_ack_seconds"][0] == "histogram"
    assert table["helpdesk_connector_calls_total"][1] == {"connector", "operation", "outcome"}
    assert all(name.endswith("_total") == (kind == "counter") for name, (kind, _) in table.items())


def _selectors(expr: str) -> tuple[list[tuple[str, set[str]]], set[str]]:
    """The metric selectors (name, matched labels) and grouping labels of a PromQL expression."""
    try:
        import promql_parser
    except ImportError:
        missing_server("promql-parser not installed (the [dev] extra)")
    tree = promql_parser.parse(expr)  # raises ValueError on a syntax error
    selectors: list[tuple[str, set[str]]] = []
    grouping: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            selectors.append((node.name or "", {m.name for m in node.matchers.matchers}))
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            grouping.update(node.modifier.labels)
        return True

    promql_parser.walk(tree, visit)
    return selectors, grouping


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_each_rule_uses_only_documented_metrics_and_labels(rule: dict[str, Any]) -> None:
    table = metric_table()
    selectors, grouping = _selectors(rule["expr"])
    assert selectors
    labels: set[str] = set()
    for name, matched in selectors:
        if name == "up":
            assert matched == {"job"}
            continue
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert base in table, f"{name} is not in docs/operations.md's metric table"
        kind, documented = table[base]
        assert (name != base) == (kind == "histogram"), name
        assert matched <= documented, f"{name}: {matched - documented} not documented"
        labels |= documented | ({"le"} if kind == "histogram" else set())
    assert grouping <= labels, f"grouped by undocumented {grouping - labels}"


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_each_rule_is_explained_in_the_operations_guide(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert re.fullmatch(r"\d+[smh]", rule["for"])
    assert rule["annotations"]["summary"]
    name = rule["alert"]
    assert rule["annotations"]["runbook"] == f"docs/operations.md#{name.lower()}"
    assert re.search(rf"^### {name}$", OPERATIONS, re.M), f"no '### {name}' in the guide"


def test_alert_names_are_unique() -> None:
    names = [r["alert"] for r in RULES]
    assert len(names) == len(set(names))
