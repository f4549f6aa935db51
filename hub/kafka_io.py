"""Thin edge to kafka-python: clients built from settings, errors translated for people."""

from __future__ import annotations

from contextlib import contextmanager

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from hub.errors import BrokerError


def _unreachable(bootstrap: str) -> BrokerError:
    return BrokerError(
        f"no Kafka broker answers at {bootstrap}: start the local one with "
        "`hub broker start`, or point HUB_BOOTSTRAP_SERVERS at your cluster"
    )


@contextmanager
def admin_client(bootstrap: str, timeout_s: float = 10.0):
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="unna-hub-admin",
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
        )
    except KafkaTimeoutError:
        raise _unreachable(bootstrap) from None
    try:
        yield admin
    finally:
        admin.close()


def producer(bootstrap: str, client_id: str) -> KafkaProducer:
    """An idempotent producer that waits for all in-sync replicas (no loss, no doubles)."""
    try:
        return KafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=20,
            batch_size=256 * 1024,
            request_timeout_ms=30000,
            bootstrap_timeout_ms=10000,
        )
    except KafkaTimeoutError:
        raise _unreachable(bootstrap) from None


def consumer(bootstrap: str, **kwargs) -> KafkaConsumer:
    try:
        return KafkaConsumer(bootstrap_servers=bootstrap, bootstrap_timeout_ms=10000, **kwargs)
    except KafkaTimeoutError:
        raise _unreachable(bootstrap) from None


def existing_topics(bootstrap: str) -> set[str]:
    with admin_client(bootstrap) as admin:
        try:
            return set(admin.list_topics())
        except KafkaError as exc:
            raise BrokerError(f"listing topics at {bootstrap} failed: {exc}") from exc


def read_to_end(bootstrap: str, topic: str, client_id: str = "unna-hub-reader"):
    """Every record of ``topic`` from the beginning up to the end it has when called, as
    kafka-python ``ConsumerRecord``s (raw key and value), partition by partition."""
    from kafka import TopicPartition

    reader = consumer(bootstrap, group_id=None, enable_auto_commit=False,
                      client_id=client_id)
    try:
        ids = reader.partitions_for_topic(topic)
        if not ids:
            raise BrokerError(f"topic {topic} does not exist at {bootstrap} "
                              "(see `hub topics apply`)")
        partitions = [TopicPartition(topic, p) for p in sorted(ids)]
        reader.assign(partitions)
        reader.seek_to_beginning(*partitions)
        ends = reader.end_offsets(partitions)
        remaining = {tp for tp in partitions if reader.position(tp) < ends[tp]}
        while remaining:
            for tp, batch in reader.poll(timeout_ms=500).items():
                for record in batch:
                    if record.offset < ends[tp]:
                        yield record
                if reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        reader.close()
