"""Bounces and ping-pong judged incrementally on a family's window give the flags of the
whole-family judgement (``family_flags``, the specification), in any arrival order, and the
window forgets what can no longer change a flag."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from hub.handover.machine import DECLINED, Deadlines, Handover, family_flags
from hub.handover.tracker import HandoverTracker
from hub.handover.window import FamilyWindow, micros
from tests.handover.flow import handover, subject_of

T0 = datetime(2022, 1, 3, tzinfo=UTC)
AGENCIES = ("kita-kamen-regenbogen", "grundschule-kamen-mitte", "jugendamt-kamen",
            "jobcenter-kreis-unna")
KITA, SCHOOL, YOUTH, JOBS = AGENCIES
SUBJECT = "ab" * 32


def random_family(rng: random.Random, n: int, span_days: float, agencies=AGENCIES,
                  none_recipients: bool = False) -> list[Handover]:
    """``n`` handovers requested within ``span_days`` (whole days: ties happen), some
    declined (now and then with a decline time before the request), some accepted."""
    family = []
    for i in range(n):
        requester, recipient = rng.sample(agencies, 2)
        if none_recipients and rng.random() < 0.05:
            recipient = None
        at = T0 + timedelta(days=rng.randrange(int(span_days)))
        roll = rng.random()
        answer = "declined" if roll < 0.4 else "accepted" if roll < 0.8 else None
        answered = at + timedelta(days=rng.randrange(-2, 20)) if answer else None
        family.append(Handover(f"H{i:03d}", SUBJECT, "uebergang_kita_schule", "kamen",
                               requester, recipient, at, answer, answered))
    return family


def arrivals(family: list[Handover]) -> list[tuple[datetime, str, Handover]]:
    """The family's requests and answers, each at its own time."""
    steps = [(h.requested_at, "requested", h) for h in family]
    steps += [(h.answered_at, h.answer, h) for h in family if h.answer]
    return sorted(steps, key=lambda s: (s[0], s[1] != "requested", s[2].handover_id))


def feed(steps, slack: timedelta = timedelta(days=10_000), now=None):
    """The window's flags after ``steps`` (arrival order), with pruning after each."""
    window = FamilyWindow(None, slack)
    flags: dict[str, list[bool]] = {}
    requested: set[str] = set()
    answered: dict[str, Handover] = {}
    largest = 0
    for _at, kind, h in steps:
        if kind == "requested":
            requested.add(h.handover_id)
            seen = answered.get(h.handover_id)
            declined = micros(seen.answered_at) if seen and seen.answer == DECLINED else None
            changes = window.add_request(h.handover_id, h.requester, h.recipient,
                                         micros(h.requested_at), declined)
        else:
            answered[h.handover_id] = h
            changes = {} if kind != DECLINED or h.handover_id not in requested else \
                window.add_decline(h.handover_id, h.requester, h.recipient,
                                   micros(h.requested_at), micros(h.answered_at),
                                   flags.get(h.handover_id, [False])[0])
        for hid, (bounce, ping_pong) in changes.items():
            old = flags.setdefault(hid, [False, False])
            assert not (old[1] and ping_pong is False), "ping-pong never ends"
            old[0] = old[0] if bounce is None else bounce
            old[1] = old[1] if ping_pong is None else ping_pong
        window.prune(now)
        largest = max(largest, window.size())
    return {hid: tuple(f) for hid, f in flags.items()}, window, largest


@pytest.mark.parametrize("seed", range(60))
def test_any_arrival_order_gives_the_flags_of_the_whole_family_judgement(seed):
    rng = random.Random(seed)
    family = random_family(rng, rng.randrange(2, 40), span_days=rng.choice([10, 60, 200]),
                           agencies=AGENCIES[:rng.choice([2, 3, 4])], none_recipients=True)
    steps = arrivals(family)
    rng.shuffle(steps)
    flags, _, _ = feed(steps)
    assert flags == family_flags(family)


@pytest.mark.parametrize("seed", range(30))
def test_a_long_history_gives_the_same_flags_with_a_small_window(seed):
    """Years of handovers, each step arriving up to the slack late (other outboxes): the
    window stays small, and the flags are those of the whole family."""
    rng = random.Random(1000 + seed)
    slack = timedelta(days=rng.choice([1, 5, 20]))
    family = random_family(rng, 300, span_days=5 * 365, agencies=AGENCIES[:rng.choice([2, 4])])
    steps = sorted(arrivals(family), key=lambda s: s[0] + slack * rng.random())
    flags, window, largest = feed(steps, slack, now=micros(T0 + timedelta(days=5 * 365)))
    assert flags == family_flags(family)
    assert largest < 60  # about 300 handovers over five years: 90 days + the slack held


def test_a_late_request_takes_the_bounce_over():
    """A bounce is the first request after a decline: one arriving late, but requested
    before the request flagged so far, is the bounce now, and the other is not."""
    at = micros(T0)
    day = micros(T0 + timedelta(days=1)) - at
    window = FamilyWindow()
    window.add_request("D", KITA, SCHOOL, at)
    window.add_decline("D", KITA, SCHOOL, at, at + day)
    assert window.add_request("B", KITA, YOUTH, at + 5 * day) == {"B": [True, False]}
    changes = window.add_request("L", KITA, JOBS, at + 3 * day)
    assert changes == {"L": [True, False], "B": [False, None]}
    # a request to the agency that declined is no bounce, but it is an ask after it
    window = FamilyWindow()
    window.add_request("D", KITA, SCHOOL, at)
    window.add_decline("D", KITA, SCHOOL, at, at + day)
    window.add_request("B", KITA, YOUTH, at + 5 * day)
    assert window.add_request("S", KITA, SCHOOL, at + 3 * day) == \
        {"S": [False, False], "B": [False, None]}


def test_ping_pong_of_later_requests_follows_an_earlier_one_arriving_late():
    at, day = micros(T0), 86_400_000_000
    window = FamilyWindow()
    assert window.add_request("P1", KITA, SCHOOL, at + 10 * day)["P1"] == [False, False]
    assert window.add_request("P2", SCHOOL, KITA, at + 50 * day)["P2"] == [False, False]
    # requested before both: P2 has two earlier ones of the pair within 90 days now
    assert window.add_request("P0", KITA, SCHOOL, at) == {"P0": [False, False],
                                                          "P2": [None, True]}
    # 91 days after P0 and 81 after P1: only P1 and P2 count; still three
    assert window.add_request("P3", KITA, SCHOOL, at + 91 * day)["P3"] == [False, True]


def test_the_pruning_horizon():
    """Kept: requests from the horizon (min(now, newest request) - 90 days - slack) on,
    and declines whose requester did not ask again since (or asked after the horizon
    only). Gone: everything else; a late decline brings its handover back."""
    day = timedelta(days=1)
    slack = 2 * day
    window = FamilyWindow(None, slack)
    window.add_request("OPEN", KITA, SCHOOL, micros(T0))
    window.add_request("ACC", KITA, SCHOOL, micros(T0 + day))
    window.add_request("DEC-ASKED", YOUTH, SCHOOL, micros(T0 + 2 * day))
    window.add_decline("DEC-ASKED", YOUTH, SCHOOL, micros(T0 + 2 * day), micros(T0 + 3 * day))
    window.add_request("NEXT", YOUTH, JOBS, micros(T0 + 4 * day))  # its bounce
    window.add_request("DEC-WAITS", JOBS, SCHOOL, micros(T0 + 5 * day))
    window.add_decline("DEC-WAITS", JOBS, SCHOOL, micros(T0 + 5 * day), micros(T0 + 6 * day))
    newest = T0 + 400 * day
    window.add_request("NEW", SCHOOL, KITA, micros(newest))
    window.prune(micros(newest + 30 * day))  # the newest request before the hub clock
    assert set(window.flags()) == {"DEC-WAITS", "NEW"}
    assert list(window.state["pairs"].values()) == [[[micros(newest), "NEW", False]]]
    # the open one, declined at last: back, and the day-care centre's next ask bounces
    assert window.add_decline("OPEN", KITA, SCHOOL, micros(T0), micros(newest - day)) == {}
    assert window.add_request("AGAIN", KITA, YOUTH, micros(newest + day))["AGAIN"] == \
        [True, False]
    window.prune(micros(newest + 30 * day))
    assert set(window.flags()) == {"OPEN", "DEC-WAITS", "NEW", "AGAIN"}

    # the hub clock before the newest request (a request dated in the future) bounds it
    window = FamilyWindow(None, slack)
    window.add_request("A", KITA, SCHOOL, micros(T0))
    window.add_request("B", KITA, SCHOOL, micros(T0 + 400 * day))
    window.prune(micros(T0 + 92 * day))
    assert set(window.flags()) == {"A", "B"}
    window.prune(micros(T0 + 92 * day) + 1)
    assert set(window.flags()) == {"B"}

    # the decline waits for its next ask; once that is past the horizon, it goes too
    window = FamilyWindow(None, slack)
    window.add_request("D", KITA, SCHOOL, micros(T0))
    window.add_decline("D", KITA, SCHOOL, micros(T0), micros(T0 + day))
    window.add_request("X", YOUTH, SCHOOL, micros(T0 + 300 * day))
    window.prune(None)
    assert set(window.flags()) == {"D", "X"}
    assert window.add_request("E", KITA, YOUTH, micros(T0 + 301 * day))["E"] == [True, False]
    window.add_request("Y", YOUTH, SCHOOL, micros(T0 + 301 * day + 92 * day) + 1)
    window.prune(None)
    assert set(window.flags()) == {"Y"}


def test_the_state_is_plain_json():
    import json

    rng = random.Random(5)
    steps = arrivals(random_family(rng, 40, span_days=300, none_recipients=True))
    _, window, _ = feed(steps, timedelta(days=3))
    assert json.loads(json.dumps(window.state)) == window.state


class TrackerHarness:
    def __init__(self, slack: timedelta = timedelta(hours=24)):
        self.families: dict = {}
        self.handovers: dict = {}
        self.tracker = HandoverTracker(self.handovers, self.families,
                                       Deadlines.from_config(None), slack)

    def send(self, *envelopes):
        for e in envelopes:
            self.tracker.observe(e, 0, now=datetime(2030, 1, 1, tzinfo=UTC))

    def stored_flags(self):
        family = [Handover.from_json(raw) for raw in self.handovers.values()]
        return ({h.handover_id: (h.bounce, h.ping_pong) for h in family if h.requested_at},
                family_flags(family))


@pytest.mark.parametrize("seed", range(8))
def test_the_tracker_stores_the_flags_of_the_whole_family(seed):
    rng = random.Random(seed)
    child = subject_of(f"window-{seed}")
    family = random_family(rng, 25, span_days=120)
    events = []
    for at, kind, h in arrivals(family):
        sender = h.requester if kind == "requested" else h.recipient
        events.append(handover(kind, sender, child, h.handover_id, at,
                               recipient=h.recipient if kind == "requested" else None))
    rng.shuffle(events)
    run = TrackerHarness(slack=timedelta(days=120))  # any arrival order is in time
    run.send(*events)
    stored, expected = run.stored_flags()
    assert stored == expected
    assert len(run.families[child]["pairs"])  # the new shape


def test_a_family_in_the_former_shape_is_rebuilt_from_the_handovers():
    child = subject_of("former")
    run = TrackerHarness()
    at = T0
    run.send(handover("requested", KITA, child, "F1", at, SCHOOL),
             handover("declined", SCHOOL, child, "F1", at + timedelta(days=1)),
             handover("requested", KITA, child, "F2", at + timedelta(days=3), YOUTH))
    run.families[child] = ["F1", "F2"]  # as the tracker stored families before
    run.send(handover("requested", YOUTH, child, "F3", at + timedelta(days=4), KITA),
             handover("requested", KITA, child, "F4", at + timedelta(days=5), YOUTH))
    stored, expected = run.stored_flags()
    assert stored == expected == {"F1": (False, False), "F2": (True, False),
                                  "F3": (False, False), "F4": (False, True)}
    assert isinstance(run.families[child], dict)


def test_the_tracker_keeps_a_small_window_over_years_and_the_same_flags():
    rng = random.Random(77)
    child = subject_of("years")
    family = random_family(rng, 200, span_days=4 * 365)
    steps = sorted(arrivals(family), key=lambda s: s[0] + timedelta(hours=23) * rng.random())
    run = TrackerHarness()  # the slack: a day
    largest = 0
    for at, kind, h in steps:
        sender = h.requester if kind == "requested" else h.recipient
        run.send(handover(kind, sender, child, h.handover_id, at,
                          recipient=h.recipient if kind == "requested" else None))
        largest = max(largest, run.tracker.window(child).size())
    stored, expected = run.stored_flags()
    assert stored == expected
    assert largest < 30
