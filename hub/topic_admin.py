"""Topics applied to a cluster (Kafka's admin client): the one place where the hub creates
topics, for ``hub topics apply`` and the demo (:func:`apply_topics`, the plan of
:mod:`hub.topics`) and for the workers' table changelogs
(:func:`hub.worker.ensure_changelogs`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from hub.core.topics import FACTS_TOPIC, is_router_partitioned
from hub.errors import BrokerError
from hub.topics import TopicSpec, auto_replication_factor, min_insync_replicas, with_min_insync


def create_topics(admin, specs: Sequence[TopicSpec]) -> list[str]:
    """Create the topics of ``specs`` (which do not exist yet) with their partitions,
    replication factor and configs; one created meanwhile by another process is fine.
    Returns their names."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    if not specs:
        return []
    try:
        admin.create_topics([NewTopic(s.name, s.partitions, s.replication_factor,
                                      topic_configs=dict(s.config)) for s in specs],
                            wait_for_metadata=True)
    except TopicAlreadyExistsError:  # created concurrently: fine
        pass
    return [s.name for s in specs]


def cluster_brokers(admin) -> int:
    """How many brokers the cluster reports as registered and not fenced."""
    brokers = admin.describe_cluster().get("brokers") or []
    return sum(1 for b in brokers if not b.get("is_fenced"))


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    replication: str | None = None  # how new topics are replicated, and why

    def lines(self) -> list[str]:
        out = [f"new topics: {self.replication}"] if self.created and self.replication else []
        out += [f"created   {name}" for name in self.created]
        for name, changes in self.updated.items():
            out += [f"updated   {name}: {change}" for change in changes]
        out += [f"warning   {w}" for w in self.warnings]
        out.append(
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )
        return out


def apply_topics(admin, specs: list[TopicSpec]) -> ApplyReport:
    """Create missing topics, align configs and grow partitions; idempotent. Topics
    planned with replication ``auto`` get :func:`auto_replication_factor` of the brokers
    the cluster reports now; every topic gets ``min.insync.replicas`` for its replication
    factor (:func:`min_insync_replicas`) unless declared."""
    from kafka.errors import KafkaError

    report = ApplyReport()
    try:
        specs = _with_replication(admin, specs, report)
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        create_topics(admin, [replace(s, config=with_min_insync(s.config, s.replication_factor))
                              for s in missing])
        report.created = [s.name for s in missing]
        present = [s for s in specs if s.name in existing]
        if present:
            _align(admin, present, report)
    except KafkaError as exc:
        raise BrokerError(f"applying topics failed: {exc}") from exc
    return report


def _with_replication(admin, specs: list[TopicSpec], report: ApplyReport) -> list[TopicSpec]:
    """``specs`` with replication ``auto`` decided from the brokers the cluster reports; how
    new topics are replicated goes into ``report``."""
    if any(s.replication_factor is None for s in specs):
        brokers = cluster_brokers(admin)
        auto = auto_replication_factor(brokers)
        specs = [s if s.replication_factor else TopicSpec(
            s.name, s.partitions, auto, s.config) for s in specs]
        report.replication = (
            f"replication factor {auto} ({brokers} broker{'s' * (brokers != 1)} "
            f"answer{'s' * (brokers == 1)}; --replication-factor chooses another), "
            f"min.insync.replicas {min_insync_replicas(auto)}")
    else:
        rfs = sorted({s.replication_factor for s in specs})
        report.replication = (
            f"replication factor {', '.join(map(str, rfs))}, min.insync.replicas "
            f"{', '.join(sorted({str(min_insync_replicas(rf)) for rf in rfs}))}")
    return specs


def _align(admin, present: list[TopicSpec], report: ApplyReport) -> None:
    """Align the configs of the existing topics ``present`` and grow their partitions."""
    from kafka.admin import ConfigResource, ConfigResourceType

    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in present]
    )["topic"]
    topics = {t["name"]: t for t in admin.describe_topics([s.name for s in present])}
    to_alter, to_grow = [], {}
    for s in present:
        current = {k: v["value"] for k, v in described.get(s.name, {}).items()}
        have = len(topics[s.name]["partitions"]) if s.name in topics else s.partitions
        replicas = _replication_of(topics.get(s.name)) or s.replication_factor
        # min.insync.replicas after the replicas the topic has, never more
        wanted = with_min_insync(s.config, replicas)
        changes = _changes(s, current, wanted, have, replicas, report)
        if s.partitions > have and s.name != FACTS_TOPIC:
            to_grow[s.name] = s.partitions
        if changes:
            report.updated[s.name] = changes
            if any(current.get(k) != v for k, v in wanted.items()):
                to_alter.append(ConfigResource(ConfigResourceType.TOPIC, s.name,
                                               configs=wanted))
        else:
            report.unchanged.append(s.name)
    if to_alter:
        result = admin.alter_configs(to_alter)
        failed = {n: r for n, r in result.get("topic", {}).items() if r != "OK"}
        if failed:
            raise BrokerError(f"updating topic configs failed: {failed}")
    if to_grow:
        admin.create_partitions(to_grow)


def _changes(s: TopicSpec, current: dict[str, str], wanted: dict[str, str], have: int,
             replicas: int, report: ApplyReport) -> list[str]:
    """What changes on the existing topic ``s`` (configs ``current``, ``have`` partitions,
    ``replicas``); what cannot change goes into ``report``'s warnings."""
    if replicas < s.replication_factor:
        report.warnings.append(
            f"{s.name} has replication factor {replicas}, {s.replication_factor} "
            "planned: Kafka does not add replicas to an existing topic by itself "
            "(kafka-reassign-partitions.sh does); its min.insync.replicas stays "
            f"{min_insync_replicas(replicas)}")
    changes = [f"{k}: {current.get(k, '(default)')} -> {v}"
               for k, v in wanted.items() if current.get(k) != v]
    if s.partitions > have and s.name == FACTS_TOPIC:
        report.warnings.append(
            f"{s.name} has {have} partition{'s' * (have != 1)}, {s.partitions} declared: not "
            "grown (the facts of one week or month must share a partition, and growing it "
            "would put a period's new facts on another partition than its old ones). It "
            f"works as it is, {have} worker{'s' * (have != 1)} at most aggregating; `hub "
            "topics repartition-facts` grows it and moves the facts, every worker stopped "
            "(docs/operations.md, \"Analytics\")")
    elif s.partitions > have:
        changes.append(f"partitions: {have} -> {s.partitions}")
        if is_router_partitioned(s.name):
            report.warnings.append(
                f"{s.name} grows from {have} to {s.partitions} partitions: its "
                "children's events now land on other partitions than the router's "
                "state for them (docs/deployment.md, \"Scaling out\")")
    elif s.partitions < have:
        report.warnings.append(
            f"{s.name} has {have} partitions, {s.partitions} declared: Kafka cannot "
            "shrink a topic, left as it is")
    return changes


def _replication_of(topic: dict | None) -> int | None:
    """The replication factor of a described topic (its first partition's replicas)."""
    partitions = (topic or {}).get("partitions") or []
    replicas = partitions[0].get("replica_nodes") if partitions else None
    return len(replicas) if replicas else None
