"""`hub linkage` without a broker: its input checks, what it refuses before sending, and
what it prints (pseudonyms, scores and field names only)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import hub.operator_views as views
from hub.cli import build_parser, main
from hub.commands import linkage
from hub.errors import HubError, InputError
from hub.linkage.records import Action, LinkDecision, Outcome

NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)
LENA, LINA, MIA, MIA2, TOM = ("a" * 64, "b" * 64, "c" * 64, "d" * 64, "e" * 64)


def decisions() -> dict[str, LinkDecision]:
    made = [
        LinkDecision(LENA, Outcome.NEW, LENA, NOW - timedelta(days=9)),
        LinkDecision(MIA, Outcome.NEW, MIA, NOW - timedelta(days=9)),
        LinkDecision(LINA, Outcome.POSSIBLE, LINA, NOW - timedelta(days=4), LENA, 15.31,
                     ("family", "birth_date", "given:similar"),
                     "only the given name differs"),
        LinkDecision(MIA2, Outcome.SAME, MIA, NOW - timedelta(days=2), MIA, 17.5,
                     ("given", "family:phonetic", "birth_date"), "linked"),
        LinkDecision(TOM, Outcome.POSSIBLE, TOM, NOW - timedelta(days=1), MIA, 14.2,
                     ("birth_date",), "within the margin of another child"),
    ]
    return {d.pseudonym: d for d in made}


# ------------------------------------------------------------------ checks
@pytest.mark.parametrize("value", ["Lena Schmidt", "A" * 64, "a" * 63, "a" * 65, "", "g" * 64])
def test_a_pseudonym_is_64_lowercase_hex_digits(value):
    with pytest.raises(InputError, match="64 lowercase hex digits"):
        linkage.check_pseudonym(value)


def test_a_pair_names_two_different_pseudonyms():
    assert linkage.check_pair(LINA, LENA) == (LINA, LENA)
    with pytest.raises(InputError, match="CANDIDATE 'x' is no pseudonym"):
        linkage.check_pair(LINA, "x")
    with pytest.raises(InputError, match="the same"):
        linkage.check_pair(LINA, LINA)


def test_a_review_needs_pseudonyms_the_hub_has_seen():
    known = decisions()
    linkage.check_review("confirm", LINA, LENA, known)
    linkage.check_review("reject", LINA, LENA, known)
    with pytest.raises(HubError, match=f"the hub has not seen {'f' * 64}"):
        linkage.check_review("confirm", "f" * 64, LENA, known)
    with pytest.raises(HubError, match=f"the hub has not seen {'f' * 64}"):
        linkage.check_review("reject", LINA, "f" * 64, known)
    with pytest.raises(HubError, match="is that child already"):
        linkage.check_review("confirm", MIA2, MIA, known)
    with pytest.raises(HubError, match="hub linkage unlink"):
        linkage.check_review("reject", MIA2, LENA, known)


def test_only_a_linked_pseudonym_can_be_unlinked():
    assert linkage.linked_child(MIA2, decisions()) == (MIA, NOW - timedelta(days=2))
    with pytest.raises(HubError, match="not linked to another child .it is possible match"):
        linkage.linked_child(LINA, decisions())
    with pytest.raises(HubError, match="has not seen"):
        linkage.linked_child("f" * 64, decisions())


# ------------------------------------------------------------------ output
def test_pending_lists_the_possible_matches_oldest_first_as_json():
    rows = linkage.pending_rows(decisions())
    assert [d.pseudonym for d in rows] == [LINA, TOM]
    first = json.loads(linkage.pending_json(rows[0]))
    assert first == {"pseudonym": LINA, "candidate": LENA, "score": 15.31,
                     "fields": ["family", "birth_date", "given:similar"],
                     "at": (NOW - timedelta(days=4)).isoformat(),
                     "why": "only the given name differs"}


def test_pending_as_a_table():
    lines = linkage.pending_table(linkage.pending_rows(decisions()))
    text = "\n".join(lines)
    assert lines[-1] == "2 possible matches waiting"
    assert f"  pseudonym  {LINA}" in text and f"  candidate  {LENA}" in text
    assert "score 15.31  agreeing: family, birth_date, given:similar" in text
    assert text.index(LINA) < text.index(TOM)
    assert linkage.pending_table([LinkDecision(LINA, Outcome.POSSIBLE, LINA, NOW)])[-1] == \
        "1 possible match waiting"
    assert linkage.pending_table([]) == ["no possible match waiting"]


def test_what_the_stage_decided_is_told():
    known = decisions()
    from dataclasses import replace

    confirmed = replace(known[LINA], outcome=Outcome.SAME, child=LENA, review=Action.CONFIRM)
    assert linkage.outcome_text(confirmed) == f"linked: {LINA} is now the child {LENA}"
    rejected = replace(known[LINA], outcome=Outcome.NEW, review=Action.REJECT)
    assert linkage.outcome_text(rejected) == (
        f"rejected: {LINA} stays a child of its own; the pair is never proposed again")
    unlinked = replace(known[MIA2], outcome=Outcome.NEW, child=MIA2, review=Action.UNLINK)
    assert linkage.outcome_text(unlinked).startswith(f"unlinked: {MIA2} is a child of its own")


def test_the_events_decided_while_the_link_stood():
    def record(hours, decision="delivered"):
        return {"time": (NOW + timedelta(hours=hours)).isoformat(), "decision": decision,
                "event_time": NOW.isoformat(), "event_time_precision": "instant",
                "type": "handover.requested", "sender": "jobcenter-unna",
                "recipient": "jugendamt-kamen", "consent_id": "EW-1", "reason": ""}
    records = [record(-1), record(1), record(2, "linkage"), record(30)]
    lines = linkage.routed_lines(records, NOW, NOW + timedelta(hours=24))
    assert len(lines) == 1 and "delivered  jugendamt-kamen under consent EW-1" in lines[0]


# ------------------------------------------------------------------ the commands
@pytest.fixture
def offline(monkeypatch, tmp_path):
    """The commands with the hub's topics replaced: nothing reaches a broker."""
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    monkeypatch.setenv("HUB_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setattr(views, "linkage_decisions", lambda bootstrap: decisions())
    sent = []

    def send_review(bootstrap, review, wait=60.0, progress=None):
        sent.append(review)
        if wait is None:
            return None
        decision = LinkDecision(review.pseudonym, Outcome.NEW, review.pseudonym, review.at,
                                review.candidate, by=review.by, review=review.action)
        return views.ReviewAnswer(decision=decision)

    monkeypatch.setattr(views, "send_review", send_review)
    return sent


def test_pending_prints_no_names(offline, capsys):
    assert main(["linkage", "pending", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["pseudonym"] for line in lines] == [LINA, TOM]


def test_reject_sends_a_review_with_the_operators_login(offline, capsys, monkeypatch):
    monkeypatch.setenv("LOGNAME", "anna")
    monkeypatch.setenv("USER", "anna")
    assert main(["linkage", "reject", LINA, LENA]) == 0
    (review,) = offline
    assert (review.action, review.pseudonym, review.candidate, review.by) == (
        Action.REJECT, LINA, LENA, "anna")
    assert capsys.readouterr().out.strip() == (
        f"rejected: {LINA} stays a child of its own; the pair is never proposed again")


def test_bad_input_is_refused_before_anything_is_sent(offline, capsys):
    assert main(["linkage", "confirm", "Lena Schmidt", LENA]) == 1
    assert main(["linkage", "confirm", "f" * 64, LENA]) == 1
    assert main(["linkage", "unlink", LINA]) == 1
    err = capsys.readouterr().err
    assert "is no pseudonym" in err and "the hub has not seen" in err
    assert "not linked to another child" in err and "Traceback" not in err
    assert offline == []


def test_no_wait_returns_after_sending(offline, capsys):
    assert main(["linkage", "confirm", "--no-wait", LINA, LENA]) == 0
    assert "confirm of" in capsys.readouterr().out and len(offline) == 1


def test_no_worker_in_time_is_exit_2(offline, monkeypatch, capsys):
    monkeypatch.setattr(views, "send_review", lambda *a, **k: None)
    assert main(["linkage", "confirm", "--wait", "1", LINA, LENA]) == 2
    assert "no worker carried out the confirm" in capsys.readouterr().err


def test_a_refused_review_is_an_error(offline, monkeypatch, capsys):
    monkeypatch.setattr(views, "send_review",
                        lambda *a, **k: views.ReviewAnswer(refusal="the hub knows no child"))
    assert main(["linkage", "confirm", LINA, LENA]) == 1
    assert "the linkage stage refused the confirm: the hub knows no child" in \
        capsys.readouterr().err


@pytest.mark.parametrize("action", ["pending", "confirm", "reject", "unlink"])
def test_every_subcommand_explains_itself(action, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["linkage", action, "--help"])
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out) > 300


def test_unlink_lists_what_was_decided_for_the_child_since_the_link(offline, monkeypatch,
                                                                   capsys):
    asked = []

    def history(bootstrap, subject, timeout=3.0):
        asked.append(subject)
        return [{"time": (NOW - timedelta(days=1)).isoformat(), "decision": "delivered",
                 "event_time": NOW.isoformat(), "event_time_precision": "instant",
                 "type": "offer.made", "sender": "jobcenter-unna",
                 "recipient": "jugendamt-kamen", "consent_id": "EW-7", "reason": ""}]

    monkeypatch.setattr(views, "family_history", history)
    assert main(["linkage", "unlink", MIA2]) == 0
    (review,) = offline
    assert (review.action, review.pseudonym, review.candidate) == (Action.UNLINK, MIA2, MIA)
    out = capsys.readouterr().out
    assert asked == [MIA]
    assert f"events decided for the child {MIA} since the link" in out
    assert "under consent EW-7" in out
