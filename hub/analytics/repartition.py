"""``hub.facts`` grown to more partitions, with every fact moved to the partition of its
period (``hub topics repartition-facts``; the workers stopped).

The facts of one slice must share a partition (:mod:`hub.analytics.placement`). Growing the
topic alone would leave the facts written before on the partitions they were on, where the
new placement no longer looks for them: the aggregator of each partition would recompute
its slices without their past (the workers refuse to aggregate such a topic, see
:func:`hub.analytics.takeover.misplaced_sample`). So the topic is grown, and then:

1. every partition is read to its end, and each key's latest record noted;
2. each latest fact that is on another partition than its period's is written to that
   partition, unless the key is there already (written since the topic grew: newer);
3. a partition that had such facts gets the records it keeps written again after them, in
   their order (facts, and erasure markers not carried out yet), and everything before is
   deleted (Kafka's DeleteRecords): what remains holds no fact of another partition, and no
   copy compaction would have to remove first;
4. an erasure marker not carried out yet is copied to every partition that lacks it, after
   the facts moved there (so that they are erased too).

Run it with every worker stopped: a router writing meanwhile could write a key that step 2
then overwrites with its older value, or have its record deleted in step 3. Running it
again changes nothing. The workers rebuild the partitions whose beginning moved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.analytics.facts import ERASURE, FACTS_TOPIC, decode_fact
from hub.analytics.placement import fact_partition
from hub.analytics.takeover import CLIENT, facts_partitions_of
from hub.errors import BrokerError
from hub.kafka_io import Kafka, admin_client, producer, read_partitions

__all__ = ["Moved", "repartition_facts"]

MARKER = ERASURE.encode() + b"|"


@dataclass
class Moved:
    partitions_before: int
    partitions: int
    moved: int = 0  # facts written to their period's partition
    superseded: int = 0  # misplaced facts whose key is on its partition already
    rewritten: dict[int, int] = field(default_factory=dict)  # partition -> records kept
    markers: int = 0  # copies of pending erasure markers

    def lines(self) -> list[str]:
        grown = (f"{FACTS_TOPIC}: grown from {self.partitions_before} to {self.partitions} "
                 "partitions" if self.partitions > self.partitions_before else
                 f"{FACTS_TOPIC}: {self.partitions} partitions")
        kept = ", ".join(f"{FACTS_TOPIC}[{p}]: {n} records written again, the rest before "
                         "them deleted" for p, n in sorted(self.rewritten.items()))
        return [grown,
                f"{self.moved} facts moved to the partition of their week or month, "
                f"{self.superseded} older copies of facts written anew since dropped",
                *([kept] if kept else []),
                f"{self.markers} copies of erasure markers not carried out yet"]


def repartition_facts(bootstrap: Kafka, partitions: int,
                      progress: Callable[[str], None] = lambda line: None) -> Moved:
    """Grow ``hub.facts`` to ``partitions`` (if it has fewer) and move its facts (see the
    module docs)."""
    before = facts_partitions_of(bootstrap)
    if before is None:
        raise BrokerError(f"{FACTS_TOPIC} does not exist (see `hub topics apply`)")
    if partitions > before:
        from kafka.admin import NewPartitions

        with admin_client(bootstrap) as admin:
            admin.create_partitions({FACTS_TOPIC: NewPartitions(partitions)})
    count = facts_partitions_of(bootstrap) or before
    result = Moved(before, count)
    ends: dict = {}
    latest = [_latest(bootstrap, p, ends) for p in range(count)]
    progress(f"{sum(map(len, latest))} keys read on {count} partitions")
    out = producer(bootstrap, "unna-hub-repartition")
    try:
        misplaced = {p for p in range(count) if _move(bootstrap, out, p, latest, count, result)}
        out.flush()
        for p in sorted(misplaced):
            result.rewritten[p] = _write_again(bootstrap, out, p, latest[p], count)
        result.markers = _copy_markers(bootstrap, out, latest, count)
        out.flush()
    finally:
        out.close()
    if misplaced:
        _delete_before(bootstrap, {p: end for (_, p), end in ends.items() if p in misplaced})
    return result


def _delete_before(bootstrap: Kafka, ends: dict[int, int], tries: int = 30) -> None:
    """Delete the records before ``ends[partition]`` (DeleteRecords). Kafka refuses that
    on a topic that is only compacted: for the moment, ``hub.facts`` is compacted and
    deleted, with ``retention.ms`` -1 (nothing goes by age); both are put back as they were
    afterwards (if this stops halfway, `hub topics apply` puts the cleanup policy back)."""
    from kafka import TopicPartition
    from kafka.admin import ConfigResource, ConfigResourceType
    from kafka.errors import PolicyViolationError

    with admin_client(bootstrap) as admin:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, FACTS_TOPIC)])["topic"]
        own = {name: entry["value"] for name, entry in described.get(FACTS_TOPIC, {}).items()
               if entry.get("config_source") == "DYNAMIC_TOPIC_CONFIG"}
        deletable = {"cleanup.policy": "compact,delete", "retention.ms": "-1"}
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, FACTS_TOPIC,
                                            configs=deletable)])
        try:
            for attempt in range(tries):  # the brokers take the new config a moment later
                try:
                    admin.delete_records({TopicPartition(FACTS_TOPIC, p): end
                                          for p, end in ends.items()})
                    break
                except PolicyViolationError:
                    if attempt == tries - 1:
                        raise
                    time.sleep(1)
        finally:  # each as it was: its own value, or none (the broker's default)
            admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, FACTS_TOPIC, configs={
                name: own[name] if name in own else ("DELETE", None) for name in deletable})])


def _latest(bootstrap: Kafka, partition: int, ends: dict) -> dict[bytes, int]:
    """Key -> the offset of its latest record on ``partition`` (keys whose latest record
    is a tombstone left out); its end offset into ``ends`` by (topic, partition)."""
    found: dict[bytes, int] = {}
    read: dict = {}
    for record in read_partitions(bootstrap, [FACTS_TOPIC], CLIENT, partition=partition,
                                  ends=read):
        if record.value is None:
            found.pop(record.key or b"", None)
        else:
            found[record.key or b""] = record.offset
    for tp, end in read.items():
        ends[(FACTS_TOPIC, getattr(tp, "partition", partition))] = end
    return found


def _target(key: bytes, value: bytes, partition: int, count: int) -> int:
    """The partition the record ``key``/``value`` of ``partition`` belongs on."""
    if key.startswith(MARKER):
        return partition
    fact = decode_fact(value)
    target = fact_partition(fact, count) if fact is not None else None
    return partition if target is None else target


def _move(bootstrap: Kafka, out, partition: int, latest: list[dict[bytes, int]], count: int,
          result: Moved) -> bool:
    """Write the latest facts of ``partition`` that belong on another partition there;
    whether it had any."""
    found = False
    for record in read_partitions(bootstrap, [FACTS_TOPIC], CLIENT, partition=partition):
        key = record.key or b""
        if latest[partition].get(key) != record.offset:
            continue
        target = _target(key, record.value, partition, count)
        if target == partition:
            continue
        found = True
        if key in latest[target]:
            result.superseded += 1
        else:
            out.send(FACTS_TOPIC, key=key, value=record.value, partition=target)
            result.moved += 1
    return found


def _write_again(bootstrap: Kafka, out, partition: int, latest: dict[bytes, int],
                 count: int) -> int:
    """Write the latest records that stay on ``partition`` again, in their order."""
    written = 0
    for record in read_partitions(bootstrap, [FACTS_TOPIC], CLIENT, partition=partition):
        key = record.key or b""
        if latest.get(key) == record.offset and \
                _target(key, record.value, partition, count) == partition:
            out.send(FACTS_TOPIC, key=key, value=record.value, partition=partition)
            written += 1
    return written


def _copy_markers(bootstrap: Kafka, out, latest: list[dict[bytes, int]], count: int) -> int:
    """Copy each pending erasure marker to the partitions that lack it."""
    pending: dict[bytes, bytes] = {}
    for p in range(count):
        wanted = {key: offset for key, offset in latest[p].items() if key.startswith(MARKER)}
        if not wanted:
            continue
        for record in read_partitions(bootstrap, [FACTS_TOPIC], CLIENT, partition=p):
            if wanted.get(record.key) == record.offset:
                pending[record.key] = record.value
    copies = 0
    for key, value in pending.items():
        for p in range(count):
            if key not in latest[p]:
                out.send(FACTS_TOPIC, key=key, value=value, partition=p)
                copies += 1
    return copies
