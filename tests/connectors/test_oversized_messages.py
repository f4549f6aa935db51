"""An event larger than the broker accepts is a bad row: a clear row error naming the row,
the size and the limit, and a small dead letter; the rest of the file still goes through.

Found before sending (the connector's limit, or the producer's ``max_request_size``), by the
producer itself, or by the broker (a topic's ``max.message.bytes`` can be lower than any
client knows): the last case runs against the session's real broker.
"""

from __future__ import annotations

import contextlib
import json
from datetime import date

import pytest
from kafka.errors import KafkaError, MessageSizeTooLargeError

from connectors.ingest import (
    MAX_MESSAGE_BYTES,
    RECORD_OVERHEAD,
    Conversion,
    message_limit,
    outbox_limits,
)
from connectors.publish import publish
from connectors.sdk import AgencyConnector, Person, RowError
from hub.agencies import load_agencies
from hub.contract.codec import get_codec
from hub.core.topics import LINKAGE_TOPIC
from hub.deadletter import DEAD_LETTER_HEADER
from tests.connectors.recording import RecordingProducer
from tests.exports import CONSENT_COLUMNS, consent_row, write_export

AGENCIES = load_agencies()
EVERY_AGENCY = ",".join(a.id for a in AGENCIES)


@pytest.fixture
def consent_file(tmp_path):
    """Three consents; the one in row 3 names every agency, so its event is the largest."""
    rows = [consent_row(**{"Einwilligungs-ID": "EW-1"}),
            consent_row(**{"Einwilligungs-ID": "EW-2", "Empfaenger": EVERY_AGENCY}),
            consent_row(**{"Einwilligungs-ID": "EW-3"})]
    return write_export(tmp_path / "einwilligungen_jugendamt-kamen.csv", rows,
                        columns=CONSENT_COLUMNS)


def sizes(path, key) -> dict[int, int]:
    """Row -> size of its message (value and key), as the connector measures it."""
    return {o.line: len(o.value) + len(o.envelope.subject)
            for o in Conversion(path, AGENCIES, key).outcomes() if o.kind == "event"}


def run(path, key, producer, **kwargs):
    conversion = Conversion(path, AGENCIES, key, **kwargs)
    reports: list[str] = []
    summary = publish(conversion, producer, report=reports.append)
    return summary, reports


def test_the_limit_follows_the_producer():
    assert message_limit(object()) == MAX_MESSAGE_BYTES
    assert message_limit(RecordingProducer()) == MAX_MESSAGE_BYTES  # Kafka's default 1 MiB
    assert message_limit(RecordingProducer(max_request_size=2000)) == 2000 - RECORD_OVERHEAD


def test_an_event_over_the_limit_is_a_row_error_and_a_dead_letter(consent_file,
                                                                  pseudonym_key):
    size = sizes(consent_file, pseudonym_key)
    limit = (size[3] + max(size[2], size[4])) // 2
    producer = RecordingProducer(max_request_size=limit + RECORD_OVERHEAD)

    summary, reports = run(consent_file, pseudonym_key, producer)

    assert reports == [f"rejected: {consent_file.name}, row 3: the event is {size[3]} bytes, "
                       f"more than the broker accepts ({limit} bytes): not published"]
    assert (summary.rows, summary.published, summary.rejected) == (3, 2, 1)
    assert not summary.unacknowledged
    (letter,) = producer.dead_letters()
    assert letter["row"] == 3 and f"{size[3]} bytes" in letter["reasons"][0]
    assert len(producer.events()) == 2


def test_the_connectors_own_limit_applies_to_a_dry_run(consent_file, pseudonym_key):
    size = sizes(consent_file, pseudonym_key)
    outcomes = list(Conversion(consent_file, AGENCIES, pseudonym_key,
                               max_message_bytes=size[3] - 1).outcomes())
    assert [(o.line, o.kind) for o in outcomes] == [(2, "event"), (3, "rejected"),
                                                    (4, "event")]


class QuietProducer(RecordingProducer):
    """Refuses large messages in ``send`` but does not tell its limit beforehand."""

    def __init__(self, max_request_size: int):
        super().__init__(max_request_size)
        self.limit = max_request_size
        self.config = {}

    def send(self, topic, value=None, key=None, headers=None, **kwargs):
        # the limit of the outbox's events; the encodings (hub.linkage, a few hundred bytes)
        # are not what these tests are about
        if len(key or b"") + len(value or b"") > self.limit and topic != LINKAGE_TOPIC:
            raise MessageSizeTooLargeError("The message is too large when serialized")
        self.config = {"max_request_size": self.limit if topic != LINKAGE_TOPIC else 2**20}
        try:
            return super().send(topic, value=value, key=key, headers=headers)
        finally:
            self.config = {}


def test_a_refusal_by_the_producer_is_a_row_error(consent_file, pseudonym_key):
    size = sizes(consent_file, pseudonym_key)
    producer = QuietProducer(size[3] - 1)
    summary, reports = run(consent_file, pseudonym_key, producer)
    assert len(reports) == 1 and "row 3: the event is" in reports[0]
    assert (summary.published, summary.rejected, summary.unacknowledged) == (2, 1, [])
    assert [d["row"] for d in producer.dead_letters()] == [3]


def test_a_refusal_by_the_broker_is_listed_as_unacknowledged(consent_file, pseudonym_key):
    """The broker refuses what the connector thought it accepts (the limit was lowered during
    the import): not a row error, as the producer may fail later records the same way; the
    row is named with its size, and the import exits with 2 for a re-run."""
    value_sizes = {line: s - 64 for line, s in sizes(consent_file, pseudonym_key).items()}
    producer = RecordingProducer(refuse_above=value_sizes[3] - 1)
    summary, reports = run(consent_file, pseudonym_key, producer)
    assert reports == []
    assert (summary.published, summary.rejected) == (2, 0)
    (line,) = summary.unacknowledged
    assert line.startswith("row 3 (event ") and 'answered "message too large"' in line
    assert "a re-run reads the new limit first" in line
    assert producer.dead_letters() == []


# ------------------------------------------------------------------------------- the SDK
MIA = Person("Mia", "Schröder", date(2025, 2, 14))


def test_the_sdk_refuses_an_oversized_event_with_a_row_error(pseudonym_key):
    producer = RecordingProducer(max_request_size=RECORD_OVERHEAD + 300)
    with pytest.raises(RowError, match=r"the event is \d+ bytes, more than the broker "
                                       r"accepts \(300 bytes\)"):
        AgencyConnector("jugendamt-kamen", pseudonym_key, producer).publish_consent(
            consent_id="EW-1", granted=True, person=MIA, town="Kamen",
            purpose="Frühe Hilfen", recipients=[a.id for a in AGENCIES],
            valid_from=date(2026, 1, 1), valid_to=None, recorded_on=date(2026, 1, 1))
    assert not producer.sent


def test_the_sdk_turns_the_brokers_refusal_into_a_row_error(pseudonym_key):
    producer = RecordingProducer(refuse_above=100)
    connector = AgencyConnector("jugendamt-kamen", pseudonym_key, producer)
    with pytest.raises(RowError, match="the broker refused it as too large"):
        connector.publish_consent(
            consent_id="EW-1", granted=True, person=MIA, town="Kamen",
            purpose="Frühe Hilfen", recipients=["jugendamt-kamen"],
            valid_from=date(2026, 1, 1), valid_to=None, recorded_on=date(2026, 1, 1))


def consent_kwargs(**overrides):
    return {"consent_id": "EW-1", "granted": True, "person": MIA, "town": "Kamen",
            "purpose": "Frühe Hilfen", "recipients": ["jugendamt-kamen"],
            "valid_from": date(2026, 1, 1), "valid_to": None,
            "recorded_on": date(2026, 1, 1), **overrides}


def test_the_sdk_applies_the_outboxs_limit(pseudonym_key):
    producer = RecordingProducer()
    connector = AgencyConnector("jugendamt-kamen", pseudonym_key, producer,
                                max_message_bytes=200)
    with pytest.raises(RowError, match=r"more than the broker accepts \(200 bytes\)"):
        connector.publish_consent(**consent_kwargs())
    assert not producer.sent


def test_after_a_refusal_the_sdk_carries_on_with_a_new_producer(pseudonym_key):
    """kafka-python's idempotent producer fails every record after the broker refused one as
    too large: the SDK replaces it, so the next (small) event is published."""
    first, second = RecordingProducer(refuse_above=100), RecordingProducer()
    made = iter([second])
    connector = AgencyConnector("jugendamt-kamen", pseudonym_key, first,
                                reconnect=lambda: next(made))
    with pytest.raises(RowError, match="the broker refused it as too large"):
        connector.publish_consent(**consent_kwargs())
    assert connector.producer is second
    connector.publish_consent(**consent_kwargs(consent_id="EW-2"))
    assert len(second.events()) == 1 and not first.events()


# ----------------------------------------------------------------------- the real broker
def read_outbox(bootstrap, topic):
    """(events, dead letters) on ``topic``, as the router would see them."""
    from hub.kafka_io import read_to_end

    records = list(read_to_end(bootstrap, topic))
    letters = [r for r in records if any(h[0] == DEAD_LETTER_HEADER for h in r.headers)]
    events = [get_codec().decode(r.value) for r in records if r not in letters]
    return events, [json.loads(r.value) for r in letters]


def create_topic(bootstrap, topic, **configs):
    from kafka.admin import NewTopic

    from hub.kafka_io import admin_client

    with admin_client(bootstrap) as admin:
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs=configs)])


@pytest.mark.kafka
def test_a_producer_limit_below_the_event_against_the_real_broker(kafka, consent_file,
                                                                  pseudonym_key):
    """A real producer whose max_request_size is below one event: that row is a row error
    with a dead letter, found before sending; the other rows reach the broker."""
    from kafka import KafkaProducer

    size = sizes(consent_file, pseudonym_key)
    topic = "test.oversized.producer"
    create_topic(kafka.bootstrap, topic)
    conversion = Conversion(consent_file, AGENCIES, pseudonym_key)
    conversion.topic = topic
    conversion.linkage_topic = None  # a test topic of its own: no encodings
    kp = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", enable_idempotence=True,
                       max_request_size=size[3] - 1 + RECORD_OVERHEAD)
    reports: list[str] = []
    try:
        summary = publish(conversion, kp, report=reports.append)
    finally:
        kp.close(timeout=10)

    assert (summary.published, summary.rejected, summary.unacknowledged) == (2, 1, [])
    assert reports == [f"rejected: {consent_file.name}, row 3: the event is {size[3]} bytes, "
                       f"more than the broker accepts ({size[3] - 1} bytes): not published"]
    events, letters = read_outbox(kafka.bootstrap, topic)
    assert sorted(e.payload.consent_id for e in events) == ["EW-1", "EW-3"]
    assert [(d["row"], d["file"]) for d in letters] == [(3, consent_file.name)]
    assert "more than the broker accepts" in letters[0]["reasons"][0]


@pytest.mark.kafka
def test_a_topic_limit_below_the_event_is_read_before_sending(kafka, consent_file,
                                                               pseudonym_key):
    """The outbox accepts fewer bytes than Kafka's default (its max.message.bytes): the
    connector reads that limit first, so the large row is a row error with a dead letter and
    the other rows are published, as ``hub ingest`` does it."""
    from hub.kafka_io import producer

    size = sizes(consent_file, pseudonym_key)
    topic = "test.oversized.topic"
    create_topic(kafka.bootstrap, topic,
                 **{"max.message.bytes": str(size[3] - 1 + RECORD_OVERHEAD)})
    limits = outbox_limits(kafka.bootstrap, topic)
    assert (limits.max_message_bytes, limits.note) == (size[3] - 1, "")
    assert limits.batch_size == size[3] - 1
    conversion = Conversion(consent_file, AGENCIES, pseudonym_key,
                            max_message_bytes=limits.max_message_bytes)
    conversion.topic = topic
    conversion.linkage_topic = None  # a test topic of its own: no encodings
    reports: list[str] = []
    kp = producer(kafka.bootstrap, "test-oversized", batch_size=limits.batch_size)
    try:
        summary = publish(conversion, kp, report=reports.append)
    finally:
        kp.close(timeout=10)

    assert (summary.published, summary.rejected, summary.unacknowledged) == (2, 1, [])
    assert reports == [f"rejected: {consent_file.name}, row 3: the event is {size[3]} bytes, "
                       f"more than the broker accepts ({size[3] - 1} bytes): not published"]
    events, letters = read_outbox(kafka.bootstrap, topic)
    assert sorted(e.payload.consent_id for e in events) == ["EW-1", "EW-3"]
    assert [(d["row"], d["file"]) for d in letters] == [(3, consent_file.name)]


@pytest.mark.kafka
def test_a_limit_lowered_during_the_import_loses_no_row_silently(kafka, consent_file,
                                                                  pseudonym_key):
    """The connector did not read the lowered limit: the broker refuses the large event.
    Every row is then published or named as unacknowledged (``hub ingest`` exits with 2);
    none is lost silently, and flush() does not give up on a batch the producer split."""
    from hub.kafka_io import producer

    size = sizes(consent_file, pseudonym_key)
    topic = "test.oversized.lowered"
    create_topic(kafka.bootstrap, topic, **{"max.message.bytes": str(size[3] + 20)})
    conversion = Conversion(consent_file, AGENCIES, pseudonym_key)
    conversion.topic = topic
    conversion.linkage_topic = None  # a test topic of its own: no encodings
    kp = producer(kafka.bootstrap, "test-oversized-lowered")
    try:
        summary = publish(conversion, kp, report=lambda message: None)
    finally:
        with contextlib.suppress(KafkaError):
            kp.close(timeout=10)

    events, _ = read_outbox(kafka.bootstrap, topic)
    published = {e.payload.consent_id for e in events}
    assert "EW-2" not in published
    assert summary.published == len(published)
    named = " ".join(summary.unacknowledged)
    assert "row 3 (event " in named and "message too large" in named
    assert summary.published + len(summary.unacknowledged) == 3
    assert not any("without an answer" in line or "producer failed" in line
                   for line in summary.unacknowledged)
