"""``hub acl apply`` and ``hub acl show [PRINCIPAL]``: the command and its options."""

from __future__ import annotations

import argparse

from kafka.errors import AuthorizationError

from hub.agencies import load_agencies
from hub.errors import ConfigError
from hub.kafka_io import admin_client, not_allowed
from hub.security.acl import derive_acls, describe
from hub.security.apply import apply_acls
from hub.settings import load_settings
from hub.topics import plan_topics

DESCRIPTION = """\
The Kafka ACLs of the hub, derived from deploy/agencies.yaml and deploy/topics.yaml:

  each agency   WRITE its own outbox (idempotently), READ its own inbox with consumer
                groups named <agency-id>.<anything>; nothing else
  hub           the workers: READ the outboxes, WRITE the inboxes, the hub.* and
                analytics.* topics, their own consumer group, changelogs and
                transactional ids
  analyst       READ analytics.* only (consumer groups analyst.<anything>)
  operator      everything; the only one that may create or delete topics

`apply` (as the operator: HUB_KAFKA_USER=operator) creates what is missing and removes
ACLs the agency list no longer implies; it is safe to run again. `show` prints what each
principal may do, or one principal's rights.
"""


def cmd_acl(args) -> int:
    agencies = load_agencies()
    settings = load_settings()
    acls = derive_acls(agencies, plan_topics(agencies), settings.app_id)
    if args.action == "show":
        principal = args.principal
        if principal and not principal.startswith("User:"):
            principal = f"User:{principal}"
        text = describe(acls, principal)
        if not text:
            known = sorted({a.principal for a in acls})
            raise ConfigError(f"{principal} is no principal of the hub; known: "
                              + ", ".join(known))
        print(text, end="")
        return 0
    if args.principal:
        raise ConfigError("`hub acl apply` applies the ACLs of every principal; it takes no "
                          "PRINCIPAL")
    try:
        with admin_client(settings.kafka) as admin:
            report = apply_acls(admin, acls)
    except AuthorizationError as exc:
        raise not_allowed(exc, settings.kafka, "read or change the ACLs (only the operator "
                          "may: HUB_KAFKA_USER=operator)") from None
    for line in report.lines()[:-1] if args.verbose else []:
        print(line)
    print(f"ACLs at {settings.kafka.describe()}: {report.lines()[-1]}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("acl", help="apply or show the Kafka ACLs derived from the agencies",
                       description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["apply", "show"])
    p.add_argument("principal", nargs="?", metavar="PRINCIPAL",
                   help="with show: one principal, e.g. jugendamt-kamen or User:analyst")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="with apply: list every ACL created or removed")
    p.set_defaults(func=cmd_acl)
