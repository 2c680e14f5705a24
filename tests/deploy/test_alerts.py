"""deploy/prometheus/alerts.yml: promtool accepts and unit-tests it, every expression names
only metrics the exporter really exports, every alert links to its runbook in the README,
and the PrometheusRule of the kustomize base carries the same groups."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.promql import metric_names, uses_any
from tests.deploy.support import BASE, DEPLOY, ROOT, load_yaml_docs
from tests.deploy.tooling import require

ALERTS = DEPLOY / "prometheus" / "alerts.yml"
UNIT_TESTS = Path(__file__).parent / "prometheus" / "alerts.test.yml"
RULE_RESOURCE = BASE / "prometheusrule.yaml"
README = ROOT / "README.md"
RUNBOOK = "https://github.com/masivo/masivo-tiktok/blob/main/README.md#"
PROMTOOL_INSTALL = "apt-get install prometheus (Debian) puts promtool on PATH"


#: metrics (``name`` or ``name{label}``) some alert must use
USED = (
    "masivo_tiktok_oldest_waiting_seconds",
    "masivo_tiktok_redis_up",
    "masivo_tiktok_requests_total{outcome}",
    "masivo_tiktok_redis_durable",
    "masivo_tiktok_redis_aof_delayed_fsync_total",
)


def _groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return groups


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _groups() for rule in group["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in _rules() if "alert" in rule]


def _anchor(name: str) -> str:
    return f"alert-{name.lower()}"


def test_promtool_checks_the_rules() -> None:
    promtool = require("promtool", PROMTOOL_INSTALL)
    result = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass(tmp_path: Path) -> None:
    promtool = require("promtool", PROMTOOL_INSTALL)
    stripped = {"groups": copy.deepcopy(_groups())}
    for group in stripped["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(stripped, sort_keys=False))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    result = subprocess.run(
        [promtool, "test", "rules", UNIT_TESTS.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    tests = yaml.safe_load(UNIT_TESTS.read_text(encoding="utf-8"))["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    for alert in _alerts():
        name = alert["alert"]
        firing = [c for c in cases if c["alertname"] == name and c.get("exp_alerts")]
        quiet = [c for c in cases if c["alertname"] == name and not c.get("exp_alerts")]
        assert firing, f"{name}: no promtool case where it fires"
        assert quiet, f"{name}: no promtool case where it stays quiet"


def _unknown(rules: list[dict[str, Any]], exported: set[str]) -> list[str]:
    problems = []
    for rule in rules:
        names = metric_names(rule["expr"])
        if not names:
            problems.append(f"{rule.get('alert')}: names no metric")
        for name in sorted(names - exported):
            problems.append(f"{rule.get('alert')}: {name} is not exported by masivo-tiktok metrics")
    return problems


def test_every_expression_names_only_exported_metrics(exported_metrics: set[str]) -> None:
    assert _unknown(_rules(), exported_metrics) == []


def test_a_renamed_metric_is_caught(exported_metrics: set[str]) -> None:
    renamed = copy.deepcopy(_rules())
    for rule in renamed:
        rule["expr"] = rule["expr"].replace("workers_alive", "workers_up")
    assert any("masivo_tiktok_workers_up" in p for p in _unknown(renamed, exported_metrics))
    assert _unknown(_rules(), exported_metrics - {"masivo_tiktok_paused"})


@pytest.mark.parametrize("series", USED)
def test_alerts_use(series: str, exported_series: set[str]) -> None:
    assert series in exported_series, f"{series} is not exported by masivo-tiktok metrics"
    assert uses_any([rule["expr"] for rule in _rules()], {series}), f"no alert uses {series}"


def test_alerts_link_to_their_runbook_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    section = readme.split("### Alerts", 1)
    assert len(section) == 2, "README.md needs an 'Alerts' runbook section"
    alerts_section = section[1].split("\n## ", 1)[0]
    names = [alert["alert"] for alert in _alerts()]
    assert len(names) == len(set(names))
    for alert in _alerts():
        name = alert["alert"]
        assert name.startswith("MasivoTikTok")
        assert alert["labels"]["severity"] in ("warning", "critical")
        notes = alert["annotations"]
        assert notes["summary"]
        assert notes["description"]
        assert notes["runbook_url"] == RUNBOOK + _anchor(name)
        assert f'<a id="{_anchor(name)}"></a>' in alerts_section, f"{name}: no runbook"


def test_pause_kinds_alerted_on_exist() -> None:
    from worker.store.pause import PauseKind

    (rule,) = [r for r in _alerts() if r["alert"] == "MasivoTikTokDestinationPaused"]
    kinds = re.search(r'kind=~"([^"]+)"', rule["expr"])
    assert kinds is not None
    assert set(kinds.group(1).split("|")) <= {k.value for k in PauseKind}


def test_prometheus_rule_of_the_base_is_the_same() -> None:
    (resource,) = load_yaml_docs(RULE_RESOURCE)
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["spec"]["groups"] == _groups(), f"{RULE_RESOURCE.name} differs from {ALERTS}"
