"""deploy/observability/: the Grafana dashboard and the Prometheus alert rules watch only what
the services really expose, the dashboard is well-formed Grafana dashboard JSON, and promtool
accepts the rules, the example configuration and every alert's unit tests.

Metric names and labels are read from the code: every module that imports prometheus_client
is imported, so its metrics are in the default registry, and each PromQL expression is
taken apart into its selectors (metric name and label matchers), its grouping labels and the
function each selector is an argument of (a counter is only `rate`d or `increase`d, a gauge
only `delta`ed or `deriv`ed).

promtool comes from Debian's `prometheus` package (`scripts/bootstrap` installs it as root).
Without it the promtool test is skipped with the reason, except under CI (`CI=true`), where
it fails: CI must be able to check the rules it ships.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

pytestmark = pytest.mark.contract

REPO = Path(__file__).resolve().parents[2]
OBSERVABILITY = REPO / "deploy" / "observability"
DASHBOARD = OBSERVABILITY / "qaloop-dashboard.json"
ALERTS = OBSERVABILITY / "alerts.yml"
ALERT_TESTS = OBSERVABILITY / "alerts_test.yml"
PROMETHEUS_CONFIG = OBSERVABILITY / "prometheus.yml"
OPERATIONS = REPO / "docs" / "operations.md"

TARGET_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
COUNTER_FUNCTIONS = {"rate", "irate", "increase"}
GAUGE_FUNCTIONS = {"delta", "deriv", "idelta", "predict_linear"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = GROUPING | {"and", "or", "unless", "offset", "bool", "inf", "nan"}


# --------------------------------------------------------------------------- what the code exposes


@dataclass(frozen=True)
class Exposed:
    family: str
    kind: str  # counter, gauge, histogram
    labels: frozenset[str]


def exposed_metrics() -> dict[str, Exposed]:
    """Every sample name the services can expose -> its family, type and labels."""
    for module in modules_with_metrics():
        importlib.import_module(module)
    labels: dict[str, frozenset[str]] = {}
    for module in modules_with_metrics():
        for value in vars(importlib.import_module(module)).values():
            if isinstance(value, MetricWrapperBase):
                # prometheus_client keeps the label names only here (no public accessor)
                labels[value.describe()[0].name] = frozenset(value._labelnames)
    samples: dict[str, Exposed] = {"up": Exposed("up", "gauge", frozenset())}  # Prometheus's own
    for family in REGISTRY.collect():
        if family.name in labels:
            for suffix in SUFFIXES.get(family.type, ()):
                samples[family.name + suffix] = Exposed(family.name, family.type, labels[family.name])
    return samples


def modules_with_metrics() -> list[str]:
    found = []
    for root in ("shared", "services"):
        for path in sorted((REPO / root).rglob("*.py")):
            if re.search(r"^from prometheus_client import .*\b(Counter|Gauge|Histogram)\b", path.read_text(), re.M):
                found.append(".".join(path.relative_to(REPO).with_suffix("").parts))
    return found


# --------------------------------------------------------------------------- PromQL, taken apart

TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
      | (?P<range>\[[^\]]*\])
      | (?P<matchers>\{(?:"(?:[^"\\]|\\.)*"|[^}"])*\})
      | (?P<duration>\d+(?:ms|[smhdwy])\b)
      | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
      | (?P<variable>\$\{?\w+\}?)
      | (?P<other>\S)""",
    re.X,
)
MATCHER = re.compile(r"""([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")


@dataclass
class Selector:
    metric: str
    labels: set[str]
    function: str | None  # the innermost function it is an argument of


@dataclass
class Parsed:
    selectors: list[Selector] = field(default_factory=list)
    grouping: set[str] = field(default_factory=set)


def parse_promql(expr: str) -> Parsed:
    tokens = [(m.lastgroup, m.group()) for m in TOKEN.finditer(expr)]
    out = Parsed()
    stack: list[str | None] = []  # the function of each open parenthesis
    pending: str | None = None  # `sum by (x) (…)`: the aggregation whose parenthesis comes next
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind == "name" and text in GROUPING and following == "(":
            end = next(j for j in range(i + 2, len(tokens)) if tokens[j][1] == ")")
            out.grouping |= {t for k, t in tokens[i + 2 : end] if k == "name"}
            i = end + 1
            continue
        if kind == "name" and text not in KEYWORDS and following in {"(", "by", "without"}:
            pending = text
        elif text == "(":
            stack.append(pending)
            pending = None
        elif text == ")":
            stack.pop()
        elif kind == "name" and text.lower() not in KEYWORDS:
            matchers = following if following.startswith("{") else ""
            function = next((f for f in reversed(stack) if f is not None), None)
            out.selectors.append(Selector(text, set(MATCHER.findall(matchers)), function))
        i += 1
    assert not stack, f"unbalanced parentheses in {expr!r}"
    return out


def test_the_promql_reader_finds_names_labels_grouping_and_functions() -> None:
    parsed = parse_promql(
        'histogram_quantile(0.95, sum by (service, le) (rate(a_bucket{service=~"$service", route="/v1/{x}"}'
        "[$__rate_interval]))) / ignoring (le) max(b offset 1h) > 0 and on (instance) c_total or vector(0)"
    )
    assert [(s.metric, s.labels, s.function) for s in parsed.selectors] == [
        ("a_bucket", {"service", "route"}, "rate"),
        ("b", set(), "max"),
        ("c_total", set(), None),
    ]
    assert parsed.grouping == {"service", "le", "instance"}


# --------------------------------------------------------------------------- the files


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels() -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard()["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # a collapsed row holds its panels
    return panels


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def expressions() -> list[tuple[str, str]]:
    """(where, PromQL) of every dashboard target, dashboard variable query and alert."""
    found = [
        (f"panel {p['id']} {p['title']!r} {t['refId']}", t["expr"])
        for p in dashboard_panels()
        for t in p.get("targets", [])
    ]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            inner = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable["definition"])
            assert inner, f"variable {variable['name']}: {variable['definition']!r}"
            found.append((f"variable {variable['name']}", f"sum by ({inner.group(2)}) ({inner.group(1)})"))
    found += [(f"alert {r['alert']}", r["expr"]) for r in alert_rules()]
    return found


def check_expression(where: str, expr: str, exposed: dict[str, Exposed]) -> list[str]:
    problems = []
    parsed = parse_promql(expr)
    if not parsed.selectors:
        problems.append(f"{where}: no metric in {expr!r}")
    available = set(TARGET_LABELS)
    for selector in parsed.selectors:
        metric = exposed.get(selector.metric)
        if metric is None:
            problems.append(f"{where}: {selector.metric} is not exposed by the services")
            continue
        available |= metric.labels | ({"le"} if selector.metric.endswith("_bucket") else set())
        unknown = selector.labels - metric.labels - TARGET_LABELS
        if unknown:
            problems.append(f"{where}: {selector.metric} has no label {sorted(unknown)}")
        counter_like = metric.kind in {"counter", "histogram"}  # a histogram's samples are counters
        if selector.function in COUNTER_FUNCTIONS and not counter_like:
            problems.append(f"{where}: {selector.function}() of the gauge {selector.metric}")
        if selector.function in GAUGE_FUNCTIONS and counter_like:
            problems.append(f"{where}: {selector.function}() of the counter {selector.metric}")
    if parsed.grouping - available:
        problems.append(f"{where}: grouped by {sorted(parsed.grouping - available)}, which no selector has")
    return problems


# --------------------------------------------------------------------------- the tests


def test_every_metric_and_label_the_dashboard_and_alerts_use_is_exposed_by_the_code() -> None:
    exposed = exposed_metrics()
    assert "qaloop_events_applied_total" in exposed and "qaloop_access_log_failures_total" in exposed
    problems = [p for where, expr in expressions() for p in check_expression(where, expr, exposed)]
    assert problems == []


def test_the_alert_unit_tests_feed_only_real_series() -> None:
    exposed = exposed_metrics()
    problems = []
    for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for series in test["input_series"]:
            selector = parse_promql(series["series"]).selectors[0]
            metric = exposed.get(selector.metric)
            if metric is None:
                problems.append(f"{series['series']}: not exposed")
            elif selector.labels - metric.labels - TARGET_LABELS - {"le"}:
                problems.append(f"{series['series']}: labels {sorted(selector.labels - metric.labels)}")
    assert problems == []


def test_the_dashboard_covers_what_operations_staff_watch() -> None:
    """Issue 16, item 6: each of these is a panel (by the metric and grouping that show it)."""
    shown = [parse_promql(t["expr"]) for p in dashboard_panels() for t in p.get("targets", [])]

    def panel_with(metric: str, by: str | None = None) -> bool:
        return any(
            any(s.metric == metric for s in parsed.selectors) and (by is None or by in parsed.grouping)
            for parsed in shown
        )

    wanted = {
        "intake rate": panel_with("qaloop_events_applied_total"),
        "batch sizes": panel_with("qaloop_consumer_batch_size_bucket"),
        "publish -> visible latency": panel_with("qaloop_event_publish_to_visible_seconds_bucket"),
        "queue depths": panel_with("qaloop_queue_depth", "queue"),
        "dead letters by reason": panel_with("qaloop_events_dead_lettered_total", "kind"),
        "outbox backlog per strand": panel_with("qaloop_outbox_backlog", "schema"),
        "follow-ups overdue": panel_with("qaloop_followups_overdue"),
        "HTTP latency per route": panel_with("qaloop_http_request_duration_seconds_bucket", "route"),
        "HTTP errors per route": any(
            "5.." in t["expr"] and "route" in parse_promql(t["expr"]).grouping
            for p in dashboard_panels()
            for t in p.get("targets", [])
        ),
    }
    assert [what for what, ok in wanted.items() if not ok] == []


def test_the_dashboard_is_grafana_dashboard_json() -> None:
    board = dashboard()
    assert isinstance(board["title"], str) and board["title"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", board["uid"])
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert "id" not in board or board["id"] is None, "an exported id would clash on import"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    data_source = {"type": "prometheus", "uid": "${datasource}"}
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids), "panel ids are unique integers"
    cells: set[tuple[int, int]] = set()
    for panel in dashboard_panels():
        where = f"panel {panel['id']} {panel.get('title')!r}"
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y")), where
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, where
        mine = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, f"{where} overlaps another panel"
        cells |= mine
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "bargauge", "gauge", "table", "heatmap"}, where
        assert panel["title"] and panel.get("description"), where
        assert panel["datasource"] == data_source, where
        targets = panel["targets"]
        assert targets, f"{where} has no targets"
        assert len({t["refId"] for t in targets}) == len(targets), f"{where}: refIds repeat"
        for target in targets:
            assert target["datasource"] == data_source and target["expr"].strip(), where


def test_every_alert_is_unit_tested_firing_and_documented() -> None:
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    firing: set[str] = set()
    for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        firing |= {case["alertname"] for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert set(names) - firing == set(), "each alert has a test where it fires"
    headings = {slug(h) for h in re.findall(r"^#+ (.+)$", OPERATIONS.read_text(), re.M)}
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md" and anchor in headings, f"{rule['alert']}: no section #{anchor}"
        assert f"`{rule['alert']}`" in OPERATIONS.read_text(), f"{rule['alert']} is not explained in operations.md"


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_promtool_checks_the_rules_the_config_and_runs_every_alert_unit_test(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        reason = "promtool is not installed (Debian: apt-get install prometheus; scripts/bootstrap does it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"the alert rules must be checked under CI, but {reason}")
        pytest.skip(reason)

    def run(*args: str, cwd: Path = OBSERVABILITY) -> None:
        done = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}\n{done.stderr}"

    run("check", "rules", ALERTS.name)
    run("test", "rules", ALERT_TESTS.name)
    # The example configuration, whole (its rule files and a credentials file that exists).
    token = tmp_path / "qaloop-token"
    token.write_text("example\n")
    config = PROMETHEUS_CONFIG.read_text()
    assert "/etc/prometheus/qaloop-token" in config
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/qaloop-token", str(token)))
    shutil.copy(ALERTS, tmp_path / ALERTS.name)
    run("check", "config", "prometheus.yml", cwd=tmp_path)
