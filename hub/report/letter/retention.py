"""How long the hub's topics keep what the access letter's erasure paragraph names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hub.agencies import load_agencies
from hub.audit import AUDIT_TOPIC
from hub.deadletter import DLQ_TOPIC
from hub.topics import DAY_MS, TopicSpec, plan_topics


@dataclass(frozen=True)
class Retention:
    """After how many days the hub's topics that are not compacted delete a record."""

    outboxes: float
    inboxes: float
    audit: float
    dead_letters: float

    @classmethod
    def of_topics(cls, specs: Iterable[TopicSpec]) -> Retention:
        """From the planned topics (:func:`hub.topics.plan_topics`)."""
        days: dict[str, float] = {}
        for spec in specs:
            kind = {AUDIT_TOPIC: "audit", DLQ_TOPIC: "dead_letters"}.get(spec.name)
            if spec.name.startswith("agency."):
                kind = {"outbox": "outboxes", "inbox": "inboxes"}.get(spec.name.split(".")[-1])
            if kind and kind not in days and "retention.ms" in spec.config:
                days[kind] = int(spec.config["retention.ms"]) / DAY_MS
        missing = [k for k in ("outboxes", "inboxes", "audit", "dead_letters") if k not in days]
        if missing:
            raise ValueError(f"the topic plan gives no retention for {', '.join(missing)}")
        return cls(**days)

    @classmethod
    def declared(cls, audit_retention_days: float | None = None) -> Retention:
        """As ``deploy/topics.yaml`` declares it, ``hub.audit``'s from
        ``HUB_AUDIT_RETENTION_DAYS`` (``audit_retention_days``; None: its default)."""
        return cls.of_topics(plan_topics(load_agencies(),
                                         audit_retention_days=audit_retention_days))
