"""The trust office decides a possible match: a consent for Lena and an event for Lina (same
family name and birth date, another agency's file) are a possible match, listed by `hub
linkage pending`; `hub linkage reject` takes it off the list and the decision is audited
with the operator's login; a later confirm and an unlink are carried out and audited too."""

from __future__ import annotations

import getpass
import json
import uuid

import pytest

from tests.exports import (
    CONSENT_COLUMNS,
    JOBCENTER_COLUMNS,
    consent_row,
    jobcenter_row,
    write_export,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

BORN = "14.03.2010"


def test_the_trust_office_rejects_a_possible_match(worker, topics, tmp_path):
    tag = uuid.uuid4().hex[:8]
    family = "Lind" + tag.translate(str.maketrans("0123456789", "ghijklmnop"))
    consents = write_export(tmp_path / "einwilligungen_jugendamt-kamen.csv", [consent_row(
        **{"Einwilligungs-ID": f"EW-{tag}"}, Vorname="Lena", Nachname=family,
        Geburtsdatum=BORN, Zweck="Übergang Schule-Beruf",
        Empfaenger="jugendamt-kamen,jobcenter-kreis-unna")], columns=CONSENT_COLUMNS)
    events = write_export(tmp_path / "jobcenter-kreis-unna_export.csv", [jobcenter_row(
        **{"BG-Nummer": f"36104BG{tag}", "Uebergabe-ID": f"UE-JC-{tag}"}, Vorname="Lina",
        Nachname=family, Geburtsdatum=BORN, Zielstelle="jugendamt-kamen")],
        columns=JOBCENTER_COLUMNS)
    for path in (consents, events):  # in this order: Lina's pseudonym is the new one
        result = topics.hub("ingest", str(path))
        assert result.returncode == 0, result.stderr
    lena, lina = (topics.hub("pseudonym", given, family, BORN).stdout.strip()
                  for given in ("Lena", "Lina"))

    def pending():
        result = topics.hub("linkage", "pending", "--json")
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    def listed():
        return [case for case in pending() if case["pseudonym"] == lina]

    (case,) = wait_for(listed, 60, "the possible match", interval=1)
    assert case["candidate"] == lena
    assert "family" in case["fields"] and "birth_date" in case["fields"]
    assert isinstance(case["score"], float) and case["why"]
    table = topics.hub("linkage", "pending").stdout
    assert lina in table and "waiting" in table.splitlines()[-1]
    assert family not in table and "Lina" not in table

    result = topics.hub("linkage", "reject", lina, lena)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(
        f"rejected: {lina} stays a child of its own; the pair is never proposed again")
    assert not any(c["pseudonym"] == lina for c in pending())
    again = topics.hub("linkage", "reject", lina, lina)
    assert again.returncode == 1 and "the same" in again.stderr

    def audited():
        result = topics.hub("audit", "--subject", lina, "--json", "--timeout", "1")
        records = [json.loads(line) for line in result.stdout.splitlines()]
        return [r for r in records if r["reason_kind"] == "link_rejected"]

    (record,) = wait_for(audited, 60, "the audit record of the rejection", interval=1)
    assert (record["decision"], record["type"], record["sender"]) == (
        "linkage", "linkage.decision", "hub")
    assert record["requested_by"] == getpass.getuser()
    assert record["reason_params"]["by"] == getpass.getuser()
    assert record["reason_params"]["candidate"] == lena
    possible = topics.hub("audit", "--subject", lina, "--timeout", "1").stdout
    assert "possible match with child" in possible and family not in possible

    # a later confirm decides otherwise, and unlink undoes it, each audited
    result = topics.hub("linkage", "confirm", lina, lena)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"linked: {lina} is now the child {lena}")
    result = topics.hub("linkage", "unlink", lina, "--timeout", "1")
    assert result.returncode == 0, result.stderr
    assert f"unlinked: {lina} is a child of its own" in result.stdout
    assert f"events decided for the child {lena} since the link" in result.stdout
    assert family not in result.stdout

    def kinds():
        result = topics.hub("audit", "--subject", lina, "--json", "--timeout", "1")
        found = {json.loads(line)["reason_kind"] for line in result.stdout.splitlines()}
        return found if {"link_confirmed", "link_undone"} <= found else None

    assert wait_for(kinds, 60, "the audit records of the confirm and the unlink",
                    interval=1) >= {"possible_match", "link_rejected"}
