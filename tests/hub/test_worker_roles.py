"""`hub run --role`: the router and the analytics in workers of their own, each with its own
consumer group, state folder and static member id; no broker needed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hub.errors import ConfigError
from hub.settings import Settings, load_settings
from hub.worker import analytics_dir, group_instance_id, state_dir
from tests.support.paths import REPO


def settings(tmp_path, role: str) -> Settings:
    return Settings(home=tmp_path, worker_role=role, app_id="unna-hub")


def test_the_analytics_apart_have_a_consumer_group_of_their_own(tmp_path):
    assert settings(tmp_path, "all").group_id == "unna-hub"
    assert settings(tmp_path, "router").group_id == "unna-hub"
    assert settings(tmp_path, "analytics").group_id == "unna-hub-analytics"


def test_a_router_and_an_analytics_worker_on_one_machine_never_share_a_folder(tmp_path):
    router = state_dir(settings(tmp_path, "router"))
    analytics = state_dir(settings(tmp_path, "analytics"))
    assert router == tmp_path / "worker" / "0"
    assert analytics == tmp_path / "analytics" / "0"
    assert analytics_dir(settings(tmp_path, "analytics")).parent == analytics
    # the analytics worker is a member of its own group
    assert group_instance_id(settings(tmp_path, "analytics"), analytics).startswith(
        "unna-hub-analytics-")


def test_a_router_only_worker_is_another_member_than_an_all_in_one_worker(tmp_path):
    """The broker gives a static member that comes back its last assignment: an
    all-in-one worker's (with hub.facts) would leave a router-only one waiting."""
    folder = state_dir(settings(tmp_path, "all"))
    everything = group_instance_id(settings(tmp_path, "all"), folder)
    routing = group_instance_id(settings(tmp_path, "router"), folder)
    assert everything.startswith("unna-hub-") and routing.startswith("unna-hub-router-")
    assert everything != routing


def test_the_analytics_of_an_all_in_one_worker_stay_where_they_were(tmp_path):
    folder = state_dir(settings(tmp_path, "all"))
    assert analytics_dir(settings(tmp_path, "all")) == folder / "unna-hub-analytics"


def test_an_unknown_role_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HUB_WORKER_ROLE", "aggregator")
    with pytest.raises(ConfigError, match="HUB_WORKER_ROLE") as info:
        load_settings()
    assert "router" in str(info.value) and "analytics" in str(info.value)


def test_run_names_the_roles_in_its_help_and_refuses_another():
    shown = subprocess.run([sys.executable, "-m", "hub", "run", "--help"], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0
    assert "--role {all,router,analytics}" in shown.stdout
    refused = subprocess.run([sys.executable, "-m", "hub", "run", "--role", "aggregator"],
                             cwd=REPO, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "invalid choice: 'aggregator'" in refused.stderr


@pytest.mark.parametrize("copies", [0, 2])
def test_the_standby_copies_of_the_tables_are_a_setting(tmp_path, monkeypatch, copies):
    from hub.agencies import load_agencies
    from hub.worker import new_app

    assert Settings().standby_replicas == 1
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    monkeypatch.setenv("HUB_STANDBY_REPLICAS", str(copies))
    app = new_app(load_settings(), load_agencies())
    assert app.conf.table_standby_replicas == copies
    monkeypatch.setenv("HUB_STANDBY_REPLICAS", "-1")
    with pytest.raises(ConfigError, match="HUB_STANDBY_REPLICAS"):
        load_settings()
