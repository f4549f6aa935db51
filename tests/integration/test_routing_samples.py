"""The district's example exports on the real broker, in both orders: exactly the expected
inboxes, and the refusals with their reasons in the audit."""

from __future__ import annotations

import csv
import uuid

import pytest

from hub.settings import PseudonymKey
from hub.tail import Tail
from tests.district_samples import (
    CONSENT_FILES,
    EVENT_FILES,
    EXPECTED_INBOXES,
    EXPECTED_REFUSALS,
    inbox_view,
    refusal_view,
)
from tests.support.clock import HOLD_WINDOW_SECONDS
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

TAGGED_COLUMNS = ("Vorgangsnummer", "Schüler-ID", "Untersuchungs-Nr", "BG-Nummer",
                  "Einwilligungs-ID", "Uebergabe-ID", "Bezug")


def tagged_copy(path, folder, tag):
    """The export with record, handover and consent ids made unique to this run."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    header = rows[0]
    for row in rows[1:]:
        for i, column in enumerate(header):
            if column in TAGGED_COLUMNS and row[i] and (column != "Bezug"
                                                        or row[i].startswith("UE-")):
                row[i] = f"{row[i]}-{tag}"
    target = folder / path.name
    with open(target, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows(rows)
    return target


def read_topic(bootstrap, topics):
    return [r for r in Tail(bootstrap, topics, from_beginning=True, timeout=1.5) if r.value]


def test_both_orders_give_the_same_inboxes(worker, topics, tmp_path):
    runs = {}
    for order, files in (("consents-first", CONSENT_FILES + EVENT_FILES),
                         ("events-first", EVENT_FILES + CONSENT_FILES)):
        folder = tmp_path / order
        folder.mkdir()
        key_file = folder / "key"
        key_file.write_text(uuid.uuid4().hex * 2)
        tag = uuid.uuid4().hex[:6]
        for path in files:
            result = topics.hub("ingest", str(tagged_copy(path, folder, tag)),
                                HUB_PSEUDONYM_KEY_FILE=str(key_file))
            assert result.returncode == 0, result.stdout + result.stderr
        runs[order] = PseudonymKey.from_file(key_file)

    inbox_topics = sorted(EXPECTED_INBOXES) + ["agency.jugendamt-unna.inbox",
                                               "agency.jobcenter-kreis-unna.inbox"]

    last = {}

    def settled():
        by_inbox: dict[str, list[dict]] = {}
        for record in read_topic(topics.bootstrap, inbox_topics):
            by_inbox.setdefault(record.topic, []).append(record.value)
        audit = [r.value for r in read_topic(topics.bootstrap, ["hub.audit"])]
        views = {order: (inbox_view(by_inbox, key), refusal_view(audit, key))
                 for order, key in runs.items()}
        last["views"] = views
        done = all(set(refusals) == set(EXPECTED_REFUSALS) and inboxes == EXPECTED_INBOXES
                   for inboxes, refusals in views.values())
        return views if done else None

    try:
        views = wait_for(settled, HOLD_WINDOW_SECONDS + 60, "both orders to settle",
                         interval=2)
    except AssertionError:
        views = last["views"]  # compared below, to show what differs
    for order, (inboxes, refusals) in views.items():
        assert inboxes == EXPECTED_INBOXES, order
        for case, words in EXPECTED_REFUSALS.items():
            assert all(words in reason for reason in refusals[case]), (order, refusals[case])
