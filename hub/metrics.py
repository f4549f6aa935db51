"""Prometheus metrics of the hub (names: ``hub_`` prefix, ``_total`` for counters).

Labels are bounded: agency ids, topics, event types and reasons, never pseudonyms or ids.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram

from hub.core.reasons import ReasonKind

CONNECTOR_ROWS = Counter(
    "hub_connector_rows_total",
    "Export rows handled by connectors, by agency and result "
    "(published, rejected, duplicate).",
    ["agency", "result"],
)
EVENTS_CONSUMED = Counter(
    "hub_events_consumed_total", "Events read by workers, by topic and event type.",
    ["topic", "type"],
)
DELIVERIES = Counter(
    "hub_deliveries_total", "Events delivered to an agency inbox, by recipient and type.",
    ["recipient", "type"],
)
DEAD_LETTERS = Counter(
    "hub_dead_letters_total", "Records the workers wrote to hub.dlq, by the stage that "
    "rejected them (router, analytics; connector and deliver: sent by an agency's process "
    "through its outbox) and reason.",
    ["stage", "reason"],
)
EVENTS_PRODUCED = Counter(
    "hub_events_produced_total", "Records written by workers, by topic and type (the event "
    "type for inboxes and hub.consent; audit, fact, cell or dead_letter otherwise).",
    ["topic", "type"],
)
REFUSALS = Counter(
    "hub_refusals_total", "Deliveries refused, by reason kind "
    f"({', '.join(kind.value for kind in ReasonKind)}), "
    "the family's municipality and the sending agency.", ["reason", "municipality", "sender"],
)
DUPLICATES = Counter(
    "hub_duplicates_total", "Events not delivered again because the recipient has them.",
    ["recipient"],
)
HELD = Gauge("hub_held_events", "Events waiting for consent or their handover request.")
AUDIT_RECORDS = Counter("hub_audit_records_total", "Decisions written to hub.audit.",
                        ["decision"])
HANDOVER_ANOMALIES = Counter(
    "hub_handover_anomalies_total", "Handover steps that did not fit the handover "
    "(out of order, wrong agency, repeated), by step.", ["step"],
)
HANDOVERS_STALLED = Counter(
    "hub_handovers_stalled_total", "Handover steps that missed their deadline, by "
    "municipality and the step waited for (answer, completion).",
    ["municipality", "waiting_for"],
)
HANDOVER_BOUNCES = Counter(
    "hub_handover_bounces_total", "Handover requests made after another agency declined "
    "the same child, by municipality and agency pair.",
    ["municipality", "requester", "recipient"],
)
HANDOVER_PING_PONG = Counter(
    "hub_handover_ping_pong_total", "Handover requests that were the third or later "
    "between the same two agencies for one child within 90 days, by municipality and "
    "agency pair.", ["municipality", "requester", "recipient"],
)
HANDOVERS_OPEN = Gauge(
    "hub_handovers_open", "Handovers requested and neither declined nor completed, on this "
    "worker's partitions, by municipality.", ["municipality"],
)
HANDOVERS_OVERDUE = Gauge(
    "hub_handovers_overdue", "Open handovers past the deadline of the step they wait for "
    "(answer or completion), on this worker's partitions, by municipality.",
    ["municipality"],
)
ERASURES = Counter(
    "hub_erasures_total", "Children erased on request (hub erase), by outcome: erased, or "
    "invalid (the request was dead-lettered).", ["outcome"]
)
ANALYTICS_FACTS = Counter(
    "hub_analytics_facts_total", "Facts read by the analytics aggregator, by kind (event, "
    "handover; erasure: an erasure carried out) and result (applied, invalid; failed: an "
    "erasure to be done again at the next takeover).", ["kind", "result"],
)
ANALYTICS_CELLS = Counter(
    "hub_analytics_cells_published_total", "Analytics cells published (new or changed), "
    "by topic.", ["topic"],
)
LINKAGE_DECISIONS = Counter(
    "hub_linkage_decisions_total", "Linkage decisions about pseudonyms seen for the first "
    "time, by outcome (same_child, possible_match, new_child), and the trust office's reviews "
    "(review_confirm, review_reject, review_unlink); invalid: encodings or reviews that could "
    "not be read.", ["outcome"],
)
LINKAGE_APPLIED = Counter(
    "hub_linkage_decisions_applied_total", "Linkage decisions the router has taken over (which "
    "child a pseudonym stands for), by outcome.", ["outcome"],
)
LINKAGE_FORWARDED = Counter(
    "hub_linkage_forwarded_total", "Records of linked pseudonyms the router forwarded to their "
    "child's partition (hub.linked), by kind.", ["kind"],
)
LINKAGE_PENDING = Gauge(
    "hub_linkage_pending", "Possible matches waiting for the trust office (hub linkage "
    "pending).",
)
LINKAGE_OLDEST_PENDING = Gauge(
    "hub_linkage_oldest_pending_seconds", "How long the oldest possible match has waited for "
    "the trust office (seconds; 0 without one).",
)

PROCESSING_SECONDS = Histogram(
    "hub_event_processing_seconds",
    "Time the router takes to decide and send one outbox event (seconds).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ROUTER_SECONDS = Counter(
    "hub_router_seconds_total",
    "Time the router's batch loop spent in each phase (seconds): deciding (the handlers, "
    "handing the outputs to the producer, reading the inboxes after a takeover), "
    "acknowledgements (waiting until the broker "
    "acknowledged a batch's outputs) and input (waiting for the next batch of records).",
    ["phase"],
)
EVENT_LATENCY = Histogram(
    "hub_event_latency_seconds",
    "Time from an event's arrival on its outbox (the broker's record time) until the router "
    "has decided and sent it (seconds): queueing behind a backlog included.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
CONSUMER_LAG = Gauge(
    "hub_consumer_lag", "Records on a partition this worker reads that it has not committed "
    "yet (end offset minus committed offset), by topic and partition.",
    ["topic", "partition"],
)
READ_AGAIN = Counter(
    "hub_partitions_read_again_total", "Times the worker read a partition again from its "
    "commit because records did not reach the stream (cause: gap, stalled_commit).",
    ["topic", "cause"],
)
KAFKA_CONNECTED = Gauge(
    "hub_kafka_connected", "Whether this process reaches a Kafka bootstrap broker (1) or not "
    "(0), probed every few seconds, by broker address.",
    ["broker"],
)
CONSENTS_ACTIVE = Gauge(
    "hub_consents_active",
    "Consents in force (valid today, not withdrawn) known to this worker, by purpose",
    ["purpose"],
)


def prime(counter: Counter, *label_sets: dict[str, str]) -> None:
    """Create the series of ``counter`` for label values known in advance, at 0, so that
    a rate over them is 0 rather than no data before the first occurrence (dashboards and
    alerts then see a quiet day as quiet, not as missing)."""
    for labels in label_sets:
        counter.labels(**labels)


def prime_worker_metrics(recipients: list[str]) -> None:
    """The worker's counters whose label values are known when it starts."""
    prime(DEAD_LETTERS, *({"stage": "router", "reason": r}
                          for r in ("undecodable", "source_mismatch")),
          {"stage": "analytics", "reason": "invalid_fact"},
          {"stage": "connector", "reason": "rejected_row"},
          {"stage": "deliver", "reason": "undecodable"},
          {"stage": "linkage", "reason": "invalid_encodings"},
          {"stage": "linkage", "reason": "invalid_review"})
    prime(LINKAGE_DECISIONS, *({"outcome": o} for o in (
        "same_child", "possible_match", "new_child", "review_confirm", "review_reject",
        "review_unlink")))
    prime(HANDOVER_ANOMALIES, *({"step": f"handover.{s}"}
                                for s in ("requested", "accepted", "declined", "completed")))
    prime(DUPLICATES, *({"recipient": r} for r in recipients))


ROUTER_COUNTERS = {
    "events_consumed": EVENTS_CONSUMED, "deliveries": DELIVERIES,
    "dead_letters": DEAD_LETTERS, "refusals": REFUSALS, "duplicates": DUPLICATES,
    "audit_records": AUDIT_RECORDS, "handover_anomalies": HANDOVER_ANOMALIES,
    "handover_bounces": HANDOVER_BOUNCES, "handover_ping_pong": HANDOVER_PING_PONG,
    "handovers_stalled": HANDOVERS_STALLED, "erasures": ERASURES,
    "linkage_decisions_applied": LINKAGE_APPLIED, "linkage_forwarded": LINKAGE_FORWARDED,
}
"""The counters the router's handlers count into, by the name they use."""


def record_counts(counts: Mapping[tuple[str, tuple[tuple[str, str], ...]], int]) -> None:
    """Add what the router's handlers counted (:class:`~hub.routing.services.Counts`) to the
    metrics."""
    for (metric, labels), n in counts.items():
        ROUTER_COUNTERS[metric].labels(**dict(labels)).inc(n)


def start_server(addr: str, port: int, setting: str, off: str = "0 turns metrics off"):
    """Serve this process's metrics at ``http://addr:port/metrics`` from a daemon thread;
    returns the server (``shutdown()`` stops it). The worker, ``hub deliver`` and the demo
    all start theirs here. A port that cannot be had raises :class:`~hub.errors.HubError`
    naming ``setting``, where another port is chosen, and ``off``, how to do without."""
    from prometheus_client import start_http_server

    from hub.errors import HubError

    try:
        server, _thread = start_http_server(port, addr=addr)
    except OSError as exc:
        raise HubError(f"cannot serve metrics on {addr}:{port} ({exc.strerror}); choose a "
                       f"free port with {setting} ({off})") from None
    return server
