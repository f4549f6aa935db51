"""deploy/prometheus: the config and rules pass promtool, every alert says what to do, and
every alert and recording rule has promtool unit tests (deploy/prometheus/tests/*.yml)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.prometheus import (
    CONFIG_FILE,
    INSTALL_HINT,
    RULE_TESTS_DIR,
    RULES_FILE,
    recording_rules,
)

SEVERITIES = {"critical", "warning", "info"}
PORTS = {"hub-worker": 9310, "hub-connectors": 9311, "hub-deliver": 9312}


def promtool(*args: str | Path) -> subprocess.CompletedProcess:
    """Run promtool; fail (never skip) when it is not installed."""
    try:
        return subprocess.run(["promtool", *map(str, args)], capture_output=True, text=True,
                              timeout=120)
    except FileNotFoundError:
        pytest.fail(f"promtool is not installed: {INSTALL_HINT}", pytrace=False)


def assert_success(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} failed (exit code {result.returncode}):\n"
        f"{result.stdout}{result.stderr}")


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.yml"))


def test_the_config_is_valid_and_finds_its_rules():
    assert_success(promtool("check", "config", CONFIG_FILE))
    assert_success(promtool("check", "config", CONFIG_FILE.parent / "compose.yml"))


def test_the_rules_are_valid():
    assert_success(promtool("check", "rules", RULES_FILE))


def test_the_rules_pass_their_unit_tests():
    assert rule_test_files(), f"no promtool tests in {RULE_TESTS_DIR}"
    assert_success(promtool("test", "rules", *rule_test_files()))


def test_the_config_scrapes_each_process_on_its_port_and_loads_the_alerts():
    config = yaml.safe_load(CONFIG_FILE.read_text())
    targets = {job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
               for job in config["scrape_configs"]}
    assert targets == {job: [f"localhost:{port}"] for job, port in PORTS.items()}
    assert all(job.get("metrics_path", "/metrics") == "/metrics"
               for job in config["scrape_configs"])
    # relative, so that the folder works wherever it is mounted (compose: /etc/prometheus)
    assert config["rule_files"] == [RULES_FILE.name]


def test_every_alert_has_a_severity_and_says_what_happened_and_what_to_do():
    assert alerts(), f"no alerts in {RULES_FILE}"
    for rule in alerts():
        name = rule["alert"]
        assert rule.get("labels", {}).get("severity") in SEVERITIES, \
            f"{name}: severity must be one of {sorted(SEVERITIES)}"
        annotations = rule.get("annotations", {})
        assert annotations.get("summary", "").strip(), f"{name}: no summary"
        # what to do: a description of some substance, not a restated expression
        assert len(annotations.get("description", "").split()) >= 20, \
            f"{name}: the description should tell an operator what to do"


def test_every_alert_has_a_firing_and_a_quiet_test_case():
    firing, quiet = set(), set()
    for path in rule_test_files():
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - firing == set(), "alerts without a test case in which they fire"
    assert names - quiet == set(), "alerts without a test case in which they stay quiet"


def test_every_recording_rule_has_a_test_case():
    tested = " ".join(case["expr"] for path in rule_test_files()
                      for group in yaml.safe_load(path.read_text())["tests"]
                      for case in group.get("promql_expr_test", []))
    untested = [name for name, _ in recording_rules() if name not in tested]
    assert untested == [], "recording rules without a promql_expr_test"
