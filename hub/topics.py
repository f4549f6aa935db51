"""Topics as declared in ``deploy/topics.yaml``: planning (pure) and applying (edge)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hub.agencies import AgencyDirectory, load_agencies
from hub.errors import BrokerError, ConfigError
from hub.paths import DEPLOY_DIR
from hub.yamlfile import read_yaml

TOPICS_FILE = DEPLOY_DIR / "topics.yaml"
TICK_TOPIC = "hub.ticks"  # the router's clock ticks (hub.routing.agent sends them)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)


def plan_topics(
    agencies: AgencyDirectory, path: Path = TOPICS_FILE, replication_factor: int | None = None
) -> list[TopicSpec]:
    """Every topic the hub needs, with partitions and configs, from the declaration file."""
    raw = read_yaml(path, "topic declaration")
    defaults = raw.get("defaults") or {}
    rf = replication_factor or int(defaults.get("replication_factor", 1))

    def spec(entry: dict, name: str) -> TopicSpec:
        config = {str(k): str(v) for k, v in (entry.get("config") or {}).items()}
        partitions = int(entry.get("partitions", defaults.get("partitions", 1)))
        return TopicSpec(name, partitions, rf, config)

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
    return specs


def is_router_partitioned(name: str) -> bool:
    """A topic partitioned like the router's state: every outbox and ``hub.ticks`` (the
    router's input) and every inbox (read back by partition number to learn what was
    delivered)."""
    return name == TICK_TOPIC or (
        name.startswith("agency.") and name.endswith((".outbox", ".inbox")))


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
        f"{path}: every agency outbox and inbox and {TICK_TOPIC} must have the same number "
        f"of partitions (the router keeps each child's state in the partition its events "
        f"arrive on, and reads the inbox partition of the same number), but {odd} while "
        f"{len(counts[common])} others have {common}. Set `partitions` once under "
        "`defaults` (or the same on each of these topics).")


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"created   {name}" for name in self.created]
        for name, changes in self.updated.items():
            out += [f"updated   {name}: {change}" for change in changes]
        out += [f"warning   {w}" for w in self.warnings]
        out.append(
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )
        return out


def apply_topics(admin, specs: list[TopicSpec]) -> ApplyReport:
    """Create missing topics, align configs and grow partitions; idempotent."""
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    report = ApplyReport()
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            new = [NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=s.config)
                   for s in missing]
            try:
                admin.create_topics(new, wait_for_metadata=True)
            except TopicAlreadyExistsError:  # created concurrently: fine
                pass
            report.created = [s.name for s in missing]
        present = [s for s in specs if s.name in existing]
        if not present:
            return report
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in present]
        )["topic"]
        partitions = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(
            [s.name for s in present])}
        to_alter, to_grow = [], {}
        for s in present:
            current = {k: v["value"] for k, v in described.get(s.name, {}).items()}
            changes = [f"{k}: {current.get(k, '(default)')} -> {v}"
                       for k, v in s.config.items() if current.get(k) != v]
            have = partitions.get(s.name, s.partitions)
            if s.partitions > have:
                to_grow[s.name] = s.partitions
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
            if changes:
                report.updated[s.name] = changes
                if any(current.get(k) != v for k, v in s.config.items()):
                    to_alter.append(ConfigResource(ConfigResourceType.TOPIC, s.name,
                                                   configs=dict(s.config)))
            else:
                report.unchanged.append(s.name)
        if to_alter:
            result = admin.alter_configs(to_alter)
            failed = {n: r for n, r in result.get("topic", {}).items() if r != "OK"}
            if failed:
                raise BrokerError(f"updating topic configs failed: {failed}")
        if to_grow:
            admin.create_partitions(to_grow)
    except KafkaError as exc:
        raise BrokerError(f"applying topics failed: {exc}") from exc
    return report
