"""The Kafka ACLs of the hub, derived from the agency directory and the topic plan.

Pure: dataclasses and functions, no Kafka client. The same list drives the ``KafkaUser``
resources of ``hub deploy k8s`` and is meant to drive ``hub acl apply`` against a secured
broker, so names follow Kafka's own (resource types, pattern types, operations).

Principals and what they may do:

- ``User:hub``, the workers (``hub run``): read every outbox, write (and read back, see
  below) every inbox, read and write the ``hub.`` and ``analytics.`` topics (and read the
  configs of ``hub.facts``: how long it keeps a tombstone decides whether the analytics read
  on from their store after a restart), create and use their own changelog topics
  (``<app id>-``), their consumer group and transactional ids.
  The workers read the inboxes too: when a worker takes over a partition it reads what the
  inboxes already hold, so that no event is delivered twice (``hub/routing/delivered.py``).
- ``User:<agency id>``, one per agency that exchanges events (its connector: ``hub ingest``,
  the SDK, ``hub deliver``): write its own outbox and read its configuration (its
  ``max.message.bytes``, so that an event too large is a row error before sending), read its
  own inbox, use consumer groups named ``<agency id>.<anything>``, and write (never read)
  ``hub.linkage``, the linkage encodings of the children it publishes events of. Nothing on
  other agencies' topics, nothing else on ``hub.``.
- ``User:analyst``: every agency of kind statistics, and anyone else reading the anonymous
  analytics: read ``analytics.`` topics, consumer groups ``analyst.<anything>``.
- ``User:operator``: everything, including creating and deleting topics (``hub topics
  apply``, ``hub dlq replay``); the only principal that may create or delete the planned
  topics. One exception: a DENY keeps the operator from reading ``hub.linkage``: only the
  workers' linkage stage reads the encodings (docs/privacy.md, "Linkage encodings").

Kafka's authorizer lets READ, WRITE, DELETE and ALTER imply DESCRIBE, ALTER_CONFIGS imply
DESCRIBE_CONFIGS, and ALL imply everything; :func:`allows` answers with the same rules.

Agencies get nothing on ``hub.dlq``: ``hub ingest`` and ``hub deliver`` send their dead
letters through the agency's own outbox, and the router moves them to ``hub.dlq`` with the
outbox they really came from (``hub.deadletter``). ``hub deliver``'s consumer group is
``<id>.deliver`` by default, under the agency's prefix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from hub.agencies import Agency
from hub.core.topics import FACTS_TOPIC, LINKAGE_TOPIC
from hub.errors import ConfigError
from hub.topics import TopicSpec

# Resource types, pattern types and operations, spelled as in Kafka's AdminClient enums.
TOPIC = "TOPIC"
GROUP = "GROUP"
CLUSTER = "CLUSTER"
TRANSACTIONAL_ID = "TRANSACTIONAL_ID"
RESOURCE_TYPES = (TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID)

LITERAL = "LITERAL"
PREFIXED = "PREFIXED"
PATTERN_TYPES = (LITERAL, PREFIXED)

READ = "READ"
WRITE = "WRITE"
CREATE = "CREATE"
DELETE = "DELETE"
ALTER = "ALTER"
DESCRIBE = "DESCRIBE"
DESCRIBE_CONFIGS = "DESCRIBE_CONFIGS"
ALTER_CONFIGS = "ALTER_CONFIGS"
CLUSTER_ACTION = "CLUSTER_ACTION"
IDEMPOTENT_WRITE = "IDEMPOTENT_WRITE"
ALL = "ALL"
# the order in which operations are listed (describe(), KafkaUser resources)
OPERATIONS = (ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS,
              ALTER_CONFIGS, CLUSTER_ACTION, IDEMPOTENT_WRITE)

# which operations Kafka accepts on which resource type
VALID_OPERATIONS = {
    TOPIC: {READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS, ALL},
    GROUP: {READ, DESCRIBE, DELETE, ALL},
    CLUSTER: {CREATE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS, CLUSTER_ACTION,
              IDEMPOTENT_WRITE, ALL},
    TRANSACTIONAL_ID: {WRITE, DESCRIBE, ALL},
}
# operations that Kafka's authorizer counts as also granting others
IMPLIED = {
    DESCRIBE: {READ, WRITE, DELETE, ALTER},
    DESCRIBE_CONFIGS: {ALTER_CONFIGS},
}

CLUSTER_NAME = "kafka-cluster"  # Kafka's name of the one cluster resource
WILDCARD = "*"                  # a LITERAL name that matches every resource of its type

HUB = "User:hub"
ANALYST = "User:analyst"
OPERATOR = "User:operator"
RESERVED = (HUB, ANALYST, OPERATOR)

HUB_TOPIC_PREFIX = "hub."
ANALYTICS_TOPIC_PREFIX = "analytics."
ANALYST_GROUP_PREFIX = "analyst."


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW (or DENY) rule, as Kafka stores it."""

    principal: str
    resource_type: str
    pattern_type: str
    name: str
    operation: str
    permission: str = "ALLOW"
    host: str = "*"

    def __post_init__(self):
        problems = []
        if not self.principal.startswith("User:") or self.principal == "User:":
            problems.append(f"principal {self.principal!r} is not User:<name>")
        if self.resource_type not in RESOURCE_TYPES:
            problems.append(f"unknown resource type {self.resource_type!r}")
        elif self.operation not in VALID_OPERATIONS[self.resource_type]:
            problems.append(f"{self.operation!r} is not an operation on {self.resource_type}")
        if self.pattern_type not in PATTERN_TYPES:
            problems.append(f"unknown pattern type {self.pattern_type!r}")
        if self.resource_type == CLUSTER and (self.name, self.pattern_type) != (
                CLUSTER_NAME, LITERAL):
            problems.append(f"the cluster resource is LITERAL {CLUSTER_NAME!r}")
        if not self.name:
            problems.append("empty resource name")
        if self.permission not in ("ALLOW", "DENY"):
            problems.append(f"permission {self.permission!r} is neither ALLOW nor DENY")
        if problems:
            raise ValueError("invalid ACL: " + "; ".join(problems))

    def matches(self, resource_type: str, name: str) -> bool:
        """Whether this rule is about the resource ``resource_type``/``name``."""
        if resource_type != self.resource_type:
            return False
        if self.pattern_type == PREFIXED:
            return name.startswith(self.name)
        return self.name in (name, WILDCARD)

    def grants(self, operation: str) -> bool:
        """Whether this rule covers ``operation`` (with Kafka's implied operations)."""
        return self.operation in ({operation, ALL} | IMPLIED.get(operation, set()))


def agency_principal(agency_id: str) -> str:
    return f"User:{agency_id}"


def user_name(principal: str) -> str:
    """``User:hub`` -> ``hub`` (the SCRAM user name, and the KafkaUser's name)."""
    return principal.split(":", 1)[1]


def _grant(principal: str, resource_type: str, pattern_type: str, name: str,
           *operations: str) -> list[Acl]:
    return [Acl(principal, resource_type, pattern_type, name, op) for op in operations]


def derive_acls(agencies: Iterable[Agency], topic_plan: Iterable[TopicSpec],
                app_id: str = "unna-hub") -> list[Acl]:
    """Every ACL the hub's principals need, sorted; see the module docstring for the rules.

    ``agencies`` is the directory (``hub.agencies.load_agencies()``), ``topic_plan`` the
    planned topics (``hub.topics.plan_topics``), ``app_id`` the workers' Faust application
    id (their consumer group, and the prefix of their changelog topics). Raises
    :class:`ConfigError` when an agency id would collide with a fixed principal or a planned
    topic would belong to nobody.
    """
    exchanging = sorted((a for a in agencies if a.exchanges_events), key=lambda a: a.id)
    planned = {spec.name for spec in topic_plan}
    problems = []
    for agency in exchanging:
        if agency_principal(agency.id) in RESERVED:
            problems.append(f"agency id {agency.id!r} is also the name of a fixed principal")
        for topic in (agency.outbox, agency.inbox):
            if topic not in planned:
                problems.append(f"{topic} of agency {agency.id} is not in the topic plan")
    agency_topics = {t for a in exchanging for t in (a.outbox, a.inbox)}
    for name in sorted(planned - agency_topics):
        if not name.startswith((HUB_TOPIC_PREFIX, ANALYTICS_TOPIC_PREFIX)):
            problems.append(f"planned topic {name} is neither an agency's topic nor under "
                            f"{HUB_TOPIC_PREFIX} or {ANALYTICS_TOPIC_PREFIX}: nobody may use it")
    if problems:
        raise ConfigError("cannot derive the Kafka ACLs:\n  " + "\n  ".join(problems))

    acls: list[Acl] = []
    for agency in exchanging:
        me = agency_principal(agency.id)
        acls += _grant(me, TOPIC, LITERAL, agency.outbox, WRITE, DESCRIBE, DESCRIBE_CONFIGS)
        acls += _grant(me, CLUSTER, LITERAL, CLUSTER_NAME, IDEMPOTENT_WRITE)
        acls += _grant(me, TOPIC, LITERAL, agency.inbox, READ, DESCRIBE)
        acls += _grant(me, GROUP, PREFIXED, f"{agency.id}.", READ)
        if LINKAGE_TOPIC in planned:  # the encodings of its children, write only
            acls += _grant(me, TOPIC, LITERAL, LINKAGE_TOPIC, WRITE)

    for agency in exchanging:
        acls += _grant(HUB, TOPIC, LITERAL, agency.outbox, READ, DESCRIBE)
        # WRITE to deliver; READ to learn, on taking over a partition, what was delivered
        acls += _grant(HUB, TOPIC, LITERAL, agency.inbox, READ, WRITE, DESCRIBE)
    for prefix in (HUB_TOPIC_PREFIX, ANALYTICS_TOPIC_PREFIX):
        acls += _grant(HUB, TOPIC, PREFIXED, prefix, READ, WRITE, DESCRIBE)
    acls += _grant(HUB, TOPIC, LITERAL, FACTS_TOPIC, DESCRIBE_CONFIGS)  # its delete.retention
    acls += _grant(HUB, TOPIC, PREFIXED, f"{app_id}-", READ, WRITE, DESCRIBE, CREATE)
    acls += _grant(HUB, GROUP, PREFIXED, app_id, READ)
    acls += _grant(HUB, TRANSACTIONAL_ID, PREFIXED, app_id, WRITE, DESCRIBE)
    acls += _grant(HUB, CLUSTER, LITERAL, CLUSTER_NAME, IDEMPOTENT_WRITE, DESCRIBE_CONFIGS,
                   DESCRIBE)

    acls += _grant(ANALYST, TOPIC, PREFIXED, ANALYTICS_TOPIC_PREFIX, READ, DESCRIBE)
    acls += _grant(ANALYST, GROUP, PREFIXED, ANALYST_GROUP_PREFIX, READ)

    acls += _grant(OPERATOR, CLUSTER, LITERAL, CLUSTER_NAME, ALL)
    acls += _grant(OPERATOR, TOPIC, LITERAL, WILDCARD, ALL)
    if LINKAGE_TOPIC in planned:  # only the workers' linkage stage reads the encodings
        acls.append(Acl(OPERATOR, TOPIC, LITERAL, LINKAGE_TOPIC, READ, permission="DENY"))
    # inspecting the workers' and connectors' consumer groups, resetting their offsets
    acls += _grant(OPERATOR, GROUP, LITERAL, WILDCARD, ALL)
    return sorted(set(acls))


def principals(acls: Iterable[Acl]) -> list[str]:
    """The principals named in ``acls``: the hub, agencies, analyst, operator, in order."""
    names = {acl.principal for acl in acls}
    fixed = [p for p in (HUB,) if p in names]
    last = [p for p in (ANALYST, OPERATOR) if p in names]
    return fixed + sorted(names - set(fixed) - set(last)) + last


def allows(acls: Iterable[Acl], principal: str, resource_type: str, name: str,
           operation: str) -> bool:
    """Whether ``principal`` may do ``operation`` on the resource, as Kafka's authorizer
    decides it with these ACLs (a DENY wins; no ACL means no)."""
    matching = [acl for acl in acls if acl.principal == principal
                and acl.matches(resource_type, name) and acl.grants(operation)]
    return bool(matching) and all(acl.permission == "ALLOW" for acl in matching)


def grouped(acls: Iterable[Acl]) -> dict[tuple[str, str, str, str, str], list[str]]:
    """ACLs of one principal merged per resource: (resource type, pattern type, name, host,
    permission) -> operations in the order of :data:`OPERATIONS`."""
    merged: dict[tuple[str, str, str, str, str], set[str]] = defaultdict(set)
    for acl in acls:
        merged[(acl.resource_type, acl.pattern_type, acl.name, acl.host,
                acl.permission)].add(acl.operation)
    order = {t: n for n, t in enumerate(RESOURCE_TYPES)}
    return {key: [op for op in OPERATIONS if op in merged[key]]
            for key in sorted(merged, key=lambda k: (order[k[0]], k))}


def describe(acls: Iterable[Acl], principal: str | None = None) -> str:
    """A listing per principal, one line per resource, e.g.::

        User:jugendamt-kamen
          TOPIC  agency.jugendamt-kamen.inbox   READ, DESCRIBE
          GROUP  jugendamt-kamen.*              READ
    """
    acls = [a for a in acls if principal is None or a.principal == principal]
    blocks = []
    for who in principals(acls):
        rows = []
        for (rtype, pattern, name, host, permission), ops in grouped(
                a for a in acls if a.principal == who).items():
            shown = f"{name}*" if pattern == PREFIXED else name
            if rtype == CLUSTER:
                shown = "(cluster)"
            elif pattern == LITERAL and name == WILDCARD:
                shown = "* (every one)"
            extra = "" if host == "*" else f"  from {host}"
            verb = "" if permission == "ALLOW" else "DENY "
            rows.append((rtype, shown, verb + ", ".join(ops) + extra))
        width_t = max(len(r[0]) for r in rows)
        width_n = max(len(r[1]) for r in rows)
        lines = [who] + [f"  {t:<{width_t}}  {n:<{width_n}}  {ops}" for t, n, ops in rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
