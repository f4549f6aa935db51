"""The linkage stage's records on Kafka (pure): its decisions and the trust office's reviews.

``hub.linkage.decisions`` (compacted, keyed by pseudonym, partitioned like the router): the
newest decision about each pseudonym the stage has seen. The router reads it to know which
child a pseudonym stands for; ``hub linkage pending`` lists the possible matches in it.

``hub.linkage.reviews`` (compacted, one partition, keyed by ``pseudonym|candidate``): what
the trust office decided about a pair (``hub linkage confirm | reject | unlink``). The stage
reads it, carries the decision out, and writes the pseudonym's new decision.

Both are JSON; neither holds an encoding, a name or a date.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum

RECORD_VERSION = 1
STAGE = "linkage"
"""``by`` of a decision the stage took by itself (else the operator's login)."""


class Outcome(StrEnum):
    SAME = "same_child"
    POSSIBLE = "possible_match"
    NEW = "new_child"


class Action(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"
    UNLINK = "unlink"


@dataclass(frozen=True, slots=True)
class LinkDecision:
    """What the stage decided about ``pseudonym``: ``child`` is the pseudonym that stands for
    its child (itself unless linked), ``candidate`` the known child it was compared with
    best (None when none came close), ``fields`` which fields agree and how."""

    pseudonym: str
    outcome: Outcome
    child: str
    at: datetime
    candidate: str | None = None
    score: float | None = None
    fields: tuple[str, ...] = ()
    why: str = ""
    by: str = STAGE
    review: Action | None = None  # the trust office's action that led to it

    def to_bytes(self) -> bytes:
        data = asdict(self)
        data.update(v=RECORD_VERSION, outcome=self.outcome.value, at=self.at.isoformat(),
                    fields=list(self.fields),
                    review=None if self.review is None else self.review.value)
        return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> LinkDecision:
        data = _versioned(raw, "decision")
        review = data.get("review")
        pseudonym, child = data["pseudonym"], data["child"]
        # the linkage stage holds one per pseudonym: share what repeats
        return cls(pseudonym, Outcome(data["outcome"]), pseudonym if child == pseudonym else child,
                   datetime.fromisoformat(data["at"]), data.get("candidate"),
                   data.get("score"), tuple(map(_shared, data.get("fields") or ())),
                   _shared(data.get("why", "")), _shared(data.get("by", STAGE)),
                   None if review is None else Action(review))


@dataclass(frozen=True)
class Review:
    """The trust office's decision about ``pseudonym`` and the known child ``candidate``."""

    action: Action
    pseudonym: str
    candidate: str
    by: str
    at: datetime
    note: dict = field(default_factory=dict)

    @property
    def key(self) -> bytes:
        return review_key(self.pseudonym, self.candidate)

    def to_bytes(self) -> bytes:
        return json.dumps({"v": RECORD_VERSION, "action": self.action.value,
                           "pseudonym": self.pseudonym, "candidate": self.candidate,
                           "by": self.by, "at": self.at.isoformat(), "note": self.note},
                          separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Review:
        data = _versioned(raw, "review")
        return cls(Action(data["action"]), data["pseudonym"], data["candidate"], data["by"],
                   datetime.fromisoformat(data["at"]), data.get("note") or {})


def _shared(text):
    """One copy of a text that many records repeat (a reason, a field, a login)."""
    return sys.intern(text) if isinstance(text, str) else text


def review_key(pseudonym: str, candidate: str) -> bytes:
    return f"{pseudonym}|{candidate}".encode()


def _versioned(raw: bytes, what: str) -> dict:
    try:
        data = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a linkage {what}: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != RECORD_VERSION:
        raise ValueError(f"not a linkage {what} of version {RECORD_VERSION}")
    return data
