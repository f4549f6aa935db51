"""Bounces and ping-pong of one family, judged one handover at a time (pure, no Kafka).

:func:`hub.handover.machine.family_flags` is the specification: every requested handover
of a family, in the order of the request times (ties by handover id), is a *bounce* when an
earlier handover of the same requester was declined by another agency than the one it asks
now and the requester asked nobody since that decline, and *ping-pong* when at least two
earlier handovers between the same two agencies (either direction) were requested within
90 days before it. :class:`FamilyWindow` gives the same flags without judging the whole
family again on every request or decline: it keeps, per family, only what the rules still
need, as plain JSON data (the worker keeps it in a Faust table)::

    {"v": 2,
     "newest": <newest request time of the family>,
     "by": {requester: {"q": [[t, handover id, recipient, declined at | null, bounce], ...],
                        "d": [[declined at, t, handover id, recipient], ...],
                        "p": <newest request time that left "q"> | null}},
     "pairs": {"<agency>\\x1f<agency>": [[t, handover id, ping-pong], ...]}}

Times are integer microseconds since 1970 (UTC). ``q`` (the requester's handovers) and
the pair lists are sorted by (request time, handover id), ``d`` (the requester's declined
handovers) by the time of the decline. Looking a handover up is a binary search.

What the rules need (``d`` declined at ``a``, both by requester R):

* Ping-pong of a request at ``t``: the requests of its pair in ``[t - 90 days, t]``.
* A decline ``d`` bounces exactly one request: the first request by R after ``d`` in
  request-time order with a request time at or after ``a`` (*the next ask*), when it goes
  to another agency than ``d`` did. So the bounce of a request depends on the two requests
  of R just before it and on R's declines after those: O(log k) to judge.

Adding a request at the end (in order) judges that request only. A request that arrives
after later ones (out of order) also judges again the two next requests of its requester
(it may be their new *next ask*: their bounce can end) and the requests of its pair in the
90 days after it (ping-pong only ever becomes true when a handover is added; a bounce moves
to the request that really was the next ask). A decline judges again its next ask.

**Pruning horizon.** ``horizon = min(hub clock now, newest request of the family) - 90 days
- slack`` (the slack is the router's hold window). A handover requested before the horizon
leaves the window state (the flags stored with the handover stay as they are) unless it
was declined and its requester has not asked again since the decline (or only after the
horizon): such a decline may still bounce the next request, however late that comes. What
left only counts as an earlier request of its requester: ``p`` keeps the newest request
time that left. A decline of a handover that left the window brings it back (the next
ask after the decline is judged again). The pair lists keep the requests from the horizon
on.

So while every request and decline reaches the hub no more than the slack after the
family's newest request and the hub clock (in event time: ``time >= reference - slack``),
the flags are exactly those of :func:`family_flags`: a request's 90-day ping-pong look-back
and every decline that could bounce it are in the window. A step arriving later than that
is judged against what the window still holds (older handovers of its pair may have left).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from datetime import UTC, datetime, timedelta

PING_PONG_WINDOW = timedelta(days=90)
PING_PONG_TIMES = 3
VERSION = 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

# entry fields of "q" (requests by one requester)
T, ID, RECIPIENT, DECLINED_AT, BOUNCE = range(5)
# pair lists: [t, id, ping-pong]; declines "d": [declined at, t, id, recipient]
PING_PONG = 2


def micros(at: datetime) -> int:
    """``at`` as integer microseconds since 1970 (exact; naive means UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - _EPOCH) // _US


def pair_key(requester: str, recipient: str | None) -> str:
    """The two agencies of a handover, either direction."""
    a, b = sorted((requester, "\x00" if recipient is None else recipient))
    return f"{a}\x1f{b}"


def _key(entry: list) -> tuple:
    return entry[0], entry[1]


def _t(entry: list) -> int:
    return entry[0]


Changes = dict[str, list]
"""handover id -> [bounce, ping-pong], each None when unchanged."""


class FamilyWindow:
    """The flag state of one family (the dict is changed in place: store it afterwards)."""

    def __init__(self, state: dict | None = None, slack: timedelta = timedelta(hours=24),
                 window: timedelta = PING_PONG_WINDOW, times: int = PING_PONG_TIMES):
        self.state = state if state else {"v": VERSION, "newest": None, "by": {},
                                          "pairs": {}}
        self.slack = slack // _US
        self.window = window // _US
        self.times = times

    # ------------------------------------------------------------------ changes
    def add_request(self, handover_id: str, requester: str, recipient: str | None,
                    at: int, declined_at: int | None = None) -> Changes:
        """A handover was requested (``declined_at``: its decline came first). Returns the
        flags of the new handover, and those of others that changed."""
        state = self.state
        if state["newest"] is None or at > state["newest"]:
            state["newest"] = at
        mine = self._requester(requester)
        q, d = mine["q"], mine["d"]
        i = bisect_left(q, (at, handover_id), key=_key)
        if i < len(q) and q[i][ID] == handover_id:  # known already: nothing changes
            return {}
        q.insert(i, [at, handover_id, recipient, declined_at, False])
        changes: Changes = {handover_id: [False, False]}
        again = {i, i + 1, i + 2}  # the next two may lose their bounce to this one
        if declined_at is not None:
            insort(d, [declined_at, at, handover_id, recipient], key=_t)
            nxt = self._next_ask(q, declined_at, handover_id)
            if nxt is not None:
                again.add(nxt)
        for k in sorted(k for k in again if k < len(q)):
            self._judge_bounce(mine, k, changes, force=k == i)
        pairs = state["pairs"].setdefault(pair_key(requester, recipient), [])
        j = bisect_left(pairs, (at, handover_id), key=_key)
        pairs.insert(j, [at, handover_id, False])
        self._judge_ping_pong(pairs, j, changes, force=True)
        for k in range(j + 1, len(pairs)):  # later requests of the pair (out of order)
            if pairs[k][0] - at > self.window:
                break
            self._judge_ping_pong(pairs, k, changes)
        return changes

    def add_decline(self, handover_id: str, requester: str, recipient: str | None, at: int,
                    declined_at: int, bounce: bool = False) -> Changes:
        """A handover requested at ``at`` was declined at ``declined_at`` (``bounce``: its
        flag, in case it left the window and comes back)."""
        mine = self._requester(requester)
        q, d = mine["q"], mine["d"]
        i = bisect_left(q, (at, handover_id), key=_key)
        if i == len(q) or q[i][ID] != handover_id:  # it left the window: back it comes
            q.insert(i, [at, handover_id, recipient, None, bounce])
        elif q[i][DECLINED_AT] is not None:
            return {}  # known already
        q[i][DECLINED_AT] = declined_at
        insort(d, [declined_at, at, handover_id, recipient], key=_t)
        changes: Changes = {}
        nxt = self._next_ask(q, declined_at, handover_id)
        if nxt is not None:
            self._judge_bounce(mine, nxt, changes)
        return changes

    def prune(self, now: int | None) -> None:
        """Drop what can no longer change a flag (see the module's pruning horizon);
        ``now``: the hub clock (None: the family's newest request alone)."""
        state = self.state
        if state["newest"] is None:
            return
        reference = state["newest"] if now is None else min(now, state["newest"])
        horizon = reference - self.window - self.slack
        pairs = state["pairs"]
        for name in list(pairs):
            entries = pairs[name]
            if entries[0][0] < horizon:
                del entries[:bisect_left(entries, horizon, key=_t)]
                if not entries:
                    del pairs[name]
        for mine in state["by"].values():
            q = mine["q"]
            if not q or q[0][0] >= horizon:
                continue
            keep, dropped = [], set()
            pruned = mine["p"]
            for n, entry in enumerate(q):
                if entry[T] >= horizon:
                    keep += q[n:]
                    break
                declined_at = entry[DECLINED_AT]
                if declined_at is not None:
                    nxt = self._next_ask(q, declined_at, entry[ID])
                    asked = (mine["p"] is not None and mine["p"] >= declined_at) or (
                        nxt is not None and q[nxt][T] < horizon)
                    if not asked:
                        keep.append(entry)  # its next ask may still come
                        continue
                    dropped.add(entry[ID])
                pruned = entry[T] if pruned is None else max(pruned, entry[T])
            if len(keep) != len(q):
                mine["p"] = pruned
                q[:] = keep
                if dropped:
                    mine["d"] = [x for x in mine["d"] if x[2] not in dropped]

    # ------------------------------------------------------------------ reading
    def size(self) -> int:
        """Handovers held (for tests and benchmarks)."""
        return sum(len(mine["q"]) for mine in self.state["by"].values())

    def flags(self) -> dict[str, tuple[bool, bool]]:
        """``handover id -> (bounce, ping-pong)`` of what the window holds."""
        ping = {e[ID]: e[PING_PONG] for entries in self.state["pairs"].values()
                for e in entries}
        return {e[ID]: (e[BOUNCE], ping.get(e[ID], False))
                for mine in self.state["by"].values() for e in mine["q"]}

    # --------------------------------------------------------------- internals
    def _requester(self, requester: str) -> dict:
        by = self.state["by"]
        mine = by.get(requester)
        if mine is None:
            mine = by[requester] = {"q": [], "d": [], "p": None}
        return mine

    @staticmethod
    def _next_ask(q: list, declined_at: int, handover_id: str) -> int | None:
        """Index of the first request (other than the declined one) at or after the
        decline: the one request the decline can bounce."""
        k = bisect_left(q, declined_at, key=_t)
        if k < len(q) and q[k][ID] == handover_id:
            k += 1
        return k if k < len(q) else None

    def _judge_bounce(self, mine: dict, k: int, changes: Changes, force: bool = False
                      ) -> None:
        q, d, pruned = mine["q"], mine["d"], mine["p"]
        entry = q[k]
        at, handover_id, recipient = entry[T], entry[ID], entry[RECIPIENT]
        bounce = False
        if k > 0:
            # the latest requests of R before this one: a decline bounces this one when
            # none but itself was asked at or after the decline
            m1 = q[k - 1][T]
            m2 = q[k - 2][T] if k >= 2 else None
            if pruned is not None and pruned <= at:
                m1 = max(m1, pruned)
                m2 = pruned if m2 is None else max(m2, pruned)
            previous = q[k - 1][ID]
            n = 0 if m2 is None else bisect_right(d, m2, key=_t)
            while n < len(d) and d[n][0] <= at:
                declined_at, t, did, drec = d[n]
                n += 1
                if did == handover_id or drec == recipient or (t, did) >= (at, handover_id):
                    continue
                if did == previous or declined_at > m1:
                    bounce = True
                    break
        if force or bounce != entry[BOUNCE]:
            entry[BOUNCE] = bounce
            changes.setdefault(handover_id, [None, None])[0] = bounce

    def _judge_ping_pong(self, pairs: list, k: int, changes: Changes, force: bool = False
                         ) -> None:
        entry = pairs[k]
        if entry[PING_PONG] and not force:
            return  # ping-pong never ends: handovers only ever come in
        earlier = k - bisect_left(pairs, entry[0] - self.window, key=_t)
        ping_pong = entry[PING_PONG] or earlier + 1 >= self.times
        if force or ping_pong != entry[PING_PONG]:
            entry[PING_PONG] = ping_pong
            changes.setdefault(entry[ID], [None, None])[1] = ping_pong
