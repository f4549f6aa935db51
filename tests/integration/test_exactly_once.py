"""Each recipient gets each event once, even when the worker is killed (SIGKILL) while a few
thousand events flow, and when the same export is imported again."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest

from connectors.ingest import Conversion
from connectors.publish import publish
from hub.agencies import load_agencies
from hub.kafka_io import producer
from hub.tail import Tail
from tests.support.flows import flow_exports
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

SENDER, RECIPIENT = "kreisjugendamt-unna", "jugendamt-unna"
INBOX = f"agency.{RECIPIENT}.inbox"
CHILDREN, EVENTS_EACH = 150, 20  # 3,000 handover requests


def exports(tmp_path, tag):
    return flow_exports(tmp_path, tag, SENDER, RECIPIENT, children=CHILDREN, each=EVENTS_EACH)


def ours(bootstrap, ids) -> Counter:
    return Counter(r.value["id"] for r in Tail(bootstrap, [INBOX], from_beginning=True,
                                                timeout=1.5)
                   if r.value and r.value["id"] in ids)


def send(bootstrap, path, key):
    kp = producer(bootstrap, "test-exactly-once")
    try:
        summary = publish(Conversion(path, load_agencies(), key), kp, report=lambda m: None)
        assert not summary.unacknowledged
    finally:
        kp.close()


def test_sigkill_mid_stream_loses_and_doubles_nothing(worker, topics, tmp_path,
                                                      pseudonym_key):
    consent_file, request_file = exports(tmp_path, uuid.uuid4().hex[:6])
    conversion = Conversion(request_file, load_agencies(), pseudonym_key)
    sent = {o.envelope.id for o in conversion.outcomes() if o.envelope}
    assert len(sent) == CHILDREN * EVENTS_EACH

    send(topics.bootstrap, consent_file, pseudonym_key)
    arrivals = Tail(topics.bootstrap, [INBOX], timeout=120)  # positioned before we publish
    publisher = threading.Thread(target=send, args=(topics.bootstrap, request_file,
                                                    pseudonym_key))
    publisher.start()
    # kill the worker while it is delivering: some events are in, the rest are not
    # (late in the stream, so that the restarted worker has a backlog of about a thousand)
    seen = 0
    for record in arrivals:
        seen += bool(record.value and record.value["id"] in sent)
        if seen >= 2 * len(sent) // 3:
            worker.kill()
            break
    arrivals.close()
    publisher.join()
    partly = ours(topics.bootstrap, sent)
    assert 0 < len(partly) < len(sent)

    worker.start()
    received = wait_for(lambda: (c := ours(topics.bootstrap, sent)) and len(c) == len(sent)
                        and c, 360, "every event to arrive after the restart", interval=2)
    assert set(received) == sent  # nothing missing
    assert max(received.values()) == 1, [i for i, n in received.items() if n > 1][:5]

    # importing the same export again delivers nothing twice: the audit says duplicate
    send(topics.bootstrap, request_file, pseudonym_key)

    def duplicates():
        records = Tail(topics.bootstrap, ["hub.audit"], from_beginning=True, timeout=1.5)
        n = sum(1 for r in records if r.value and r.value.get("event_id") in sent
                and r.value.get("decision") == "duplicate")
        return n >= len(sent)

    wait_for(duplicates, 120, "the re-import to be recognised", interval=2)
    again = ours(topics.bootstrap, sent)
    assert set(again) == sent and max(again.values()) == 1
