"""deploy/compose.yaml and the image it builds, read as files (no Docker here)."""

import re

import pytest
import yaml

from hub.agencies import load_agencies
from hub.broker.local import kafka_version
from hub.cli import build_parser
from hub.commands.run import cmd_run
from hub.commands.topics import cmd_topics
from hub.deployment.k8s import worker_limit
from hub.paths import DEPLOY_DIR, PROJECT_ROOT
from hub.topics import plan_topics

COMPOSE = DEPLOY_DIR / "compose.yaml"
DOCKERFILE = DEPLOY_DIR / "docker" / "Dockerfile"
DOCS = PROJECT_ROOT / "docs" / "deployment.md"
METRICS_PORT = "9310"
PROMETHEUS_LOCAL = DEPLOY_DIR / "prometheus" / "prometheus.yml"
PROMETHEUS_COMPOSE = DEPLOY_DIR / "prometheus" / "compose.yml"


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def test_the_services(services):
    assert set(services) == {"kafka", "topics", "worker", "prometheus", "grafana"}


def test_kafka_is_the_version_of_the_pom(services):
    image, tag = services["kafka"]["image"].split(":")
    assert image == "apache/kafka"
    assert tag == kafka_version()


def test_kafka_runs_kraft_combined_on_one_node(services):
    env = services["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "INTERNAL://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    # topics come from `hub topics apply` only
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_hub_containers_reach_kafka_by_its_service_name(services):
    for name in ("topics", "worker"):
        host, port = services[name]["environment"]["HUB_BOOTSTRAP_SERVERS"].split(":")
        assert host in services and port == "9092"


def test_commands_are_real_hub_subcommands(services):
    parser = build_parser()
    assert parser.parse_args(services["worker"]["command"]).func is cmd_run
    assert parser.parse_args(services["topics"]["command"]).func is cmd_topics


def test_worker_settings(services):
    env = services["worker"]["environment"]
    assert env["HUB_METRICS_ADDR"] == "0.0.0.0"
    assert env["HUB_HOME"] == "/var/lib/hub"
    assert all(key.startswith("HUB_") for key in env)


def test_metrics_port_is_the_one_exposed_and_scraped(services):
    worker = services["worker"]
    assert str(worker["environment"]["HUB_METRICS_PORT"]) == METRICS_PORT
    assert [str(p) for p in worker["expose"]] == [METRICS_PORT]
    # Prometheus in compose scrapes every replica of the service on that port
    config = yaml.safe_load(PROMETHEUS_COMPOSE.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    [sd] = jobs["hub-worker"]["dns_sd_configs"]
    assert sd["names"] == ["worker"] and str(sd["port"]) == METRICS_PORT
    assert f"worker:{METRICS_PORT}" in DOCS.read_text(encoding="utf-8")


def test_prometheus_in_compose_has_the_jobs_and_alerts_of_the_local_config(services):
    local = yaml.safe_load(PROMETHEUS_LOCAL.read_text(encoding="utf-8"))
    config = yaml.safe_load(PROMETHEUS_COMPOSE.read_text(encoding="utf-8"))
    assert [j["job_name"] for j in config["scrape_configs"]] == \
        [j["job_name"] for j in local["scrape_configs"]]
    assert config["rule_files"] == local["rule_files"]
    assert f"--config.file=/etc/prometheus/{PROMETHEUS_COMPOSE.name}" in \
        services["prometheus"]["command"]


def test_workers_scale_at_most_to_the_outbox_partitions(services):
    agencies = load_agencies()
    replicas = services["worker"]["deploy"]["replicas"]
    assert 1 <= replicas <= worker_limit(plan_topics(agencies))


def test_services_referenced_exist(services):
    for name, service in services.items():
        for needed in service.get("depends_on") or []:
            assert needed in services, f"{name} depends on unknown service {needed}"
    assert services["worker"]["depends_on"]["topics"]["condition"] == (
        "service_completed_successfully")
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_named_volumes_are_declared(compose, services):
    for service in services.values():
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            if not source.startswith(("./", "../", "/")):
                assert source in compose["volumes"]


def _binds(service) -> dict[str, str]:
    """host path (relative to deploy/) -> container path"""
    return {v.split(":")[0]: v.split(":")[1] for v in service.get("volumes") or []
            if v.startswith("./")}


def test_prometheus_and_grafana_mount_the_agreed_folders(services):
    # deploy/prometheus/ and deploy/grafana/ are written separately; the paths are agreed
    prometheus = services["prometheus"]
    assert prometheus["image"].split(":")[0] == "prom/prometheus"
    assert _binds(prometheus) == {"./prometheus": "/etc/prometheus"}
    grafana = services["grafana"]
    assert grafana["image"].split(":")[0] == "grafana/grafana"
    assert _binds(grafana) == {"./grafana/provisioning": "/etc/grafana/provisioning",
                               "./grafana/dashboards": "/var/lib/grafana/dashboards"}


def test_hub_images_are_built_from_the_dockerfile(services):
    for name in ("topics", "worker"):
        build = services[name]["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_no_secret_values_in_compose(services):
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            assert not re.search(r"KEY|PASSWORD|SECRET|TOKEN", key), (name, key, value)
    assert "PSEUDONYM" not in COMPOSE.read_text(encoding="utf-8").replace(
        "pseudonymisation key", "")


def test_the_image():
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert lines[-2:] == ['ENTRYPOINT ["hub"]', 'CMD ["--help"]']
    installs = [line for line in lines if "pip install" in line]
    assert installs and not any("dev" in line or "bench" in line for line in installs)
    # the hub reads these folders next to its package (hub/paths.py)
    for folder in ("hub", "connectors", "schemas", "deploy"):
        assert f"COPY {folder} ./{folder}" in lines
