"""The linkage worker sends a batch's records: the audit records acknowledged before any
decision goes to the producer, and no record waits for the one before it."""

import asyncio

import pytest

from hub.linkage.agent import send_in_order
from hub.linkage.stage import Record
from hub.metrics import EVENTS_PRODUCED


class Producer:
    """Hands back a future per record, acknowledged when the test says so."""

    def __init__(self):
        self.sent: list[tuple[str, bytes]] = []
        self.futures: list[asyncio.Future] = []

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.sent.append((topic, key))
        self.futures.append(asyncio.get_running_loop().create_future())
        return self.futures[-1]

    def acknowledge(self, error: Exception | None = None):
        for f in self.futures:
            if not f.done():
                f.set_exception(error) if error else f.set_result(None)


def batch():
    return [Record("hub.audit", b"p-1", b"a1"), Record("hub.linkage.decisions", b"p-1", b"d1"),
            Record("hub.linkage.decisions", b"p-2", b"d2"),
            Record("hub.audit", b"p-3", b"a3"), Record("hub.linkage.decisions", b"p-3", b"d3")]


def produced(topic):
    return EVENTS_PRODUCED.labels(topic=topic, type="audit" if topic == "hub.audit"
                                  else "linkage")._value.get()


def test_the_audit_records_are_acknowledged_before_a_decision_is_sent():
    async def run():
        producer = Producer()
        audits, decisions = produced("hub.audit"), produced("hub.linkage.decisions")
        sending = asyncio.ensure_future(send_in_order(producer, batch()))
        for _ in range(5):
            await asyncio.sleep(0)
        # both audit records are with the producer at once; no decision yet
        assert producer.sent == [("hub.audit", b"p-1"), ("hub.audit", b"p-3")]
        producer.acknowledge()
        for _ in range(5):
            await asyncio.sleep(0)
        assert [k for t, k in producer.sent[2:]] == [b"p-1", b"p-2", b"p-3"]
        assert not sending.done()  # the decisions are not acknowledged yet
        producer.acknowledge()
        await sending
        assert produced("hub.audit") == audits + 2
        assert produced("hub.linkage.decisions") == decisions + 3

    asyncio.run(run())


def test_a_refused_audit_record_stops_the_batch_before_its_decisions():
    async def run():
        producer = Producer()
        sending = asyncio.ensure_future(send_in_order(producer, batch()))
        for _ in range(5):
            await asyncio.sleep(0)
        producer.acknowledge(RuntimeError("not enough replicas"))
        with pytest.raises(RuntimeError, match="not enough replicas"):
            await sending
        assert {t for t, _ in producer.sent} == {"hub.audit"}

    asyncio.run(run())
