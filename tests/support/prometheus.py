"""A real Prometheus for tests, and the expressions of deploy/prometheus and deploy/grafana
in the form a live test evaluates them.

- :func:`render_config` turns ``deploy/prometheus/prometheus.yml`` into a config for a test:
  the test's scrape targets, the rule files by absolute path, short intervals;
- :func:`start_prometheus` runs ``prometheus`` on 127.0.0.1 with its data in a work folder
  and returns once it is ready; :func:`query` and :func:`rules` read its HTTP API;
- :func:`panel_queries`, :func:`alert_signals` and :func:`recording_rules` list what a
  dashboard or the rule file asks Prometheus, and :func:`metric_names` which metrics an
  expression reads. These are pure and tested in tests/deploy/test_prometheus_support.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
CONFIG_FILE = PROMETHEUS_DIR / "prometheus.yml"
RULES_FILE = PROMETHEUS_DIR / "alerts.yml"
RULE_TESTS_DIR = PROMETHEUS_DIR / "tests"
DASHBOARDS_DIR = REPO / "deploy" / "grafana" / "dashboards"
JOBS = ("hub-worker", "hub-connectors", "hub-deliver")

# What a live test puts in place of Grafana's variables.
RATE_INTERVAL = "1m"
ANY_VALUE = ".*"
INSTALL_HINT = ("install Debian's `prometheus` package (apt-get install prometheus), which "
                "brings `prometheus` and `promtool`; .ci/run installs it when it is missing")


def find_tool(name: str) -> str:
    """The path of ``prometheus`` or ``promtool``; a clear error when it is not installed."""
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"`{name}` is not on PATH: {INSTALL_HINT}")
    return path


# --- running Prometheus -------------------------------------------------------------------

def render_config(targets: Mapping[str, Sequence[str]], rule_files: Sequence[Path] = (RULES_FILE,),
                  interval: str = "1s") -> str:
    """``deploy/prometheus/prometheus.yml`` with ``targets`` ("host:port" per job name) as the
    only scrape targets (jobs not named are dropped), ``rule_files`` by absolute path, and
    scrape and evaluation every ``interval``."""
    config = yaml.safe_load(CONFIG_FILE.read_text())
    unknown = set(targets) - {job["job_name"] for job in config["scrape_configs"]}
    if unknown:
        raise KeyError(f"no such job in {CONFIG_FILE.name}: {sorted(unknown)}")
    config["global"].update(scrape_interval=interval, evaluation_interval=interval,
                            scrape_timeout=interval)
    config["rule_files"] = [str(Path(path).resolve()) for path in rule_files]
    config["scrape_configs"] = [
        {**job, "static_configs": [{"targets": list(targets[job["job_name"]])}]}
        for job in config["scrape_configs"] if job["job_name"] in targets
    ]
    return yaml.safe_dump(config, sort_keys=False)


@dataclass
class RunningPrometheus:
    process: subprocess.Popen
    url: str
    log: Path

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> RunningPrometheus:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_prometheus(config_text: str, workdir: Path, port: int,
                     timeout: float = 30.0) -> RunningPrometheus:
    """Start ``prometheus`` on 127.0.0.1:``port`` with ``config_text`` written to
    ``workdir/prometheus.yml`` and its storage in ``workdir/data``; return once ``/-/ready``
    answers (raises, with the end of its log, when it exits or is not ready in time)."""
    binary = find_tool("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(config_text)
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    running = RunningPrometheus(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with code {process.returncode}:\n"
                               f"{running.log_tail()}")
        try:
            with urllib.request.urlopen(f"{running.url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return running
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    running.stop()
    raise RuntimeError(f"prometheus not ready after {timeout:.0f} s:\n{running.log_tail()}")


def _api(base_url: str, path: str, **params: str) -> dict:
    url = f"{base_url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        try:
            found = json.loads(body)
            body = f"{found.get('errorType')}: {found.get('error')}"
        except ValueError:
            pass
        raise AssertionError(f"Prometheus answered {exc.code} to {path} {params}: {body}") \
            from None


def query(base_url: str, expr: str) -> list:
    """The result of an instant query (``/api/v1/query``): a list of samples, each
    ``{"metric": {...}, "value": [time, "value"]}``. A query Prometheus cannot parse or
    evaluate raises AssertionError with Prometheus's error text."""
    return _api(base_url, "/api/v1/query", query=expr)["data"]["result"]


def rules(base_url: str) -> list[dict]:
    """Every rule Prometheus has loaded (``/api/v1/rules``), with its ``health``
    (ok, err, unknown before its first evaluation) and ``lastError``."""
    groups = _api(base_url, "/api/v1/rules")["data"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


# --- what dashboards and rules ask --------------------------------------------------------

_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_]\w*)(?::[^}]*)?\}|([A-Za-z_]\w*))")


def substitute_variables(expr: str) -> str:
    """A Grafana expression as a live test evaluates it: ``$__rate_interval`` becomes
    ``1m``, any other ``$var`` or ``${var}`` ``.*`` (so variables belong in ``=~`` matchers).
    ``$1`` (label_replace's group reference) is left alone."""
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return RATE_INTERVAL if name == "__rate_interval" else ANY_VALUE
    return _VARIABLE.sub(value, expr)


def dashboard_panels(dashboard: dict) -> list[dict]:
    """Every panel of a dashboard, those inside (collapsed) rows included; rows themselves
    are listed too."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(dashboard_panels(panel))
    return found


def panel_queries(dashboard_path: Path) -> list[tuple[str, str]]:
    """``(panel title, expression)`` for every query of a dashboard, variables substituted."""
    dashboard = json.loads(Path(dashboard_path).read_text())
    return [(panel.get("title", ""), substitute_variables(target["expr"]))
            for panel in dashboard_panels(dashboard)
            for target in panel.get("targets", []) if target.get("expr")]


def _rules_of(rules_path: Path) -> list[dict]:
    document = yaml.safe_load(Path(rules_path).read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def recording_rules(rules_path: Path = RULES_FILE) -> list[tuple[str, str]]:
    """``(recorded name, expression)`` of every recording rule."""
    return [(rule["record"], rule["expr"].strip()) for rule in _rules_of(rules_path)
            if "record" in rule]


def alert_signals(rules_path: Path = RULES_FILE) -> list[tuple[str, str]]:
    """``(alert name, signal)`` for every signal of every alert: the expression split at its
    top-level ``and``/``or``/``unless``, each term without its comparison against a number
    (see :func:`split_signals`)."""
    return [(rule["alert"], signal) for rule in _rules_of(rules_path) if "alert" in rule
            for signal in split_signals(rule["expr"])]


_OPEN, _CLOSE = "([{", ")]}"
_SET_OPERATOR = re.compile(r"(?<![\w:])(and|or|unless)(?![\w:])", re.IGNORECASE)
_MATCHING = re.compile(r"^\s*(?:on|ignoring)\s*\(\s*\)", re.IGNORECASE)
_GROUPING = re.compile(r"^\s*group_(?:left|right)(?![\w:])\s*(?:\(\s*\))?", re.IGNORECASE)
_COMPARISON = re.compile(r"==|!=|>=|<=|>|<")
_NUMBER = re.compile(r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|0x[0-9a-f]+|inf|nan)$",
                     re.IGNORECASE)


def _top_level(expr: str) -> str:
    """``expr`` with everything inside brackets and quotes blanked out (same length), so
    that what remains is the expression's top level; brackets stay as themselves."""
    out, depth, quote, escaped = [], 0, None, False
    for char in expr:
        if quote:
            escaped = char == "\\" and not escaped and quote != "`"
            if char == quote and not escaped:
                quote = None
            out.append(" ")
            continue
        if char in "\"'`":
            quote, escaped = char, False
            out.append(" ")
        elif char in _OPEN:
            out.append(char if depth == 0 else " ")
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            out.append(char if depth == 0 else " ")
        else:
            out.append(char if depth == 0 else " ")
    if depth or quote:
        raise ValueError(f"unbalanced brackets or quotes in {expr!r}")
    return "".join(out)


def split_signals(expr: str) -> list[str]:
    """The signals of an alert expression: split at top-level ``and``, ``or`` and
    ``unless`` (a leading ``on(...)``/``ignoring(...)`` of a term dropped), each term
    without a top-level comparison against a number, and a term wholly in parentheses
    split in turn. ``sum(rate(x[5m])) by (a) > 0.5 and on() day_of_week() < 6`` gives
    ``sum(rate(x[5m])) by (a)`` and ``day_of_week()``."""
    expr = expr.strip()
    masked = _top_level(expr)
    cuts = [(m.start(), m.end()) for m in _SET_OPERATOR.finditer(masked)]
    if cuts:
        starts = [0] + [end for _, end in cuts]
        ends = [start for start, _ in cuts] + [len(expr)]
        signals = []
        for start, end in zip(starts, ends, strict=True):
            term = expr[start:end]
            for modifier in (_MATCHING, _GROUPING):  # matched on the top level only
                found = modifier.match(masked[start:end])
                if found:
                    term, start = term[found.end():], start + found.end()
            signals.extend(split_signals(term))
        return signals
    term = _without_number_comparison(expr)
    if _wholly_parenthesised(term):
        return split_signals(term[1:-1])
    return [term]


def _without_number_comparison(term: str) -> str:
    """``term`` without a top-level ``<op> [bool] NUMBER`` at its end, or
    ``NUMBER <op> [bool]`` at its start."""
    masked = _top_level(term)
    operators = list(_COMPARISON.finditer(masked))
    if not operators:
        return term
    last, first = operators[-1], operators[0]
    right = re.sub(r"^\s*bool\b", "", term[last.end():], flags=re.IGNORECASE).strip()
    if _NUMBER.match(right):
        return term[:last.start()].strip()
    left = term[:first.start()].strip()
    if _NUMBER.match(left):
        return re.sub(r"^\s*bool\b", "", term[first.end():], flags=re.IGNORECASE).strip()
    return term


def _wholly_parenthesised(term: str) -> bool:
    if not (term.startswith("(") and term.endswith(")")):
        return False
    masked = _top_level(term)
    return masked.count("(") == 1 and masked.count(")") == 1


# --- which metrics an expression reads ----------------------------------------------------

_KEYWORDS = frozenset({
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
    # aggregation operators may take their `by (...)` before the parentheses
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
})
_IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)")
_SELECTOR = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)\s*\{([^{}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")


def _without_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (selectors, not functions, keywords, label
    names, durations or numbers)."""
    text = _without_strings(expr)
    text = re.sub(r"\{[^{}]*\}", "{}", text)
    text = re.sub(r"\[[^\[\]]*\]", "[]", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", r"\1",
                  text)
    text = re.sub(r"\boffset\s+-?[\dsmhdwy]+", "", text)
    text = re.sub(r"@\s*(start\(\)|end\(\)|[\d.]+)", "", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group(1)
        rest = text[match.end():].lstrip()
        if rest.startswith("(") or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def label_matchers(expr: str) -> list[tuple[str, str]]:
    """``(metric name, label name)`` for every label matcher written in a selector
    (``hub_refusals_total{reason="no_consent"}`` gives ``("hub_refusals_total", "reason")``)."""
    text = _without_strings(expr)
    return [(match.group(1), label)
            for match in _SELECTOR.finditer(text)
            for label in _MATCHER.findall(match.group(2))]
