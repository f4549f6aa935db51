"""Topics as declared in ``deploy/topics.yaml``, planned (pure): partitions, replication and
configs of each. :mod:`hub.topic_admin` applies a plan to a cluster; the names are in
:mod:`hub.core.topics`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hub.agencies import AgencyDirectory, load_agencies
from hub.core.topics import (
    AUDIT_TOPIC,
    FACTS_TOPIC,
    REQUESTS_TOPIC,
    TICK_TOPIC,
    is_router_partitioned,
)
from hub.errors import ConfigError
from hub.paths import DEPLOY_DIR
from hub.settings import AUDIT_RETENTION_DAYS
from hub.yamlfile import read_yaml

TOPICS_FILE = DEPLOY_DIR / "topics.yaml"
MAX_AUTO_REPLICATION = 3  # what deploy/k8s runs: three brokers, replication factor 3
MIN_INSYNC_CONFIG = "min.insync.replicas"


DAY_MS = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int | None  # None: chosen from the cluster when applied ("auto")
    config: dict[str, str] = field(default_factory=dict)
    why: str = ""  # why its records are kept as long as they are (``why`` in the file)

    def deletion(self) -> str:
        """How its records go: "compacted" (the latest per key; a tombstone deletes a key),
        after a retention ("90 days"), or both ("compacted, 730 days")."""
        policy = self.config.get("cleanup.policy", "delete")
        if "compact" in policy and "delete" not in policy:
            return "compacted"
        days = int(self.config.get("retention.ms", "-1")) / DAY_MS
        if "compact" in policy:
            return f"compacted, {days:g} days"
        if days >= 1:
            return f"{days:g} day{'s' * (days != 1)}"
        return f"{days * 24:g} hour{'s' * (days * 24 != 1)}"


def auto_replication_factor(brokers: int) -> int:
    """The replication factor ``auto`` stands for: one copy per broker the cluster
    reports, at most three (1 on the single local broker, 3 on the local cluster and in
    production)."""
    return max(1, min(MAX_AUTO_REPLICATION, brokers))


def min_insync_replicas(replication_factor: int) -> int:
    """``min.insync.replicas`` for a topic: 2 from replication factor 3 on (an
    acknowledged write is on two brokers, and one broker may be down), else 1 (a higher
    value than the replicas would refuse every write with acks=all)."""
    return 2 if replication_factor >= 3 else 1


def _replication_setting(value, path: Path) -> int | None:
    if str(value).strip().lower() == "auto":
        return None
    try:
        rf = int(value)
    except (TypeError, ValueError):
        rf = 0
    if rf < 1:
        raise ConfigError(f"{path}: replication_factor must be `auto` or a number from 1 on, "
                          f"not {value!r}")
    return rf


def plan_topics(
    agencies: AgencyDirectory, path: Path = TOPICS_FILE, replication_factor: int | None = None,
    audit_retention_days: float | None = None,
) -> list[TopicSpec]:
    """Every topic the hub needs, with partitions and configs, from the declaration file.
    ``replication_factor`` overrides the file's; ``auto`` (the file's default) leaves it
    to :func:`hub.topic_admin.apply_topics`, which takes :func:`auto_replication_factor` of
    the brokers the cluster reports. ``hub.audit`` keeps its records
    ``audit_retention_days`` (the setting ``HUB_AUDIT_RETENTION_DAYS``). Every topic must say
    how its records go: compacted, or a retention (never -1), with a ``why``."""
    raw = read_yaml(path, "topic declaration")
    defaults = raw.get("defaults") or {}
    rf = replication_factor or _replication_setting(
        defaults.get("replication_factor", "auto"), path)
    audit_days = AUDIT_RETENTION_DAYS if audit_retention_days is None else audit_retention_days

    def spec(entry: dict, name: str) -> TopicSpec:
        config = {str(k): str(v) for k, v in (entry.get("config") or {}).items()}
        if name == AUDIT_TOPIC:
            config["retention.ms"] = str(max(1, round(audit_days * DAY_MS)))
        partitions = int(entry.get("partitions", defaults.get("partitions", 1)))
        return TopicSpec(name, partitions, rf, config, str(entry.get("why") or "").strip())

    specs = []
    for template in raw.get("per_agency") or []:
        for agency in agencies.exchanging():
            specs.append(spec(template, template["name"].format(id=agency.id)))
    for entry in raw.get("topics") or []:
        specs.append(spec(entry, entry["name"]))
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path} declares these topics twice: {', '.join(dupes)}")
    _check_router_partitions(specs, path)
    _check_deletion(specs, path)
    return specs


def _check_deletion(specs: list[TopicSpec], path: Path) -> None:
    """Every topic has a deletion deadline and says why: compacted (a tombstone deletes a
    key), or a positive ``retention.ms``."""
    problems = []
    for s in specs:
        if not s.why:
            problems.append(f"{s.name} has no `why` (why its records are kept that long)")
        if "compact" in s.config.get("cleanup.policy", "delete"):
            continue
        try:
            retention = int(s.config.get("retention.ms", "-1"))
        except ValueError:
            retention = -1
        if retention <= 0:
            problems.append(f"{s.name} keeps its records forever (retention.ms "
                            f"{s.config.get('retention.ms', 'not set')}): give it a retention "
                            "or compact it")
    if problems:
        raise ConfigError(f"{path}: every topic needs a deletion deadline:\n  "
                          + "\n  ".join(problems))


def router_partition_count(specs: list[TopicSpec]) -> int:
    """The partitions of the router's input topics in ``specs`` (all have the same number,
    :func:`plan_topics` checks it): the router's tables have as many, and that many workers
    at most get work."""
    counts = {s.partitions for s in specs if is_router_partitioned(s.name)}
    if not counts:
        raise ConfigError("the topic plan has no agency outboxes")
    if len(counts) > 1:
        raise ConfigError(f"the router's topics differ in partitions: {sorted(counts)}")
    return counts.pop()


def router_partitions(agencies: AgencyDirectory | None = None,
                      path: Path = TOPICS_FILE) -> int:
    """The partition count of the router's topics as ``deploy/topics.yaml`` declares it:
    the workers' ``topic_partitions`` (their table changelogs), the ticks sent per second,
    the most workers that share the work."""
    return router_partition_count(plan_topics(agencies or load_agencies(), path))


def facts_partitions(agencies: AgencyDirectory | None = None,
                     path: Path = TOPICS_FILE) -> int:
    """The partitions of ``hub.facts`` as ``deploy/topics.yaml`` declares them: how many
    workers share the analytics (a topic that exists keeps the partitions it has, see
    :mod:`hub.analytics.placement`)."""
    for spec in plan_topics(agencies or load_agencies(), path):
        if spec.name == FACTS_TOPIC:
            return spec.partitions
    raise ConfigError(f"{path} does not declare {FACTS_TOPIC}")


def _check_router_partitions(specs: list[TopicSpec], path: Path) -> None:
    """One child's events, ticks, deliveries and router state must share one partition
    number: refuse a plan where the router's topics differ in partitions."""
    routed = [s for s in specs if is_router_partitioned(s.name)]
    counts: dict[int, list[str]] = {}
    for s in routed:
        counts.setdefault(s.partitions, []).append(s.name)
    if len(counts) <= 1:
        return
    common = max(counts, key=lambda n: len(counts[n]))
    odd = ", ".join(f"{name} has {n}" for n, names in sorted(counts.items()) if n != common
                    for name in names)
    raise ConfigError(
        f"{path}: every agency outbox and inbox, {TICK_TOPIC} and {REQUESTS_TOPIC} must have "
        "the same number "
        f"of partitions (the router keeps each child's state in the partition its events "
        f"arrive on, and reads the inbox partition of the same number), but {odd} while "
        f"{len(counts[common])} others have {common}. Set `partitions` once under "
        "`defaults` (or the same on each of these topics).")


def with_min_insync(config: dict[str, str], replication_factor: int) -> dict[str, str]:
    """A topic's config with ``min.insync.replicas`` for its replication factor, unless
    the declaration sets one itself: set on the topic, so that it does not depend on the
    broker's default (which may be higher than the replicas of a topic)."""
    if MIN_INSYNC_CONFIG in config:
        return dict(config)
    return {**config, MIN_INSYNC_CONFIG: str(min_insync_replicas(replication_factor))}
