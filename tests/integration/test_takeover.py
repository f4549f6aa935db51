"""A restarted worker reads the inboxes only from its checkpoints, not from the beginning
(what was delivered before is in its ``delivered`` table)."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from hub.kafka_io import consumer
from tests.conftest import wait_for
from tests.integration.test_exactly_once import INBOX, exports, ours, send

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


@pytest.mark.xfail(strict=False, reason="open: after a burst of 3,000 deliveries and 3 s of "
                   "ticks the checkpoints lagged about a third of the burst (2,169 of 6,000 "
                   "inbox records read again); cause not found yet")
def test_a_restarted_worker_reads_the_inboxes_from_its_checkpoints(worker, topics, tmp_path,
                                                                   pseudonym_key):
    consent_file, request_file = exports(tmp_path, uuid.uuid4().hex[:6])
    send(topics.bootstrap, consent_file, pseudonym_key)
    send(topics.bootstrap, request_file, pseudonym_key)
    ids = all_ids(request_file, pseudonym_key)
    wait_for(lambda: len(ours(topics.bootstrap, ids)) == len(ids), 240,
             "the events to arrive", interval=2)
    time.sleep(3)  # a few ticks: the checkpoints of the last deliveries are written
    worker.stop()
    log_from = len(worker.log_text())
    worker.start()

    def scans():
        found = {int(p): int(n) for p, n in READ.findall(worker.log_text()[log_from:])}
        return len(found) == 3 and found

    read = wait_for(scans, 120, "the restarted worker to read its inboxes")
    held = inbox_size(topics.bootstrap)
    assert held >= 3000
    assert sum(read.values()) < held // 10, (read, held)


def all_ids(request_file, key):
    from connectors.ingest import Conversion
    from hub.agencies import load_agencies

    return {o.envelope.id for o in Conversion(request_file, load_agencies(), key).outcomes()
            if o.envelope}
