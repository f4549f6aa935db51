"""``hub deliver AGENCY_ID (--to-dir DIR | --webhook URL)``: the command and its options."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from connectors.delivery.directory import BatchDirectory
from connectors.delivery.inbox import Inbox
from connectors.delivery.loops import DeliveryReport, deliver_to_directory, deliver_to_webhook
from connectors.delivery.metrics import prime_deliver_metrics
from connectors.delivery.webhook import WebhookSender, check_webhook_url, shown_url
from hub.agencies import Agency, load_agencies
from hub.argtypes import positive
from hub.deadletter import DLQ_TOPIC
from hub.errors import ConfigError
from hub.kafka_io import Kafka
from hub.metrics import start_server
from hub.settings import load_settings
from hub.signals import stop_on_signals
from hub.wording import counted

DESCRIPTION = """\
Deliver the inbox of an agency (agency.<id>.inbox) to the agency, so that it needs no
Kafka client of its own. Choose one channel:

  --to-dir DIR   CSV files in the agencies' German vocabulary (';'-separated, UTF-8,
                 dates TT.MM.JJJJ), one file per batch, each event exactly once, even
                 after a crash: the file names record how far delivery got.
  --webhook URL  one HTTP POST per event (JSON, header Idempotency-Key: <event id>),
                 retried with backoff until the receiver answers 2xx; nothing is skipped.

A message that cannot be decoded is dead-lettered to hub.dlq and delivery goes on. Runs
until Ctrl-C or SIGTERM (the current batch is finished first), or with --once until the
inbox is caught up. docs/delivery.md describes the files and the webhook contract.
"""

EPILOG = """\
examples:
  hub deliver jugendamt-selm --to-dir /srv/austausch/eingang
  hub deliver jugendamt-selm --to-dir /srv/austausch/eingang --once      # e.g. from cron
  hub deliver kita-luenen-sonnenschein --webhook https://kita.example/hub/events
"""

log = logging.getLogger("connectors.delivery")


def add_parser(sub) -> None:
    """Register ``hub deliver`` on the ``hub`` command's subparsers."""
    p = sub.add_parser(
        "deliver", help="deliver an agency's inbox as CSV files or to a webhook",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("agency", metavar="AGENCY_ID",
                   help="the agency whose inbox to deliver (an id of deploy/agencies.yaml)")
    channel = p.add_mutually_exclusive_group(required=True)
    channel.add_argument("--to-dir", metavar="DIR", type=Path,
                         help="write CSV batch files into DIR (created if only DIR itself is "
                         "missing); one `hub deliver` per agency and folder")
    channel.add_argument("--webhook", metavar="URL",
                         help="POST each event as JSON to URL (http:// or https://)")
    p.add_argument("--group", metavar="G",
                   help="Kafka consumer group that keeps the position; on a secured broker "
                   "it must start with AGENCY_ID. (default: AGENCY_ID.deliver)")
    p.add_argument("--batch-size", metavar="N", type=positive(int), default=500,
                   help="events per file (--to-dir) or per offset commit (--webhook); "
                   "default 500")
    p.add_argument("--batch-seconds", metavar="S", type=positive(float), default=5.0,
                   help="write a smaller file once its first event waited S seconds "
                   "(--to-dir; default 5)")
    p.add_argument("--once", action="store_true",
                   help="stop when the inbox is caught up instead of waiting for new events "
                   "(for cron jobs; exit code 0)")
    p.add_argument("--from-beginning", action="store_true",
                   help="ignore the group's committed position and start at the oldest "
                   "retained event (with --to-dir, events already in DIR are still skipped)")
    p.add_argument("--max-backoff", metavar="S", type=positive(float), default=60.0,
                   help="longest wait between two attempts at the webhook (default 60)")
    p.add_argument("--request-timeout", metavar="S", type=positive(float), default=10.0,
                   help="give up one webhook request after S seconds and retry (default 10)")
    p.add_argument("--metrics-port", metavar="PORT", type=positive(int, most=65535),
                   help="serve Prometheus metrics at http://HUB_METRICS_ADDR:PORT/metrics "
                   "(HUB_METRICS_ADDR: default 127.0.0.1; default: no metrics)")
    p.set_defaults(func=cmd_deliver)


def resolve_agency(agency_id: str) -> Agency:
    """The agency of ``agency_id`` if it has an inbox; a clear error otherwise."""
    agencies = load_agencies()
    agency = agencies.get(agency_id)
    if agency is None:
        known = ", ".join(a.id for a in agencies.exchanging())
        raise ConfigError(f"unknown agency {agency_id!r}: not in deploy/agencies.yaml "
                          f"(agencies with an inbox: {known})")
    if not agency.exchanges_events:
        raise ConfigError(f"agency {agency_id!r} ({agency.kind}) has no inbox: it reads the "
                          "anonymous analytics topics only")
    return agency


def cmd_deliver(args) -> int:
    settings = load_settings()
    agency = resolve_agency(args.agency)
    if args.webhook:
        check_webhook_url(args.webhook)
    _log_to_stderr(settings.log_level)
    if args.metrics_port:
        prime_deliver_metrics(agency.id, "dir" if args.to_dir else "webhook")
        start_server(settings.metrics_addr, args.metrics_port, "--metrics-port",
                     "without it, no metrics")
    group = args.group or f"{agency.id}.deliver"  # under the agency's group prefix (ACLs)
    stop = threading.Event()
    with stop_on_signals(stop, _stopping):
        if args.to_dir:
            with BatchDirectory(args.to_dir, agency.id) as directory:
                report = _run(settings.kafka, agency, group, args, stop, directory)
            target = str(args.to_dir)
        else:
            report = _run(settings.kafka, agency, group, args, stop, None)
            target = shown_url(args.webhook)
    print(_summary(agency, target, report, bool(args.to_dir)))
    if report.receiver_failing:
        print(f"hub deliver: stopped while {target} refused an event; it and the events after "
              f"it stay in {agency.inbox} and are delivered by the next run", file=sys.stderr)
        return 1
    return 0


def _run(bootstrap: Kafka, agency: Agency, group: str, args, stop: threading.Event,
         directory: BatchDirectory | None) -> DeliveryReport:
    inbox = Inbox(bootstrap, agency, group, max_records=args.batch_size, stop=stop)
    try:
        written = directory.written_positions() if directory else {}
        starts = inbox.start(written, args.from_beginning)
        log.info("delivering %s (group %s) from %s", agency.inbox, group, ", ".join(
            f"p{p}@{'oldest' if s is None else s}" for p, s in sorted(starts.items())))
        if directory:
            return deliver_to_directory(inbox, directory, batch_size=args.batch_size,
                                        batch_seconds=args.batch_seconds, once=args.once,
                                        stop=stop)
        sender = WebhookSender(args.webhook, agency.id, max_backoff=args.max_backoff,
                               timeout=args.request_timeout, stop=stop)
        return deliver_to_webhook(inbox, sender, once=args.once, stop=stop)
    finally:
        inbox.close()


def _summary(agency: Agency, target: str, report: DeliveryReport, to_dir: bool) -> str:
    delivered = f"{counted(report.events, 'event')} delivered"
    if to_dir:
        delivered += f" in {counted(report.files, 'file')}"
    line = f"{agency.inbox} -> {target}: {delivered}"
    if report.dead_letters:
        line += (f", {counted(report.dead_letters, 'message')} dead-lettered (to "
                 f"{DLQ_TOPIC}, through {agency.outbox})")
    return line


def _log_to_stderr(level_name: str) -> None:
    level = logging.getLevelName(level_name.upper())
    if not isinstance(level, int):
        raise ConfigError(f"HUB_LOG_LEVEL: unknown log level {level_name!r}")
    log.setLevel(level)
    if not any(getattr(h, "hub_deliver", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handler.hub_deliver = True
        log.addHandler(handler)


def _stopping(signal_name: str) -> None:
    log.info("stopping (%s): finishing what is in hand; Ctrl-C again to interrupt",
             signal_name)
