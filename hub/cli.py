"""The ``hub`` command: one entry point for operators, agency IT staff and developers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kafka.errors import AuthorizationError as KafkaAuthorizationError
from kafka.errors import KafkaError

from connectors.delivery.cli import add_parser as add_deliver_parser
from hub.argtypes import iso_date, positive
from hub.deployment.cli import add_parser as add_deploy_parser
from hub.errors import BrokerError, HubError, InputError
from hub.security.cli import add_parser as add_acl_parser
from hub.settings import load_settings, write_new_key

DEMO_START = "2026-09-07"

DESCRIPTION = """\
The Unna prevention-chain hub: moves consented, pseudonymised events between the agencies
of Kreis Unna through Kafka, and routes, deduplicates and aggregates them.

Settings come from environment variables with the prefix HUB_ (see README.md), e.g.
HUB_BOOTSTRAP_SERVERS, HUB_HOME, HUB_PSEUDONYM_KEY_FILE.
"""


def _local_broker(settings):
    from hub.broker.local import LocalBroker

    return LocalBroker(
        settings.home, settings.broker_port, settings.controller_port,
        settings.kafka_libs_dir, settings.broker_heap,
    )


def _made_cluster(settings):
    """The local cluster made in HUB_HOME (``start --nodes 3``), or None."""
    from hub.broker.cluster import LocalCluster

    return LocalCluster.made_in(settings.home, libs_root=settings.kafka_libs_dir,
                                heap=settings.cluster_heap)


# ---------------------------------------------------------------------------- broker
def _add_broker(sub) -> None:
    p = sub.add_parser("broker", help="the local Kafka broker or three-broker cluster "
                       "(KRaft, 127.0.0.1 only)",
                       description="Start, stop or inspect the local single-node Kafka broker "
                       "(data and logs under $HUB_HOME/kafka, default .hub/kafka; ports "
                       "HUB_BROKER_PORT, HUB_CONTROLLER_PORT), or with `start --nodes 3` a "
                       "local cluster of three nodes, each broker and KRaft controller, as "
                       "production runs it (replication factor 3, min.insync.replicas 2; "
                       "data under $HUB_HOME/kafka-cluster/node-N; ports HUB_CLUSTER_PORTS, "
                       "default 19092,19093,19094, and HUB_CLUSTER_CONTROLLER_PORTS, default "
                       "19192,19193,19194; heap per node HUB_CLUSTER_HEAP). The single broker "
                       "and the cluster never run side by side in one HUB_HOME. `stop` and "
                       "`status` cover whatever runs, every node of the cluster included "
                       "(status exit code: 0 running, 3 not running, 4 some nodes of the "
                       "cluster down). The first start resolves the Kafka jars with Maven, "
                       "later starts are offline.")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--nodes", type=int, choices=[1, 3], default=None,
                   help="with `start`: 3 starts the local three-broker cluster and prints "
                   "its bootstrap list (for HUB_BOOTSTRAP_SERVERS); 1 (default) the single "
                   "broker")
    p.add_argument("--node", type=int, default=None, metavar="N",
                   help="only node N (1-3) of the local cluster: `start` it again and wait "
                   "until it has rejoined, `stop` it cleanly, or show its `status`")
    p.add_argument("--secure", action="store_true",
                   help="with `start` on new storage: TLS with a local CA, SCRAM-SHA-512 "
                   "logins for the operator, the hub, the analysts and every agency "
                   "(random passwords in $HUB_HOME/credentials, mode 0600), and ACLs "
                   "(nothing is allowed that `hub acl apply` does not allow). A secured "
                   "storage always starts secured.")
    p.set_defaults(func=cmd_broker)


def cmd_broker(args) -> int:
    settings = load_settings()
    if args.nodes is not None and args.action != "start":
        raise BrokerError(f"--nodes goes with `start`; `{args.action}` covers whatever runs "
                          "in HUB_HOME, the single broker or every node of the cluster")
    if args.secure and ((args.nodes or 1) > 1 or args.node is not None):
        raise BrokerError(
            "--secure is not supported for the local cluster (--nodes 3) yet; run the "
            "secured single broker (`hub broker start --secure`), or the cluster without "
            "--secure")
    if args.node is not None:
        return _broker_node(settings, args)
    if args.action == "start" and (args.nodes or 1) > 1:
        return _start_cluster(settings, args.nodes)
    broker = _local_broker(settings)
    if args.action == "start":
        status, started = broker.start(progress=lambda m: print(m, file=sys.stderr),
                                       secure=args.secure)
        secured = " (TLS, SCRAM logins, ACLs)" if broker.secure else ""
        if started:
            print(f"broker started{secured}: {status.bootstrap} (pid {status.pid}, data "
                  f"{status.data_dir})")
        else:
            print(f"broker already running{secured}: {status.bootstrap} (pid {status.pid})")
        if broker.secure:
            folder = broker.security.credentials_dir
            print(f"logins: {folder}/<user>.password (mode 0600) for operator, hub, analyst "
                  f"and each agency; {folder}/<user>.env holds the HUB_ settings of one "
                  f"(e.g. `set -a; . {folder}/operator.env; set +a`). CA certificate: "
                  f"{broker.security.ca_cert}. Nothing is allowed until "
                  "`hub acl apply` (as operator) has set the ACLs.")
        return 0
    cluster = _made_cluster(settings)
    if args.action == "stop":
        stopped = False
        if cluster is not None and cluster.any_running():
            for node_id, was_running in cluster.stop():
                if was_running:
                    print(f"node {node_id} stopped")
            print(f"cluster stopped ({cluster.size} nodes, {cluster.bootstrap})")
            stopped = True
        if broker.stop():
            print("broker stopped")
            stopped = True
        if not stopped:
            print("broker is not running")
        return 0
    status = broker.status()
    nodes = cluster.status() if cluster is not None else []
    running = sum(n.running for n in nodes)
    # the single broker's line unless only the cluster is there
    if status.running or cluster is None or (broker.data_dir.exists() and not running):
        print(status.describe())
    if cluster is not None and (running or not status.running):
        print(f"local cluster: {running} of {cluster.size} nodes running, bootstrap "
              f"{cluster.bootstrap}, folder {cluster.dir}")
        for node in nodes:
            print(f"  {node.describe()}")
    if status.running or (nodes and running == len(nodes)):
        return 0
    return 4 if running else 3


def _start_cluster(settings, nodes: int) -> int:
    from hub.broker.cluster import LocalCluster

    cluster = LocalCluster.for_settings(settings, nodes)
    status, started = cluster.start(progress=lambda m: print(m, file=sys.stderr))
    if not started:
        print(f"cluster already running: {cluster.size} nodes, bootstrap {cluster.bootstrap}")
    elif len(started) == cluster.size:
        print(f"cluster started: {cluster.size} nodes (each broker and KRaft controller), "
              f"bootstrap {cluster.bootstrap}")
    else:
        print(f"cluster running again: started node{'s' * (len(started) > 1)} "
              f"{', '.join(map(str, started))}; bootstrap {cluster.bootstrap}")
    for node in status:
        print(f"  {node.describe()}")
    rf, isr = cluster.replication_factor, cluster.min_insync_replicas
    print(f"use it: export HUB_BOOTSTRAP_SERVERS={cluster.bootstrap}")
    print(f"then `hub topics apply` (replication factor {rf}, min.insync.replicas {isr}) "
          "and `hub run`; `hub broker status` and `hub broker stop` cover every node")
    return 0


def _broker_node(settings, args) -> int:
    """``--node N``: one node of the local cluster."""
    cluster = _made_cluster(settings)
    if cluster is None:
        raise BrokerError(f"--node needs the local cluster, and none is made in "
                          f"{settings.home}; start it with `hub broker start --nodes 3`")
    node = cluster.node(args.node)
    if args.action == "start":
        if node.status().running:
            print(f"node {args.node} already running: {node.node_status().describe()}")
            return 0
        status = cluster.start_node(args.node,
                                    progress=lambda m: print(m, file=sys.stderr))
        print(f"node {args.node} started and rejoined the cluster: {status.describe()}")
        return 0
    if args.action == "stop":
        print(f"node {args.node} stopped" if cluster.stop_node(args.node)
              else f"node {args.node} is not running")
        return 0
    status = node.node_status()
    print(status.describe())
    return 0 if status.running else 3


# ---------------------------------------------------------------------------- topics
def _add_topics(sub) -> None:
    p = sub.add_parser("topics", help="create and update the hub's topics",
                       description="Create missing topics of deploy/topics.yaml (for every "
                       "agency of deploy/agencies.yaml) and align the configs of existing "
                       "ones. Safe to run again.")
    p.add_argument("action", choices=["apply"])
    p.add_argument("--replication-factor", type=positive(int), default=None,
                   help="replication factor for new topics (default: deploy/topics.yaml, "
                   "whose `auto` is one copy per broker the cluster reports, at most 3: 1 on "
                   "the single local broker, 3 on the local cluster and in production; a "
                   "broker that is down is not counted, give 3 to insist). Every topic gets "
                   "min.insync.replicas 2 from replication factor 3 on, else 1, unless "
                   "deploy/topics.yaml sets it")
    p.set_defaults(func=cmd_topics)


def cmd_topics(args) -> int:
    from hub.agencies import load_agencies
    from hub.kafka_io import admin_client
    from hub.topic_admin import apply_topics
    from hub.topics import plan_topics

    settings = load_settings()
    specs = plan_topics(load_agencies(), replication_factor=args.replication_factor,
                        audit_retention_days=settings.audit_retention_days)
    with admin_client(settings.kafka) as admin:
        report = apply_topics(admin, specs)
    for line in report.lines():
        print(line)
    return 0


# --------------------------------------------------------------------------- schemas
def _add_schemas(sub) -> None:
    p = sub.add_parser("schemas", help="check the Avro schemas against their releases",
                       description="check: fail when a schema in schemas/ changed in a way "
                       "that breaks readers of published data: compared with the latest "
                       "release in schemas/released/<N>/ in both directions and with every "
                       "earlier release backward; releases compared with each other (a "
                       "forward break needs a note in schemas/released/CHANGES.md); "
                       "SCHEMA_VERSION must fit. release: copy the current schemas into "
                       "schemas/released/<latest+1>/ and add their notes to CHANGES.md.")
    p.add_argument("action", choices=["check", "release"])
    p.add_argument("--notes", default=None,
                   help="with `release`: the release notes (Markdown): what changed and who "
                   "is upgraded first; a release that consumers on the previous one cannot "
                   "read must say so (the words \"cannot read\"). Default: read from stdin")
    p.set_defaults(func=cmd_schemas)


def cmd_schemas(args) -> int:
    from hub.contract.compat import main_check, main_release

    if args.action == "release":
        return main_release(args.notes)
    return main_check()


# ---------------------------------------------------------------------------- ingest

def _add_ingest(sub) -> None:
    p = sub.add_parser("ingest", help="publish an agency export to the agency's outbox",
                       description="Read an agency export (semicolon-separated CSV), "
                       "pseudonymise each row with the key in HUB_PSEUDONYM_KEY_FILE and "
                       "publish the events to agency.<id>.outbox. Bad rows are reported and "
                       "dead-lettered without identifying data. Ends with a summary; exit code "
                       "1 when any row was rejected, 2 when the broker did not acknowledge "
                       "every event. Formats: youth_office, school (also day-care), health, "
                       "jobcenter, consent (einwilligungen_<agency>.csv).")
    p.add_argument("file", help="the export, e.g. jugendamt-kamen_export.csv")
    p.add_argument("--agency", help="agency id (default: from the file name)")
    p.add_argument("--encoding", help="file encoding (default: UTF-8 with or without BOM, "
                   "else Windows-1252)")
    p.add_argument("--format", choices=["youth_office", "school", "health", "jobcenter",
                                        "consent"],
                   help="export format (default: recognised from the header)")
    p.add_argument("--dry-run", action="store_true",
                   help="check and convert the file, publish nothing")
    p.set_defaults(func=cmd_ingest)


def cmd_ingest(args) -> int:
    from connectors.ingest import Conversion, outbox_limits, publish
    from connectors.progress import ProgressBar
    from hub.agencies import load_agencies
    from hub.kafka_io import existing_topics, missing_topic, producer

    settings = load_settings()
    path = Path(args.file)
    key = settings.pseudonym_key
    conversion = Conversion(path, load_agencies(), key, agency_id=args.agency,
                            encoding=args.encoding, format_name=args.format)
    progress = ProgressBar(conversion.export.lines, f"{path.name}")
    report = lambda message: print(message, file=sys.stderr)  # noqa: E731
    if args.dry_run:
        for outcome in conversion.outcomes():
            progress.advance()
            if outcome.kind == "rejected":
                report(f"rejected: {conversion.describe_rejection(outcome)}")
        progress.finish()
        summary = conversion.summary
    else:
        if conversion.topic not in existing_topics(settings.kafka):
            raise missing_topic(settings.kafka, conversion.topic)
        limits = outbox_limits(settings.kafka, conversion.topic)
        if limits.note:
            report(f"note: {limits.note}")
        conversion.max_message_bytes = min(conversion.max_message_bytes,
                                           limits.max_message_bytes)
        kp = producer(settings.kafka, client_id=f"connector-{conversion.agency_id}",
                      batch_size=limits.batch_size)
        try:
            summary = publish(conversion, kp, report=report, progress=progress)
        finally:
            try:
                kp.close()
            except KafkaError:  # what it did not send is listed as unacknowledged below
                pass
    print(f"{path.name} ({conversion.format} export, {conversion.export.encoding}): "
          + summary.describe(conversion.topic, dry_run=args.dry_run))
    if summary.unacknowledged:
        report(f"NOT acknowledged by the broker ({len(summary.unacknowledged)}), re-run the "
               "import (ids are deterministic, nothing is doubled):")
        for line in summary.unacknowledged[:20]:
            report(f"  {line}")
        return 2
    return 1 if summary.rejected else 0


# ------------------------------------------------------------------------------- run
def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run the stream-processing worker (router)",
                       description="Run the Faust worker in the foreground until Ctrl-C.")
    p.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from hub.worker import run_worker

    run_worker(load_settings())
    return 0


# ------------------------------------------------------------------------------ tail
def _add_tail(sub) -> None:
    p = sub.add_parser("tail", help="print the events of topics as JSON lines",
                       description="Print decoded events of one or more topics as JSON "
                       "lines. Undecodable messages are reported on stderr and skipped.")
    p.add_argument("topics", nargs="+", metavar="TOPIC")
    p.add_argument("--from-beginning", action="store_true",
                   help="start at the oldest record (default: only new records)")
    p.add_argument("--max", type=int, default=None, help="stop after N records")
    p.add_argument("--timeout", type=float, default=None,
                   help="stop after S seconds without a new record")
    p.add_argument("--meta", action="store_true",
                   help="wrap each record with its topic, partition and offset")
    p.set_defaults(func=cmd_tail)


def cmd_tail(args) -> int:
    from hub.tail import Tail, print_records

    settings = load_settings()
    records = Tail(settings.kafka, args.topics, args.from_beginning, args.max,
                   args.timeout)
    print_records(records, with_meta=args.meta)
    return 0


# ---------------------------------------------------------------- audit, dlq, pseudonym
def _add_audit(sub) -> None:
    p = sub.add_parser("audit", help="a family's history: who received what, what was refused",
                       description="Print every routing decision about one subject (the "
                       "pseudonym of a child): which agency received which event when, under "
                       "which consent, and what was refused or held, with the reason. Find the "
                       "pseudonym with `hub pseudonym` (needs the key). `--letter --out FILE` "
                       "writes the same as the family's access letter instead (Art. 15 DSGVO: "
                       "German, printable HTML, with the consents and what an erasure would "
                       "do).")
    p.add_argument("--subject", required=True, help="the child's pseudonym")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.add_argument("--letter", action="store_true",
                   help="write the family's access letter (Art. 15 DSGVO, German, printable "
                   "HTML) to --out instead: who received what, what was refused or held and "
                   "why, the consents, what an erasure would do")
    p.add_argument("--out", metavar="FILE", help="the HTML file of --letter")
    p.add_argument("--timeout", type=float, default=3.0,
                   help="stop reading hub.audit after S seconds without a record")
    p.set_defaults(func=cmd_audit)


def cmd_audit(args) -> int:
    from hub.records import family_history, format_history

    if args.letter and not args.out:
        raise InputError("--letter writes an HTML file: name it with --out, e.g. "
                         "--out auskunft.html")
    if args.out and not args.letter:
        raise InputError("--out names the file of the letter: add --letter")
    if args.letter and args.json:
        raise InputError("--letter and --json exclude each other")
    out = Path(args.out) if args.out else None
    if out and not out.parent.is_dir():
        raise InputError(f"cannot write {out}: folder {out.parent} does not exist")
    settings = load_settings()
    records = family_history(settings.kafka, args.subject, timeout=args.timeout)
    if out:
        from hub.agencies import load_agencies
        from hub.clock import clock_from_settings
        from hub.records import family_consents
        from hub.report.letter import LOCAL_TIME, Retention, build_letter

        consents = family_consents(settings.kafka, args.subject)
        today = clock_from_settings(settings).now().astimezone(LOCAL_TIME).date()
        out.write_text(build_letter(args.subject, records, consents, load_agencies(), today,
                                    Retention.declared(settings.audit_retention_days)),
                       encoding="utf-8")
        print(f"wrote the access letter to {out} ({len(records)} audit records, "
              f"{len(consents)} consents)")
        return 0
    if args.json:
        import json

        for record in records:
            print(json.dumps(record, ensure_ascii=False, sort_keys=True))
    else:
        lines = format_history(records)
        print("\n".join(lines) if lines else f"no audit records for {args.subject}")
    return 0


def _add_erase(sub) -> None:
    p = sub.add_parser("erase", help="erase a child on request (Art. 17 DSGVO)",
                       description="Erase a child on the family's request (through the "
                       "trust office): the router forgets the child's consents, held events "
                       "(audited as erased), handovers and delivered ids, and the analytics "
                       "replace its pseudonym (the cells already published stay as they "
                       "are). Every agency that received an event of the child gets a "
                       "subject.erased notice with the pseudonym and the reference, so that "
                       "its own system erases too. Later events about the child are treated "
                       "as new. Records in the outboxes, inboxes, audit and dead letters go "
                       "by their retention (docs/privacy.md). Waits until a worker carried "
                       "the request out and prints what was erased.")
    p.add_argument("--subject", required=True, help="the child's pseudonym (hub pseudonym)")
    p.add_argument("--reference", required=True,
                   help="case number of the erasure request (Aktenzeichen), kept in the "
                   "audit and sent with the notices, e.g. VS-2026/0042")
    p.add_argument("--yes", action="store_true",
                   help="do not ask for confirmation (needed when not run in a terminal)")
    p.add_argument("--wait", type=float, default=120.0, metavar="S",
                   help="seconds to wait for a worker to carry it out (default 120)")
    p.add_argument("--no-wait", action="store_true",
                   help="send the request and return; the audit shows when it was done")
    p.epilog = ("Exit status: 0 erased, 1 an error (nothing sent), 2 sent but no worker "
                "carried it out within --wait.")
    p.set_defaults(func=cmd_erase)


def cmd_erase(args) -> int:
    from hub.clock import clock_from_settings
    from hub.records import request_erasure
    from hub.routing.erasure import ErasureRequest

    settings = load_settings()
    try:
        request = ErasureRequest.new(args.subject, args.reference,
                                     clock_from_settings(settings).now(),
                                     _login_name())
    except ValueError as exc:
        raise InputError(f"cannot erase: {exc}") from None
    print(f"Erasure of {request.subject} (reference {request.reference}): the hub forgets "
          "the child's consents, held events, handovers and analytics pseudonym, and tells "
          "every agency that received an event of the child. This cannot be undone.")
    if not args.yes:
        if not sys.stdin.isatty():
            raise InputError("nothing was sent: confirm the erasure with --yes")
        if input("Type ERASE to go on: ").strip() != "ERASE":
            print("nothing was sent")
            return 1
    audit = request_erasure(settings.kafka, request, None if args.no_wait else args.wait,
                            progress=print)
    if args.no_wait:
        print(f"request {request.id} sent; `hub audit --subject {request.subject}` shows "
              "the erasure once a worker carried it out")
        return 0
    if audit is None:
        print(f"no worker carried out request {request.id} within {args.wait:.0f} s; it "
              "stays on hub.requests and is carried out when a worker runs (see `hub audit "
              f"--subject {request.subject}`)", file=sys.stderr)
        return 2
    print(f"done: {audit['reason']}")
    return 0


def _login_name() -> str | None:
    """The operator's login name for the audit; None when it is unknown or odd."""
    import getpass

    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return None
    return name if name and name.isprintable() and " " not in name else None


def _add_pseudonym(sub) -> None:
    p = sub.add_parser("pseudonym", help="the pseudonym of a child (needs the key)",
                       description="Compute the subject pseudonym from given name, family "
                       "name and birth date with the key in HUB_PSEUDONYM_KEY_FILE, e.g. for "
                       "the trust office answering a family's request. Nothing is sent.")
    p.add_argument("given_name")
    p.add_argument("family_name")
    p.add_argument("birth_date", help="TT.MM.JJJJ")
    p.set_defaults(func=cmd_pseudonym)


def cmd_pseudonym(args) -> int:
    from connectors.pseudonym import pseudonym
    from connectors.rows import parse_date

    birth = parse_date(args.birth_date)
    if birth is None:
        raise HubError(f"{args.birth_date!r} is not a date (TT.MM.JJJJ)")
    key = load_settings().pseudonym_key
    print(pseudonym(key, args.given_name, args.family_name, birth))
    return 0


def _add_dlq(sub) -> None:
    p = sub.add_parser("dlq", help="list or replay dead letters",
                       description="`list` prints the dead letters of hub.dlq with their "
                       "reasons; `replay` sends the original bytes of the worker's dead "
                       "letters back to their outbox after a fix. Replay goes through the "
                       "router's dedupe, so replaying twice delivers nothing twice.")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--offset", type=int, action="append",
                   help="only the dead letter at this offset of hub.dlq (repeatable)")
    p.add_argument("--timeout", type=float, default=3.0,
                   help="stop reading hub.dlq after S seconds without a record")
    p.set_defaults(func=cmd_dlq)


def cmd_dlq(args) -> int:
    from hub.records import dead_letters, replay

    settings = load_settings()
    letters = dead_letters(settings.kafka, timeout=args.timeout)
    if args.offset:
        letters = [d for d in letters if d.offset in set(args.offset)]
    if args.action == "list":
        for letter in letters:
            print(letter.describe())
        print(f"{len(letters)} dead letters ({sum(d.replayable for d in letters)} replayable; "
              "rows rejected by a connector are fixed in the export and ingested again)")
        return 0
    from hub.kafka_io import producer

    kp = producer(settings.kafka, "hub-dlq-replay")
    try:
        sent = replay(settings.kafka, letters, kp)
    finally:
        kp.close()
    print(f"{sent} dead letters replayed to the outboxes they came from (the router's dedupe "
          "keeps anything already delivered from being delivered again)")
    return 0


# ---------------------------------------------------------------------------- report
def _add_report(sub) -> None:
    p = sub.add_parser("report", help="write the district's HTML report from the analytics",
                       description="Read the anonymous analytics topics and write one "
                       "self-contained HTML file (charts inline, opens offline) with a section "
                       "per municipality: families reached per life phase, offers accepted, "
                       "handover times, stalled handovers and bounces, refusal rates. Cells "
                       "withheld for anonymity are shown as such. Weeks and months that overlap "
                       "the period are included.")
    p.add_argument("--from", dest="start", type=iso_date, required=True, metavar="DATE",
                   help="first day of the period, e.g. 2026-10-01")
    p.add_argument("--to", dest="end", type=iso_date, required=True, metavar="DATE",
                   help="last day of the period (inclusive), e.g. 2026-12-31")
    p.add_argument("--out", default="report.html", metavar="FILE",
                   help="the HTML file to write (default report.html)")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from datetime import datetime

    from hub.analytics.aggregate import LOCAL_TIME
    from hub.report.load import write_report

    if args.end < args.start:
        raise InputError(f"--to {args.end} is before --from {args.start}")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: folder {out.parent} does not exist")
    write_report(load_settings().kafka, args.start, args.end, out, datetime.now(LOCAL_TIME))
    return 0


# ------------------------------------------------------------------------------- key
def _add_key(sub) -> None:
    p = sub.add_parser("key", help="create a pseudonymisation key file",
                       description="Write a new random 256-bit linkage key to FILE (mode "
                       "0600). Keep it with the connectors, never in Kafka or a repository.")
    p.add_argument("action", choices=["new"])
    p.add_argument("file")
    p.add_argument("--force", action="store_true", help="replace an existing key file")
    p.set_defaults(func=cmd_key)


def cmd_key(args) -> int:
    path = Path(args.file)
    write_new_key(path, force=args.force)
    print(f"new pseudonymisation key written to {path} (mode 0600); set "
          f"HUB_PSEUDONYM_KEY_FILE={path}")
    return 0


# ------------------------------------------------------------------------------ demo
def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo", help="run the hub on a simulated district: local broker, topics, worker, "
        "the agencies' daily exports, and a live view",
        description="Starts the local broker (unless one runs, or HUB_BOOTSTRAP_SERVERS "
        "names another), applies the topics, starts the worker, and lets a simulated "
        "district live: the agencies of deploy/agencies.yaml export each day's events of "
        "invented families (consents collected, late or withdrawn; offers; handovers "
        "answered, late, never, or declined and sent elsewhere; re-sent and broken rows), "
        "and the connectors publish them. The hub's clock runs SPEED times as fast as real "
        "time. A live view shows events, deliveries, refusals, duplicates, stalls and dead "
        "letters; the worker's metrics are at http://127.0.0.1:HUB_METRICS_PORT/metrics "
        "(9310), the connectors' at --metrics-port (9311). At the end it writes the "
        "district report to HUB_HOME/demo/report.html. Ctrl-C stops everything it started; "
        "the next run goes on where it stopped (--fresh starts over).")
    p.add_argument("--seed", type=int, default=1,
                   help="the district's random seed: the same seed gives the same exports "
                   "(default 1)")
    p.add_argument("--families", type=positive(int), default=400,
                   help="families in the district (default 400)")
    p.add_argument("--weeks", type=positive(float), default=12.0,
                   help="simulated weeks in all, counted from --start; a run that was "
                   "stopped goes on up to this (default 12)")
    p.add_argument("--speed", type=positive(float), default=43200.0,
                   help="simulated seconds per real second (default 43200: a day every "
                   "2 seconds)")
    p.add_argument("--start", type=iso_date, default=DEMO_START,
                   help=f"the first simulated day, YYYY-MM-DD (default {DEMO_START})")
    p.add_argument("--fresh", action="store_true",
                   help="start over: empties the local broker (all its topics) and forgets "
                   "the progress of earlier runs")
    p.add_argument("--keep", action="store_true",
                   help="keep the broker and worker running after the last day, until "
                   "Ctrl-C, to look around with `hub tail`, `hub audit` or the metrics")
    p.add_argument("--metrics-port", type=int, default=9311, metavar="PORT",
                   help="port of the demo's own /metrics (its connectors' rows and dead "
                   "letters) on 127.0.0.1; 0 turns it off (default 9311)")
    p.add_argument("--view", choices=("auto", "live", "lines"), default="auto",
                   help="live: redraw a screen every second; lines: a line per simulated "
                   "week (for logs); auto: live on a terminal (default)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from hub.demo import DemoOptions, run_demo

    return run_demo(load_settings(), DemoOptions(
        seed=args.seed, families=args.families, weeks=args.weeks, speed=args.speed,
        start=args.start, fresh=args.fresh, keep=args.keep, metrics_port=args.metrics_port,
        live={"auto": None, "live": True, "lines": False}[args.view]))


def build_parser() -> argparse.ArgumentParser:
    """The ``hub`` command: each command adds its own sub-parser (``_add_<command>`` next to
    its ``cmd_<command>`` here; ``hub deliver``, ``hub deploy`` and ``hub acl`` from their
    packages)."""
    parser = argparse.ArgumentParser(
        prog="hub", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # one step per command, in the order `hub --help` lists them
    for add_command in (
            _add_demo, _add_broker, _add_topics, _add_schemas, _add_ingest, _add_run,
            _add_tail, _add_audit, _add_erase, _add_pseudonym, _add_dlq,
            add_deliver_parser, add_deploy_parser, add_acl_parser, _add_report, _add_key,
    ):
        add_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HubError as exc:
        print(f"hub: error: {exc}", file=sys.stderr)
        return 1
    except KafkaAuthorizationError as exc:  # one not translated where it happened
        from hub.kafka_io import not_allowed

        print(f"hub: error: {not_allowed(exc, load_settings().kafka, args.command)}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
