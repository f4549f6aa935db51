"""Prometheus metrics of the hub (names: ``hub_`` prefix, ``_total`` for counters).

Labels are bounded: agency ids, topics, event types and reasons, never pseudonyms or ids.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

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
    "hub_dead_letters_total", "Records sent to the dead-letter topic, by stage and reason.",
    ["stage", "reason"],
)
REFUSALS = Counter(
    "hub_refusals_total", "Deliveries refused, by reason kind (consent_revoked, "
    "outside_validity, no_consent, unknown_recipient, no_inbox, other).", ["reason"],
)
DUPLICATES = Counter(
    "hub_duplicates_total", "Events not delivered again because the recipient has them.",
    ["recipient"],
)
HELD = Gauge("hub_held_events", "Events waiting for consent or their handover request.")
AUDIT_RECORDS = Counter("hub_audit_records_total", "Decisions written to hub.audit.",
                        ["decision"])
