"""The routing decision for one event, as data (pure): who gets it, who does not and why,
whether it waits. :class:`hub.routing.rules.Router` makes it; the router's handlers carry
it out, the audit records it and the analytics count it."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.core.reasons import NoteKind, ReasonKind, ReasonParams

__all__ = ["Decision", "Delivery", "ReasonKind", "Refusal"]


@dataclass(frozen=True)
class Delivery:
    recipient: str
    topic: str
    consent_id: str


@dataclass(frozen=True)
class Refusal:
    recipient: str | None
    kind: ReasonKind  # for metrics and analytics
    reason: str  # for people (the audit)
    consent_id: str | None = None
    params: ReasonParams = field(default_factory=dict)  # what ``reason`` names


@dataclass
class Decision:
    deliveries: list[Delivery] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    hold: str | None = None  # the event waits; the reason why
    hold_kind: ReasonKind | None = None  # the kind of ``hold``
    hold_params: ReasonParams = field(default_factory=dict)  # what ``hold`` names
    not_routed: str | None = None  # the event goes to no inbox; the reason why
    not_routed_kind: NoteKind | None = None  # the kind of ``not_routed``
    not_routed_params: ReasonParams = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)  # dead-letter the event

    def wait(self, kind: ReasonKind, reason: str, params: ReasonParams | None = None) -> None:
        """Hold the event, for ``reason``."""
        self.hold, self.hold_kind, self.hold_params = reason, kind, params or {}

    def route_nowhere(self, kind: NoteKind, reason: str,
                      params: ReasonParams | None = None) -> None:
        """Send the event to no inbox, for ``reason``."""
        self.not_routed, self.not_routed_kind = reason, kind
        self.not_routed_params = params or {}
