"""The handover state machine: steps, anomalies, deadlines, bounces and ping-pong."""

from datetime import UTC, datetime, timedelta

import pytest

from hub.handover.machine import (
    ANSWER,
    COMPLETION,
    Deadlines,
    Handover,
    Step,
    apply_step,
    due_stalls,
    is_bounce,
    is_ping_pong,
    mark_stalled,
)

T0 = datetime(2026, 9, 16, tzinfo=UTC)
DEADLINES = Deadlines.from_config(None)


def step(kind, sender, at=T0, handover_id="UE-1", recipient=None):
    return Step(handover_id, kind, sender, "ab" * 32, "uebergang_kita_schule", "kamen", at,
                recipient)


def run(*steps):
    state, anomalies = None, []
    for s in steps:
        outcome = apply_step(state, s)
        state = outcome.handover
        anomalies += [a.reason for a in outcome.anomalies]
    return state, anomalies


def test_the_regular_path():
    h, anomalies = run(
        step("requested", "jugendamt-kamen", recipient="grundschule-kamen-mitte"),
        step("accepted", "grundschule-kamen-mitte", T0 + timedelta(days=5)),
        step("completed", "grundschule-kamen-mitte", T0 + timedelta(days=30)))
    assert h.state == "completed" and not anomalies
    assert h.answered_at == T0 + timedelta(days=5)


@pytest.mark.parametrize(("steps", "expected"), [
    ([step("accepted", "grundschule-kamen-mitte")],
     "accepted before the handover was requested"),
    ([step("requested", "jugendamt-kamen", recipient="grundschule-kamen-mitte"),
      step("accepted", "kita-kamen-regenbogen")],
     "accepted by kita-kamen-regenbogen, but grundschule-kamen-mitte was asked"),
    ([step("requested", "jugendamt-kamen", recipient="grundschule-kamen-mitte"),
      step("accepted", "grundschule-kamen-mitte"),
      step("completed", "grundschule-kamen-mitte"),
      step("completed", "grundschule-kamen-mitte", T0 + timedelta(days=1))], "completed twice"),
    ([step("requested", "jugendamt-kamen", recipient="grundschule-kamen-mitte"),
      step("declined", "grundschule-kamen-mitte"),
      step("accepted", "grundschule-kamen-mitte")], "accepted after it was already declined"),
    ([step("requested", "jugendamt-kamen", recipient="grundschule-kamen-mitte"),
      step("completed", "grundschule-kamen-mitte")], "completed without being accepted"),
])
def test_impossible_steps_are_anomalies_not_errors(steps, expected):
    _, anomalies = run(*steps)
    assert expected in anomalies


def test_an_answer_before_its_request_is_kept_and_the_request_noted():
    h, anomalies = run(step("accepted", "grundschule-kamen-mitte"),
                       step("requested", "jugendamt-kamen", recipient="grundschule-kamen-mitte"))
    assert h.answer == "accepted" and h.requester == "jugendamt-kamen"
    assert "request arrived after the accepted step" in anomalies


def test_deadlines_stall_once_per_step():
    h, _ = run(step("requested", "jugendamt-kamen", recipient="grundschule-kamen-mitte"))
    assert due_stalls(h, DEADLINES, T0 + timedelta(days=14)) == []
    (stall,) = due_stalls(h, DEADLINES, T0 + timedelta(days=15))
    assert (stall.waiting_for, stall.deadline) == (ANSWER, T0 + timedelta(days=14))
    h = mark_stalled(h, [stall])
    assert due_stalls(h, DEADLINES, T0 + timedelta(days=20)) == []
    h = apply_step(h, step("accepted", "grundschule-kamen-mitte",
                           T0 + timedelta(days=21))).handover
    (late,) = due_stalls(h, DEADLINES, T0 + timedelta(days=91))
    assert late.waiting_for == COMPLETION


def test_deadlines_per_purpose_from_the_routing_table():
    table = Deadlines.from_config({"default": {"answer_days": 10},
                                   "fruehe_hilfen": {"answer_days": 3}})
    assert table["fruehe_hilfen"].answer == timedelta(days=3)
    assert table["fruehe_hilfen"].completion == timedelta(days=90)
    assert table["default"].answer == timedelta(days=10)


def test_bounce_and_ping_pong():
    declined, _ = run(step("requested", "jugendamt-kamen", recipient="grundschule-kamen-mitte"),
                      step("declined", "grundschule-kamen-mitte", T0 + timedelta(days=2)))
    again = step("requested", "jugendamt-kamen", T0 + timedelta(days=3), "UE-2",
                 recipient="kita-kamen-regenbogen")
    assert is_bounce([declined], again)
    bounced, _ = run(again)
    later = step("requested", "jugendamt-kamen", T0 + timedelta(days=9), "UE-4",
                 recipient="jobcenter-kreis-unna")
    assert not is_bounce([declined, bounced], later)  # one decline bounces once
    assert not is_bounce([declined], step("requested", "jugendamt-kamen", handover_id="UE-3",
                                          recipient="grundschule-kamen-mitte"))
    history = []
    for n, (a, b) in enumerate([("jugendamt-kamen", "grundschule-kamen-mitte"),
                                ("grundschule-kamen-mitte", "jugendamt-kamen")]):
        h, _ = run(step("requested", a, T0 + timedelta(days=10 * n), f"P-{n}", recipient=b))
        history.append(h)
    third = step("requested", "jugendamt-kamen", T0 + timedelta(days=30), "P-2",
                 recipient="grundschule-kamen-mitte")
    assert is_ping_pong(history, third)
    assert not is_ping_pong(history[:1], third)
    late = step("requested", "jugendamt-kamen", T0 + timedelta(days=200), "P-3",
                recipient="grundschule-kamen-mitte")
    assert not is_ping_pong(history, late)


def test_state_survives_a_json_round_trip():
    h, _ = run(step("requested", "jugendamt-kamen", recipient="grundschule-kamen-mitte"),
               step("accepted", "grundschule-kamen-mitte", T0 + timedelta(days=1)))
    h = mark_stalled(h, due_stalls(h, DEADLINES, T0 + timedelta(days=100)))
    assert Handover.from_json(h.to_json()) == h


def test_a_re_sent_step_is_not_an_anomaly():
    request = step("requested", "jugendamt-kamen", recipient="grundschule-kamen-mitte")
    accept = step("accepted", "grundschule-kamen-mitte", T0 + timedelta(days=2))
    h, anomalies = run(request, accept, request, accept)
    assert not anomalies and h.answered_at == T0 + timedelta(days=2)
    _, anomalies = run(request, accept, step("accepted", "grundschule-kamen-mitte",
                                             T0 + timedelta(days=3)))
    assert anomalies == ["accepted after it was already accepted"]


def test_a_changed_handover_is_a_new_one_with_only_those_fields_changed():
    from dataclasses import replace

    h = Handover("UE-1", "ab" * 32, "uebergang_kita_schule", "kamen", requester="kita",
                 requested_at=T0, stalled=("answer",))
    changed = h.but(answer="declined", answered_at=T0 + timedelta(days=2), bounce=True)
    assert changed == replace(h, answer="declined", answered_at=T0 + timedelta(days=2),
                              bounce=True)
    assert h.answer is None and not h.bounce  # the original stays as it was
    assert changed is not h and hash(changed) == hash(replace(changed))
    with pytest.raises(TypeError, match="no field answr"):
        h.but(answr="accepted")
