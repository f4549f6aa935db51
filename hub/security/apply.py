"""``hub acl apply``: the broker's ACLs brought in line with :func:`derive_acls` (the edge
to Kafka's Admin API; the rules themselves are in :mod:`hub.security.acl`).

Idempotent: ACLs that exist stay, missing ones are created, and ACLs that the agency list
no longer implies (an agency removed, a rule changed) are deleted. The cluster is the
hub's: every ACL on it is expected to come from the agency list.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)
from kafka.errors import AuthorizationError, KafkaError

from hub.errors import BrokerError
from hub.security.acl import Acl


def to_kafka(acl: Acl) -> ACL:
    return ACL(principal=acl.principal, host=acl.host,
               operation=ACLOperation[acl.operation],
               permission_type=ACLPermissionType[acl.permission],
               resource_pattern=ResourcePattern(ResourceType[acl.resource_type], acl.name,
                                                ACLResourcePatternType[acl.pattern_type]))


def from_kafka(acl: ACL) -> Acl:
    pattern = acl.resource_pattern
    return Acl(acl.principal, ResourceType(pattern.resource_type).name,
               ACLResourcePatternType(pattern.pattern_type).name, pattern.resource_name,
               ACLOperation(acl.operation).name, ACLPermissionType(acl.permission_type).name,
               acl.host)


def _exact_filter(acl: Acl) -> ACLFilter:
    return ACLFilter(principal=acl.principal, host=acl.host,
                     operation=ACLOperation[acl.operation],
                     permission_type=ACLPermissionType[acl.permission],
                     resource_pattern=ResourcePatternFilter(
                         ResourceType[acl.resource_type], acl.name,
                         ACLResourcePatternType[acl.pattern_type]))


ANY = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                permission_type=ACLPermissionType.ANY,
                resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                       ACLResourcePatternType.ANY))


def current_acls(admin) -> set[Acl]:
    """Every ACL on the cluster."""
    acls, _ = admin.describe_acls(ANY)  # raises on an error
    return {from_kafka(a) for a in acls}


@dataclass
class AclReport:
    created: list[Acl] = field(default_factory=list)
    removed: list[Acl] = field(default_factory=list)
    unchanged: int = 0

    def lines(self) -> list[str]:
        out = [f"created {a.principal} {a.operation} {a.resource_type} "
               f"{a.name}{'*' if a.pattern_type == 'PREFIXED' else ''}" for a in self.created]
        out += [f"removed {a.principal} {a.operation} {a.resource_type} "
                f"{a.name}{'*' if a.pattern_type == 'PREFIXED' else ''}" for a in self.removed]
        out.append(f"{len(self.created)} created, {len(self.removed)} removed, "
                   f"{self.unchanged} unchanged")
        return out


def apply_acls(admin, wanted: list[Acl]) -> AclReport:
    """Create what is missing, remove what is no longer wanted."""
    try:
        present = current_acls(admin)
        missing = sorted(set(wanted) - present)
        extra = sorted(present - set(wanted))
        if missing:
            result = admin.create_acls([to_kafka(a) for a in missing])
            if result["failed"]:
                raise BrokerError(f"creating {len(result['failed'])} ACLs failed: "
                                  f"{result['failed'][0]}")
        if extra:
            for _, _, error in admin.delete_acls([_exact_filter(a) for a in extra]):
                if getattr(error, "errno", 0):
                    raise BrokerError(f"removing ACLs failed: {error}")
        if missing or extra:
            _wait_until_in_force(admin, set(wanted))
    except AuthorizationError:
        raise  # the caller knows who tried
    except KafkaError as exc:
        raise BrokerError(f"changing the ACLs failed: {exc}") from exc
    return AclReport(missing, extra, len(present & set(wanted)))


def _wait_until_in_force(admin, wanted: set[Acl], timeout: float = 30.0) -> None:
    """The broker applies ACL changes through its metadata log, a moment later: return
    once it shows exactly ``wanted``, so that the next command already sees them."""
    deadline = time.monotonic() + timeout
    while current_acls(admin) != wanted:
        if time.monotonic() > deadline:
            raise BrokerError(f"the broker did not show the changed ACLs within "
                              f"{timeout:.0f} s; run `hub acl apply` again")
        time.sleep(0.2)
