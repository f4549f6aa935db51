"""Thin edge to kafka-python: clients built from settings, errors translated for people.

Every function takes where and how to connect as a :class:`KafkaAccess` (from
``Settings.kafka``: TLS and login included) or a plain ``host:port`` string (plaintext).
"""

from __future__ import annotations

from contextlib import contextmanager

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from hub.errors import BrokerError, HubError, NotAllowedError
from hub.security.client import KafkaAccess, as_access

Kafka = KafkaAccess | str


def _unreachable(kafka: KafkaAccess) -> BrokerError:
    if kafka.security.sasl or kafka.security.tls:
        return BrokerError(
            f"cannot connect to {kafka.describe()} ({kafka.security.protocol}): no broker "
            "answers there, or it refused the TLS handshake or the login (check "
            "HUB_BOOTSTRAP_SERVERS, HUB_KAFKA_CA_FILE, HUB_KAFKA_USER and the password in "
            "HUB_KAFKA_PASSWORD_FILE)")
    return BrokerError(
        f"no Kafka broker answers at {kafka.bootstrap}: start the local one with "
        "`hub broker start`, or point HUB_BOOTSTRAP_SERVERS at your cluster (a secured "
        "broker takes TLS and a login only: HUB_KAFKA_SECURITY_PROTOCOL=SASL_SSL, "
        "HUB_KAFKA_USER, HUB_KAFKA_PASSWORD_FILE)"
    )


def not_allowed(exc: Exception, kafka: Kafka, doing: str) -> NotAllowedError:
    """A refusal by the broker's authorizer, for people: who, what, and where to look."""
    kafka = as_access(kafka)
    kind = type(exc).__name__.removesuffix("Error").removesuffix("AuthorizationFailed")
    who = kafka.security.principal
    hint = (f"; `hub acl show {kafka.security.user}` lists what it may do"
            if kafka.security.sasl else "")
    return NotAllowedError(f"{who} may not {doing} at {kafka.bootstrap} (the broker refused: "
                           f"{kind.lower() or 'not'} authorization){hint}")


def missing_topic(kafka: Kafka, topic: str) -> HubError:
    """Why ``topic`` has no partitions for this client: it does not exist, or the client
    may not see it (a broker with ACLs answers "not authorized" for a topic a principal
    may not describe, whether it exists or not)."""
    from kafka.errors import TopicAuthorizationFailedError

    kafka = as_access(kafka)
    try:
        with admin_client(kafka) as admin:
            [found] = admin.describe_topics([topic])
    except (KafkaError, BrokerError, ValueError):
        found = {}
    if found.get("error_code") == TopicAuthorizationFailedError.errno:
        return not_allowed(TopicAuthorizationFailedError(), kafka,
                           f"read topic {topic} (or it does not exist: the broker does not "
                           "tell)")
    return BrokerError(f"topic {topic} does not exist at {kafka.bootstrap} "
                       "(see `hub topics apply`)")


@contextmanager
def admin_client(bootstrap: Kafka, timeout_s: float = 10.0):
    kafka = as_access(bootstrap)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=kafka.bootstrap,
            **kafka.security.kafka_python(),
            client_id="unna-hub-admin",
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
        )
    except KafkaTimeoutError:
        raise _unreachable(kafka) from None
    try:
        yield admin
    finally:
        admin.close()


PRODUCER_BATCH_BYTES = 256 * 1024
RECONNECT_BACKOFF_MAX_MS = 1000
"""The longest kafka-python waits before it tries a broker again (its default: 30 s, doubling
from 50 ms per failed attempt). A broker that was away for 10 s and leads partitions again
(its preferred leadership comes back) is reached within a second, not up to 30 s later
(docs/operations.md, "Client timeouts and failover")."""


def producer(bootstrap: Kafka, client_id: str,
             batch_size: int = PRODUCER_BATCH_BYTES) -> KafkaProducer:
    """An idempotent producer that waits for all in-sync replicas (no loss, no doubles).

    ``batch_size`` stays below the largest record batch the topics accept: a larger batch
    would be refused as too large, and kafka-python 3.0.12 splits it but leaves ``flush``
    waiting on the batch it split ("Future not done")."""
    kafka = as_access(bootstrap)
    try:
        return KafkaProducer(
            bootstrap_servers=kafka.bootstrap,
            **kafka.security.kafka_python(),
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=20,
            batch_size=batch_size,
            request_timeout_ms=30000,
            bootstrap_timeout_ms=10000,
            reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
        )
    except KafkaTimeoutError:
        raise _unreachable(kafka) from None


def consumer(bootstrap: Kafka, **kwargs) -> KafkaConsumer:
    kafka = as_access(bootstrap)
    try:
        return KafkaConsumer(bootstrap_servers=kafka.bootstrap, bootstrap_timeout_ms=10000,
                             reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
                             **kafka.security.kafka_python(), **kwargs)
    except KafkaTimeoutError:
        raise _unreachable(kafka) from None


def existing_topics(bootstrap: Kafka) -> set[str]:
    with admin_client(bootstrap) as admin:
        try:
            return set(admin.list_topics())
        except KafkaError as exc:
            raise BrokerError(f"listing topics at {bootstrap} failed: {exc}") from exc


def topic_config(bootstrap: Kafka, topic: str, name: str) -> str | None:
    """The value of ``topic``'s config ``name`` as the broker tells it (its default when the
    topic does not override it); None when the broker does not name it. Raises
    :class:`BrokerError` (or kafka-python's ``KafkaError``) when the broker cannot be asked
    or refuses (no DESCRIBE_CONFIGS permission, an old ACL set)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    with admin_client(bootstrap) as admin:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={name: None})],
            config_filter="all")["topic"]
    return described.get(topic, {}).get(name, {}).get("value")


def topic_message_bytes(bootstrap: Kafka, topic: str) -> tuple[int | None, str]:
    """The largest record batch ``topic`` accepts (its ``max.message.bytes``, which is the
    broker's ``message.max.bytes`` unless the topic overrides it), and why it is unknown when
    it is: (None, reason) when the broker does not tell this client (no DESCRIBE_CONFIGS
    permission, an old ACL set) or cannot be asked."""
    try:
        value = topic_config(bootstrap, topic, "max.message.bytes")
    except (KafkaError, BrokerError, ValueError) as exc:
        return None, f"the broker did not tell {topic}'s max.message.bytes ({exc})"
    try:
        return int(value), ""
    except (TypeError, ValueError):
        return None, f"the broker did not tell {topic}'s max.message.bytes"


def read_to_end(bootstrap: Kafka, topic: str, client_id: str = "unna-hub-reader"):
    """Every record of ``topic`` from the beginning up to the end it has when called, as
    kafka-python ``ConsumerRecord``s (raw key and value), partition by partition."""
    yield from read_partitions(bootstrap, [topic], client_id)


def latest_values(bootstrap: Kafka, topic: str,
                  client_id: str = "unna-hub-reader") -> dict[bytes, bytes]:
    """The newest value per key of a compacted topic, read to its end (what compaction
    keeps: a tombstone removes its key)."""
    values: dict[bytes, bytes] = {}
    for record in read_to_end(bootstrap, topic, client_id):
        if record.value is None:
            values.pop(record.key or b"", None)
        else:
            values[record.key or b""] = record.value
    return values


def read_partitions(bootstrap: Kafka, topics: list[str], client_id: str, *,
                    partition: int | None = None, starts: dict[str, int] | None = None,
                    ends: dict | None = None, first: int | None = None):
    """The records of ``topics`` up to the end each partition has when called, as
    kafka-python ``ConsumerRecord``s (raw key and value): of every partition (a topic
    without any is an error), or of ``partition`` only; each from ``starts[topic]`` (none
    or 0: the beginning). ``ends``, when given, receives the end offset read up to, by
    ``TopicPartition``, before the first record. ``first``: only the records of each
    partition's first ``first`` offsets from where it starts (a sample, all partitions
    through one consumer). The one loop that reads Kafka to an end:
    :func:`read_to_end`, and the router's inbox scans (:mod:`hub.routing.delivered`)."""
    from kafka import TopicPartition

    starts = starts or {}
    reader = consumer(bootstrap, group_id=None, enable_auto_commit=False,
                      client_id=client_id)
    try:
        partitions = []
        for topic in topics:
            ids = {partition} if partition is not None else reader.partitions_for_topic(topic)
            if not ids:
                raise missing_topic(bootstrap, topic)
            partitions += [TopicPartition(topic, p) for p in sorted(ids)]
        reader.assign(partitions)
        reader.seek_to_beginning(*[tp for tp in partitions if not starts.get(tp.topic)])
        at_end = reader.end_offsets(partitions)
        for tp in partitions:
            if starts.get(tp.topic):
                reader.seek(tp, min(starts[tp.topic], at_end[tp]))
        if first is not None:
            at_end = {tp: min(end, reader.position(tp) + first) for tp, end in at_end.items()}
        if ends is not None:
            ends.update(at_end)
        remaining = {tp for tp in partitions if reader.position(tp) < at_end[tp]}
        while remaining:
            for tp, batch in reader.poll(timeout_ms=500).items():
                for record in batch:
                    if record.offset < at_end[tp]:
                        yield record
            remaining = {tp for tp in remaining if reader.position(tp) < at_end[tp]}
    finally:
        reader.close()
