"""The Kafka side of ``hub deliver``: read one agency's inbox, commit, dead-letter.

The deliverer takes all partitions of the inbox itself (no group rebalancing): it decides
where each partition starts (:func:`start_offsets`) and commits offsets to its consumer group
only after the events up to there were handed over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from contextlib import contextmanager

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import AuthorizationError, KafkaError
from kafka.structs import OffsetAndMetadata

from hub.agencies import Agency
from hub.deadletter import outbox_headers, worker_dead_letter
from hub.errors import BrokerError, HubError
from hub.kafka_io import Kafka, consumer, missing_topic, not_allowed, producer

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 30
RETRY_S = 2.0  # between tries while the broker is away
REPEAT_S = 30.0  # between the warnings that it still is


def start_offsets(partitions: Iterable[int], committed: dict[int, int | None],
                  written: dict[int, int], from_beginning: bool = False) -> dict[int, int | None]:
    """Where to start reading each partition; None means at the oldest retained record.

    ``written`` (the next offsets recorded by batch files in the target folder) always
    wins over an older commit: a crash between writing a file and committing must not write
    it twice. The group's commit counts too (files may have been taken away since), unless
    ``from_beginning``.
    """
    starts: dict[int, int | None] = {}
    for partition in partitions:
        candidates = [written.get(partition)]
        if not from_beginning:
            candidates.append(committed.get(partition))
        known = [offset for offset in candidates if offset is not None]
        starts[partition] = max(known) if known else None
    return starts


class Inbox:
    """All partitions of ``agency.<id>.inbox`` for one consumer group."""

    def __init__(self, bootstrap: Kafka, agency: Agency, group: str, max_records: int,
                 stop: threading.Event | None = None):
        self.bootstrap = bootstrap
        self.stop = stop or threading.Event()
        """Set when delivery should stop: a call waiting for the broker gives up."""
        self.topic = agency.inbox
        self.outbox = agency.outbox  # where its dead letters go (the router moves them on)
        self.agency_id = agency.id
        self._max_records = max_records
        self._dlq = None
        self._consumer = consumer(
            bootstrap, group_id=group, client_id=f"hub-deliver-{agency.id}",
            enable_auto_commit=False, auto_offset_reset="earliest",
        )
        try:
            self.partitions = [TopicPartition(self.topic, p)
                               for p in sorted(self._partition_ids(self.topic))]
            self._partition_ids(self.outbox)
            self._consumer.assign(self.partitions)
        except BaseException:
            self._consumer.close(autocommit=False)
            raise

    def start(self, written: dict[int, int], from_beginning: bool) -> dict[int, int | None]:
        """Position every partition (see :func:`start_offsets`); returns the positions."""
        with self._broker_call("reading the committed offsets"):
            committed = {tp.partition: self._consumer.committed(tp) for tp in self.partitions}
            oldest = self._consumer.beginning_offsets(self.partitions)
            ends = self._consumer.end_offsets(self.partitions)
        starts = start_offsets([tp.partition for tp in self.partitions], committed, written,
                               from_beginning)
        for tp in self.partitions:
            start = starts[tp.partition]
            if start is None:
                self._consumer.seek_to_beginning(tp)
                continue
            if start > ends[tp]:
                where = ("the batch files in the folder record" if start == written.get(
                    tp.partition) else "the consumer group committed")
                raise HubError(
                    f"{where} delivery of {self.topic} up to offset {start - 1} of partition "
                    f"{tp.partition}, but that partition has only {ends[tp]} offsets: was the "
                    "topic deleted and created again? Then move the old batch files away, "
                    "or use another --group")
            if start < oldest[tp]:
                log.error("%s[%d]: offsets %d to %d were deleted by retention before they "
                          "were delivered", self.topic, tp.partition, start, oldest[tp] - 1)
                start = oldest[tp]
            self._consumer.seek(tp, start)
        return starts

    def poll(self, timeout_s: float) -> list[ConsumerRecord]:
        """The next records (at most ``max_records``), ordered by partition and offset."""
        batches = self._patiently("reading", lambda: self._consumer.poll(
            timeout_ms=int(timeout_s * 1000), max_records=self._max_records))
        return [record for tp in sorted(batches) for record in batches[tp]]

    def caught_up(self) -> bool:
        """True when every partition has been read up to its current end."""
        def caught_up() -> bool:
            ends = self._consumer.end_offsets(self.partitions)
            return all(self._consumer.position(tp) >= ends[tp] for tp in self.partitions)
        return self._patiently("reading the end offsets", caught_up)

    def commit(self, next_offsets: dict[int, int]) -> None:
        """Record that every record before ``next_offsets[partition]`` was handed over."""
        offsets = {TopicPartition(self.topic, partition): OffsetAndMetadata(offset, "", -1)
                   for partition, offset in next_offsets.items()}
        self._patiently("committing offsets", lambda: self._consumer.commit(offsets))

    def dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        """Send ``record`` with its reason to the dead-letter topic (through the agency's
        outbox, from where the router moves it to ``hub.dlq``) and wait for the broker."""
        if self._dlq is None:
            self._dlq = producer(self.bootstrap, client_id=f"hub-deliver-{self.agency_id}")
        value = worker_dead_letter("deliver", record.topic, record.partition, record.offset,
                                   record.value, [reason])
        with self._broker_call(f"dead-lettering {record.topic}[{record.partition}]"
                               f"@{record.offset}"):
            self._dlq.send(self.outbox, key=self.agency_id.encode(), value=value,
                           headers=outbox_headers("deliver")).get(SEND_TIMEOUT_S)

    def close(self) -> None:
        self._consumer.close(autocommit=False)
        if self._dlq is not None:
            self._dlq.close()

    # ------------------------------------------------------------------------- internals
    def _partition_ids(self, topic: str) -> set[int]:
        with self._broker_call(f"looking up {topic}"):
            ids = self._consumer.partitions_for_topic(topic)
        if not ids:
            raise missing_topic(self.bootstrap, topic)
        return ids

    def _broker_call(self, what: str):
        return _kafka_errors(self.bootstrap, what)

    def _patiently(self, what: str, call):
        """``call()``, tried again while the broker is away (a retriable Kafka error: it
        restarts, a failover, the network), until it answers or delivery is stopped. One
        warning when it starts, one every ``REPEAT_S`` seconds while it lasts, one when
        the broker is back; any other error is raised as before."""
        down_since = said = None
        while True:
            try:
                result = call()
            except KafkaError as exc:
                if not _is_transient(exc) or self.stop.is_set():
                    with self._broker_call(what):
                        raise
                now = time.monotonic()
                if down_since is None:
                    down_since = said = now
                    log.warning("%s at %s failed (%s); trying again until the broker "
                                "answers (Ctrl-C stops)", what, self.bootstrap,
                                type(exc).__name__)
                elif now - said >= REPEAT_S:
                    said = now
                    log.warning("the broker at %s has not answered for %.0f s (%s); still "
                                "trying", self.bootstrap, now - down_since, what)
                self.stop.wait(RETRY_S)
                continue
            if down_since is not None:
                log.warning("the broker at %s answers again after %.0f s", self.bootstrap,
                            time.monotonic() - down_since)
            return result


def _is_transient(exc: KafkaError) -> bool:
    """An error that goes away when the broker is back (or a new coordinator is found)."""
    return bool(getattr(exc, "retriable", False))


@contextmanager
def _kafka_errors(kafka: Kafka, what: str):
    """Turn a kafka-python error into a HubError that says what was being done."""
    try:
        yield
    except AuthorizationError as exc:
        raise not_allowed(exc, kafka, what) from exc
    except KafkaError as exc:
        raise BrokerError(f"{what} at {kafka} failed: {exc}") from exc
