"""``hub tail TOPIC``: the operator's window into any topic, as JSON lines.

Avro events are decoded with the hub's codec, analytics records with theirs; JSON records
(audit, dead letters, facts) are printed as they are; a message that decodes as neither
is reported on stderr with its reason and skipped, never a crash.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from kafka import TopicPartition

from hub.analytics.records import RECORD_OF_TOPIC, decode_record
from hub.contract.codec import envelope_to_json, get_codec
from hub.errors import DecodeError
from hub.kafka_io import Kafka, consumer, missing_topic


@dataclass(frozen=True)
class TailedRecord:
    topic: str
    partition: int
    offset: int
    value: dict | None
    error: str | None = None


def decode_value(data: bytes | None, topic: str | None = None) -> dict:
    """An Avro event or analytics record as JSON, or a JSON record as it is; DecodeError
    otherwise."""
    if not data:
        raise DecodeError("empty message")
    if topic in RECORD_OF_TOPIC:
        return {name: value.isoformat() if isinstance(value, date) else value
                for name, value in decode_record(topic, data).items()}
    if data[:1] in (b"{", b"["):
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DecodeError(f"neither Avro nor valid JSON: {exc}") from None
    return envelope_to_json(get_codec().decode(data))


class Tail:
    """Records of ``topics``, positioned when constructed (so nothing sent afterwards is
    missed); iterate until ``max_records`` or ``timeout`` seconds without a record."""

    def __init__(
        self, bootstrap: Kafka, topics: list[str], from_beginning: bool = False,
        max_records: int | None = None, timeout: float | None = None,
        stop: Callable[[], bool] | None = None,
    ):
        self.max_records = max_records
        self.timeout = timeout
        self.stop = stop or (lambda: False)
        self._consumer = consumer(bootstrap, group_id=None, enable_auto_commit=False,
                                  client_id="unna-hub-tail")
        try:
            partitions = []
            for topic in topics:
                ids = self._consumer.partitions_for_topic(topic)
                if not ids:
                    raise missing_topic(bootstrap, topic)
                partitions += [TopicPartition(topic, p) for p in sorted(ids)]
            self._consumer.assign(partitions)
            if from_beginning:
                self._consumer.seek_to_beginning(*partitions)
            else:
                self._consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve the positions now, not at the first poll
                self._consumer.position(tp)
        except BaseException:
            self._consumer.close()
            raise

    def __iter__(self) -> Iterator[TailedRecord]:
        try:
            yield from self._records()
        finally:
            self.close()

    def close(self) -> None:
        self._consumer.close()

    def _records(self) -> Iterator[TailedRecord]:
        seen = 0
        idle_since = time.monotonic()
        while self.max_records is None or seen < self.max_records:
            if self.timeout is not None and time.monotonic() - idle_since > self.timeout:
                return
            if self.stop():
                return
            for batch in self._consumer.poll(timeout_ms=200).values():
                for msg in batch:
                    idle_since = time.monotonic()
                    try:
                        value, error = decode_value(msg.value, msg.topic), None
                    except DecodeError as exc:
                        value, error = None, exc.reason
                    yield TailedRecord(msg.topic, msg.partition, msg.offset, value, error)
                    seen += 1
                    if self.max_records is not None and seen >= self.max_records:
                        return


def print_records(records: Iterable[TailedRecord], with_meta: bool = False) -> int:
    count = 0
    for record in records:
        if record.error:
            print(f"{record.topic}[{record.partition}]@{record.offset}: cannot decode: "
                  f"{record.error}", file=sys.stderr)
            continue
        value = record.value
        if with_meta:
            value = {"topic": record.topic, "partition": record.partition,
                     "offset": record.offset, "value": value}
        print(json.dumps(value, ensure_ascii=False, sort_keys=True), flush=True)
        count += 1
    return count
