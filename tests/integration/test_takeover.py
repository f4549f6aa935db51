"""A restarted worker reads the inboxes only from its checkpoints, not from the beginning
(what was delivered before is in its ``delivered`` table)."""

from __future__ import annotations

import re
import uuid

import pytest

from hub.kafka_io import consumer
from hub.topics import router_partitions
from tests.integration.test_exactly_once import INBOX, exports, ours, send
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

READ = re.compile(r"partition (\d+): (\d+) inbox records read")


def inbox_size(bootstrap) -> int:
    from kafka import TopicPartition

    kc = consumer(bootstrap, group_id=None)
    try:
        tps = [TopicPartition(INBOX, p) for p in kc.partitions_for_topic(INBOX)]
        return sum(kc.end_offsets(tps).values()) - sum(kc.beginning_offsets(tps).values())
    finally:
        kc.close()


def test_a_restarted_worker_reads_the_inboxes_from_its_checkpoints(worker, topics, tmp_path,
                                                                   pseudonym_key):
    consent_file, request_file = exports(tmp_path, uuid.uuid4().hex[:6])
    send(topics.bootstrap, consent_file, pseudonym_key)
    send(topics.bootstrap, request_file, pseudonym_key)
    ids = all_ids(request_file, pseudonym_key)
    wait_for(lambda: len(ours(topics.bootstrap, ids)) == len(ids), 240,
             "the events to arrive", interval=2)
    # the checkpoints of the last deliveries are written a batch later (the next ticks)
    wait_for(lambda: checkpoints_reach_the_end(topics.bootstrap), 60,
             "the inbox checkpoints to reach the end of the inbox", interval=1)
    worker.stop()
    log_from = len(worker.log_text())
    worker.start()

    def scans():
        found = {int(p): int(n) for p, n in READ.findall(worker.log_text()[log_from:])}
        return len(found) == router_partitions() and found

    read = wait_for(scans, 120, "the restarted worker to read its inboxes")
    held = inbox_size(topics.bootstrap)
    assert held >= 3000
    # the old way read all of it; what was delivered around the stop may be read again
    assert sum(read.values()) < held // 4, (read, held)


def checkpoints_reach_the_end(bootstrap) -> bool:
    """Every partition of the inbox has a checkpoint at its end in the worker's
    ``delivered`` changelog."""
    import json

    from kafka import TopicPartition

    from hub.routing.delivered import checkpoint_key
    from hub.settings import Settings

    changelog = f"{Settings().app_id}-delivered-changelog"
    kc = consumer(bootstrap, group_id=None)
    try:
        inbox = [TopicPartition(INBOX, p) for p in kc.partitions_for_topic(INBOX)]
        ends = kc.end_offsets(inbox)
        tps = [TopicPartition(changelog, p) for p in kc.partitions_for_topic(changelog)]
        kc.assign(tps)
        kc.seek_to_beginning(*tps)
        last = kc.end_offsets(tps)
        wanted = {json.dumps(checkpoint_key(INBOX, tp.partition)).encode(): ends[tp]
                  for tp in inbox}
        found = {}
        while any(kc.position(tp) < last[tp] for tp in tps):
            for records in kc.poll(timeout_ms=500).values():
                for record in records:
                    if record.key in wanted and record.value is not None:
                        found[record.key] = json.loads(record.value)
        return all(found.get(key, 0) >= end for key, end in wanted.items())
    finally:
        kc.close()


def all_ids(request_file, key):
    from connectors.ingest import Conversion
    from hub.agencies import load_agencies

    return {o.envelope.id for o in Conversion(request_file, load_agencies(), key).outcomes()
            if o.envelope}
