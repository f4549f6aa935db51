"""A broker outage in a few lines: one when a broker goes, a summary at most every 30 s, one
when it is back; the Kafka client's own connection errors are left out meanwhile, and
pass again when every broker answers."""

from __future__ import annotations

import logging

from hub.connectivity import BrokerWatch, ClientNoise
from hub.metrics import KAFKA_CONNECTED


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def record(name: str, message: str, level=logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_an_outage_is_three_kinds_of_lines_and_a_gauge(caplog):
    clock = Clock()
    watch = BrokerWatch(["b1:9092", "b2:9092"], waiting=lambda: 22, clock=clock)
    with caplog.at_level(logging.WARNING, logger="hub.kafka"):
        watch.check({"b1:9092": "Connection refused", "b2:9092": None})
        assert KAFKA_CONNECTED.labels(broker="b1:9092")._value.get() == 0
        for _ in range(20):  # every 2 s for 40 s: one summary after 30 s
            clock.now += 2
            watch.check({"b1:9092": "Connection refused", "b2:9092": None})
        clock.now += 2
        watch.check({"b1:9092": None, "b2:9092": None})
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert lines[0].startswith("Kafka broker b1:9092 is unreachable (Connection refused)")
    assert "unreachable for 30 s" in lines[1] and "the other brokers answer" in lines[1]
    assert lines[2].startswith("Kafka broker b1:9092 is reachable again after 42 s")
    assert KAFKA_CONNECTED.labels(broker="b1:9092")._value.get() == 1


def test_with_no_broker_left_the_summary_says_what_waits(caplog):
    clock = Clock()
    watch = BrokerWatch(["b1:9092"], waiting=lambda: 22, clock=clock)
    noise = ClientNoise(watch)
    watch.check({"b1:9092": "Connection refused"})
    for _ in range(100):
        assert not noise.filter(record("aiokafka.conn", "Unable connect to node with id 1"))
    clock.now += 31
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hub.kafka"):
        watch.check({"b1:9092": "Connection refused"})
    [line] = [r.getMessage() for r in caplog.records]
    assert "no broker answers: this worker's 22 partitions wait" in line
    assert "(100 lines of the Kafka client left out of this log)" in line


def test_the_clients_lines_pass_when_every_broker_answers():
    clock = Clock()
    watch = BrokerWatch(["b1:9092"], clock=clock)
    noise = ClientNoise(watch)
    other = record("faust.worker", "Unable connect to node with id 1")
    assert noise.filter(other)  # not the Kafka client's
    assert noise.filter(record("aiokafka", "Heartbeat session expired", logging.INFO))
    # the first connection error: left out until a probe says whether a broker is gone
    assert not noise.filter(record("kafka.client", "No node available for metadata refresh"))
    watch.check({"b1:9092": None})  # it answers: the errors are about something else
    assert noise.filter(record("kafka.client", "No node available for metadata refresh"))
    assert noise.filter(record("aiokafka.consumer", "Failed fetch messages from 1"))
