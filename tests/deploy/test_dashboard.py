"""deploy/grafana/masivo-tiktok.json: every query names only metrics the exporter exports.

The exported names come from running the exporter's real collector (tests/deploy/conftest.py),
so renaming a metric in cli/metrics.py without the dashboard fails here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.promql import grafana_names, uses_any
from tests.deploy.support import DEPLOY

DASHBOARD = DEPLOY / "grafana" / "masivo-tiktok.json"

#: what the issue asks the dashboard to show -> a metric each such panel must use
REQUIRED = {
    "throughput by destination": "masivo_tiktok_events_delivered_total",
    "delivery lag": "masivo_tiktok_event_age_at_delivery_seconds_sum",
    "outbox depth": "masivo_tiktok_outbox_depth",
    "40100 rate": "masivo_tiktok_rate_limited_responses_total",
    "bucket state": "masivo_tiktok_bucket_rate",
    "DLQ growth by reason": "masivo_tiktok_events_dead_lettered_total",
    "paused destinations": "masivo_tiktok_paused",
    "worker heartbeats": "masivo_tiktok_workers_alive",
    "match-quality coverage": "masivo_tiktok_match_key_total",
    "delivery lag: oldest waiting event": "masivo_tiktok_oldest_waiting_seconds",
    "requests by outcome (5xx, timeouts, 40100, auth, invalid)": "masivo_tiktok_requests_total",
    "Redis up": "masivo_tiktok_redis_up",
    "DLQ entries by reason": "masivo_tiktok_dlq_entries",
}


def _load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return dashboard


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, expression) for every panel target and query variable."""
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target.get('refId')}", target["expr"]
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var["query"]
            yield f"variable {var['name']}", query["query"] if isinstance(query, dict) else query


def _unknown(dashboard: dict[str, Any], exported: set[str]) -> list[str]:
    problems = []
    for where, expr in _queries(dashboard):
        names = grafana_names(expr)
        if not names:
            problems.append(f"{where}: names no metric: {expr}")
        for name in sorted(names - exported):
            problems.append(f"{where}: {name} is not exported by masivo-tiktok metrics")
    return problems


def _used_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [expr for _where, expr in _queries(dashboard)]


def _used(dashboard: dict[str, Any]) -> set[str]:
    return {name for _where, expr in _queries(dashboard) for name in grafana_names(expr)}


def test_dashboard_is_grafana_json() -> None:
    dashboard = _load()
    assert dashboard["uid"] == "masivo-tiktok"
    assert dashboard["title"]
    ids = [p["id"] for p in _panels(dashboard["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in _panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", "the datasource is a variable"
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]


def test_every_query_names_only_exported_metrics(exported_metrics: set[str]) -> None:
    assert _unknown(_load(), exported_metrics) == []


def test_a_renamed_metric_is_caught(exported_metrics: set[str]) -> None:
    dashboard = _load()
    renamed = copy.deepcopy(dashboard)
    for panel in _panels(renamed["panels"]):
        for target in panel.get("targets", []):
            target["expr"] = target["expr"].replace("outbox_depth", "outbox_size")
    problems = _unknown(renamed, exported_metrics)
    assert any("masivo_tiktok_outbox_size" in p for p in problems)
    # and the other way round: the exporter renames, the dashboard does not
    assert _unknown(dashboard, exported_metrics - {"masivo_tiktok_outbox_depth"})


@pytest.mark.parametrize("subject", sorted(REQUIRED))
def test_dashboard_shows(subject: str) -> None:
    assert REQUIRED[subject] in _used(_load()), f"no panel shows {subject}"


def test_requests_are_shown_by_outcome() -> None:
    assert uses_any(_used_exprs(_load()), {"masivo_tiktok_requests_total{outcome}"})


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (destination) (rate(a_total{x="by (y)"}[5m]))', {"a_total"}),
        ("max(a) / on(destination) group_left(kind) b == 1", {"a", "b"}),
        ("histogram_quantile(0.99, sum by (le) (rate(c_bucket[5m]))) > 1e3", {"c_bucket"}),
        ("absent(up) or vector(0)", {"up"}),
        ("label_values(d_total, destination)", {"d_total"}),
    ],
)
def test_metric_names_of_promql(expr: str, names: set[str]) -> None:
    assert grafana_names(expr) == names
