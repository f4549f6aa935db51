"""``hub ingest FILE``: publish an agency export to the agency's outbox."""

from __future__ import annotations

import sys
from pathlib import Path

from kafka.errors import KafkaError

from hub.settings import load_settings


def add_parser(sub) -> None:
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
    p.add_argument("--changed-pseudonyms", action="store_true",
                   help="publish nothing; list the rows whose pseudonym changed when names in "
                   "other scripts came to be transliterated (a name with letters outside the "
                   "Latin script), with the earlier and the current pseudonym: the earlier "
                   "ones are to be erased (docs/privacy.md, \"Names in other scripts\")")
    p.set_defaults(func=cmd_ingest)


def cmd_ingest(args) -> int:
    from connectors.ingest import Conversion, outbox_limits
    from connectors.progress import ProgressBar
    from connectors.publish import publish
    from hub.agencies import load_agencies
    from hub.kafka_io import existing_topics, missing_topic, producer

    settings = load_settings()
    path = Path(args.file)
    key = settings.pseudonym_key
    conversion = Conversion(path, load_agencies(), key, agency_id=args.agency,
                            encoding=args.encoding, format_name=args.format)
    if args.changed_pseudonyms:
        return _changed_pseudonyms(conversion)
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
        existing = existing_topics(settings.kafka)
        for topic in (conversion.topic, conversion.linkage_topic):
            if topic not in existing:
                raise missing_topic(settings.kafka, topic)
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


def _changed_pseudonyms(conversion) -> int:
    from hub.wording import counted

    earlier: dict[str, int] = {}
    for change in conversion.pseudonym_changes():
        now = change.now or "none: a name has no letter left, the row is rejected"
        print(f"row {change.line}: {change.earlier} -> {now}")
        earlier[change.earlier] = earlier.get(change.earlier, 0) + 1
    rows = sum(earlier.values())
    print(f"{conversion.path.name}: {counted(rows, 'row')} with a changed pseudonym, "
          f"{counted(len(earlier), 'earlier pseudonym')}", file=sys.stderr)
    if earlier:
        print("erase the earlier pseudonyms (hub erase --subject P --reference R), then "
              "publish the file again: docs/privacy.md, \"Names in other scripts\"",
              file=sys.stderr)
    return 0
