"""``hub topics apply``: create and update the hub's topics; ``hub topics
repartition-facts``: grow ``hub.facts`` to the partitions ``deploy/topics.yaml`` declares
and move its facts (the workers stopped)."""

from __future__ import annotations

from hub.argtypes import positive
from hub.settings import load_settings


def add_parser(sub) -> None:
    p = sub.add_parser("topics", help="create and update the hub's topics",
                       description="Create missing topics of deploy/topics.yaml (for every "
                       "agency of deploy/agencies.yaml) and align the configs of existing "
                       "ones. Safe to run again. `repartition-facts` (every worker stopped): "
                       "grow hub.facts to the partitions deploy/topics.yaml declares and move "
                       "each fact to the partition of its week or month, which `apply` does "
                       "not do.")
    p.add_argument("action", choices=["apply", "repartition-facts"])
    p.add_argument("--replication-factor", type=positive(int), default=None,
                   help="replication factor for new topics (default: deploy/topics.yaml, "
                   "whose `auto` is one copy per broker the cluster reports, at most 3: 1 on "
                   "the single local broker, 3 on the local cluster and in production; a "
                   "broker that is down is not counted, give 3 to insist). Every topic gets "
                   "min.insync.replicas 2 from replication factor 3 on, else 1, unless "
                   "deploy/topics.yaml sets it")
    p.set_defaults(func=cmd_topics)


def cmd_topics(args) -> int:
    if args.action == "repartition-facts":
        return cmd_repartition_facts()
    from hub.agencies import load_agencies
    from hub.kafka_io import admin_client
    from hub.topic_admin import apply_topics
    from hub.topics import plan_topics

    settings = load_settings()
    specs = plan_topics(load_agencies(), replication_factor=args.replication_factor,
                        audit_retention_days=settings.audit_retention_days)
    with admin_client(settings.kafka) as admin:
        report = apply_topics(admin, specs)
    for line in report.lines():
        print(line)
    return 0


def cmd_repartition_facts() -> int:
    from kafka.errors import KafkaError

    from hub.analytics.repartition import repartition_facts
    from hub.errors import HubError
    from hub.kafka_io import admin_client
    from hub.topics import facts_partitions

    settings = load_settings()
    ours = [settings.app_id, f"{settings.app_id}-analytics"]  # the analytics may run apart
    try:
        with admin_client(settings.kafka) as admin:
            known = {_group_id(group) for group in admin.list_groups()}
            running = [g for g in ours if g in known]
            groups = admin.describe_groups(running) if running else {}
    except KafkaError as exc:
        raise HubError(f"cannot tell whether workers of {settings.app_id} run: {exc}") from exc
    members = sum(len(group.get("members") or []) for group in groups.values())
    if members:
        raise HubError(f"{members} worker(s) of {settings.app_id} are running: stop every "
                       "worker first, the analytics apart too (a router writing meanwhile "
                       "could have a fact overwritten by its older version)")
    moved = repartition_facts(settings.kafka, facts_partitions(), progress=print)
    for line in moved.lines():
        print(line)
    return 0


def _group_id(group) -> str:
    """The id of a group as ``list_groups`` gives it (a dict, or a (id, type) pair)."""
    return group.get("group_id", "") if isinstance(group, dict) else group[0]
