"""``hub topics apply``: create and update the hub's topics."""

from __future__ import annotations

from hub.argtypes import positive
from hub.settings import load_settings


def add_parser(sub) -> None:
    p = sub.add_parser("topics", help="create and update the hub's topics",
                       description="Create missing topics of deploy/topics.yaml (for every "
                       "agency of deploy/agencies.yaml) and align the configs of existing "
                       "ones. Safe to run again.")
    p.add_argument("action", choices=["apply"])
    p.add_argument("--replication-factor", type=positive(int), default=None,
                   help="replication factor for new topics (default: deploy/topics.yaml, "
                   "whose `auto` is one copy per broker the cluster reports, at most 3: 1 on "
                   "the single local broker, 3 on the local cluster and in production; a "
                   "broker that is down is not counted, give 3 to insist). Every topic gets "
                   "min.insync.replicas 2 from replication factor 3 on, else 1, unless "
                   "deploy/topics.yaml sets it")
    p.set_defaults(func=cmd_topics)


def cmd_topics(args) -> int:
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
