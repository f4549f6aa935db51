"""The flow guard: the worker's watch over Faust's flow control, which can leave a stream
stalled with lag left (see :class:`FlowGuard` and the package doc, :mod:`hub.faust`)."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from faust.types import TP

from hub.core.topics import is_router_input
from hub.faust.patches import GAPS
from hub.metrics import READ_AGAIN

log = logging.getLogger(__name__)


class RouterProgress(Protocol):
    """What the guard reads of the router (:class:`hub.routing.runtime.RouterRuntime`)."""

    seen: dict[tuple[str, int], int]
    """(topic, partition) -> the highest offset of a batch the router has finished."""
    in_batch: bool
    """The router is working on a batch."""
    last_batch: float
    """When (``time.monotonic()``) the router finished its last batch."""


class FlowGuard:
    """Work around two Faust flow-control flaws that stall a stream with lag left.

    1. When a stream's buffer fills up (a backlog after a restart), Faust stops fetching
       from the partitions that filled it and does not always fetch from them again once
       the buffer has drained. A partition left paused for more than ``every`` seconds is
       fetched from again; if its buffer is still full, Faust pauses it again.
    2. When the consumer group rebalances while Faust hands records to a stream (a worker
       that was killed leaves the group late), Faust can drop a record it has counted as
       read, so its offset is never acknowledged and the commit stops there, or drop the
       rest of a fetched batch that the Kafka client has moved past, so the stream never
       gets it. Either way the partition's commit stops at the missing record
       (:mod:`hub.faust.patches` keeps Faust from committing over it). A partition whose
       commit stood still for ``stalled_after`` seconds while records are left is read
       again from its committed offset. Nothing is lost, and nothing is delivered twice
       (the router knows what each inbox holds; handover steps and analytics facts that
       are seen again change nothing).

    A partition that is only slow looks much the same from the offsets alone, and reading
    it again would only add work; the guard reads a partition again only when it is stuck:

    - the router finished a batch with a record of it at or after the standing commit: the
      record at the commit never reached the router (a hole), however busy the worker is;
    - otherwise a read position that moved since the last check is progress;
    - records handed to a stream and not yet acknowledged (read beyond the commit) are
      being worked on: stuck only when the router has had nothing to do for ``every``
      seconds, not while it works on a long batch (for the router's topics; another
      agent's, e.g. the analytics', are left alone);
    - nothing handed to a stream (read not beyond the commit) while records wait at the
      broker, for ``stalled_after`` seconds: the fetcher does not fetch it.

    A partition is read again in two steps, never while records of it are on their way to
    the stream: it is paused first (Faust fetches nothing more for it), and once its read
    position stood still for ``every`` seconds (what was fetched before has reached the
    stream) it is moved back to its committed offset through Faust's own consumer thread
    (``seek_wait``, which also resets Faust's read offset) and resumed. Seeking at once would
    race with a fetched batch still on its way: its later records arrive after the seek and
    move Faust's read offset past the records read again, which Faust then drops as old, so
    the record at the commit never comes and the partition is read again and again.
    Whatever goes wrong in a check is logged, and the next check runs as usual.
    """

    def __init__(self, app, every: float = 5.0, stalled_after: float = 15.0,
                 runtime: RouterProgress | None = None):
        self.app = app
        self.runtime = runtime
        self.every = every
        self.stalled_after = stalled_after
        self.paused_since: dict = {}
        self.unchanged: dict = {}  # tp -> ((committed, read, end) when first seen so, since)
        self.last_read: dict = {}  # tp -> the read offset at the last check
        self.rereading: dict = {}  # tp -> (offset to read again from, read offset, since)

    async def check(self) -> None:
        try:
            await self._check()
        except Exception:  # never take the worker down; the next check looks again
            log.exception("the flow guard's check failed; it runs again in %.0f s",
                          self.every)

    async def _check(self) -> None:
        consumer = self.app.consumer
        now = time.monotonic()
        await self._finish_rereads(consumer, now)
        paused = set(consumer._buffered_partitions) - set(self.rereading)
        for tp in list(self.paused_since):
            if tp not in paused:
                del self.paused_since[tp]
        stuck = [tp for tp in paused
                 if now - self.paused_since.setdefault(tp, now) > self.every]
        if stuck:
            log.warning("fetching again from %s partitions Faust left paused", len(stuck))
            for tp in stuck:
                consumer.on_buffer_drop(as_tp(tp))
                self.paused_since.pop(tp, None)

        committed, read = consumer._committed_offset, consumer._read_offset
        self._reread_gaps(consumer, committed, read, now)
        tps = [tp for tp in consumer.assignment()
               if not tp.topic.endswith("-changelog") and tp not in paused
               and tp not in self.rereading]
        try:
            ends = await consumer.highwaters(*tps) if tps else {}
        except Exception as exc:  # a broker hiccup: look again next time
            log.debug("end offsets not read: %s", exc)
            return
        for tp in list(self.unchanged):
            if tp not in tps:
                del self.unchanged[tp]
                self.last_read.pop(tp, None)
        for tp in tps:
            offsets = (committed.get(tp), read.get(tp), ends.get(tp))
            read_moved = self.last_read.get(tp, offsets[1]) != offsets[1]
            self.last_read[tp] = offsets[1]
            before, since = self.unchanged.get(tp, (None, now))
            if not stalled_partition(before, offsets):
                self.unchanged[tp] = (offsets, now)
                continue
            if now - since < self.stalled_after or \
                    not self._stuck(tp, offsets[0], offsets[1], read_moved, now):
                continue
            done, _read, end = offsets
            log.warning("%s[%s]: the commit has stood at %s for %.0f s with records up to "
                        "%s left; reading them again", tp.topic, tp.partition, done or 0,
                        now - since, end - 1)
            READ_AGAIN.labels(topic=tp.topic, cause="stalled_commit").inc()
            self._begin_reread(consumer, tp, done, offsets[1], now)

    def _reread_gaps(self, consumer, committed, read, now: float) -> None:
        """Records Faust skipped on a gapless topic (:data:`hub.faust.patches.GAPS`): the
        partition is read again from its commit at once, without waiting for the commit
        to stand still."""
        assigned = consumer.assignment()
        for tp in list(GAPS):
            first, end = GAPS.pop(tp)
            if tp not in assigned or tp in self.rereading:
                continue
            done = committed.get(tp)
            if done is not None and done >= end:
                continue  # read again already, and committed past it
            log.info("%s[%s]: reading again from %s (records from %s did not reach the "
                     "stream)", tp.topic, tp.partition, done or 0, first)
            self._begin_reread(consumer, tp, done, read.get(tp), now)

    def _begin_reread(self, consumer, tp, done: int | None, read: int | None,
                      now: float) -> None:
        """The first step of reading ``tp`` again from ``done``: pause it (nothing more is
        fetched); :meth:`_finish_rereads` seeks once what was fetched before has come."""
        self.unchanged.pop(tp, None)
        consumer.on_buffer_full(as_tp(tp))
        self.rereading[tp] = (done, read, now)

    async def _finish_rereads(self, consumer, now: float) -> None:
        """Seek the paused partitions whose read position stood still for ``every``
        seconds back to their commit, and fetch from them again."""
        assigned = consumer.assignment()
        for tp, (done, read_then, since) in list(self.rereading.items()):
            if tp not in assigned:
                del self.rereading[tp]
                continue
            read_now = consumer._read_offset.get(tp)
            if read_now != read_then:  # fetched records still arriving at the stream
                self.rereading[tp] = (done, read_now, now)
                continue
            if now - since < self.every:
                continue
            del self.rereading[tp]
            if done is None:  # back to what the group committed, for every partition
                await consumer.perform_seek()
            else:  # in the consumer's own thread, like Faust's own seeks
                await consumer.seek_wait({tp: done})
            consumer.on_buffer_drop(as_tp(tp))

    def _stuck(self, tp, committed: int | None, read: int | None, read_moved: bool,
               now: float) -> bool:
        """Not merely slow (see the class doc)."""
        runtime = self.runtime
        key = (tp.topic, tp.partition)
        if runtime is not None and committed is not None and \
                runtime.seen.get(key, -1) >= committed:
            return True  # the router finished a later record: this one never came
        if read_moved:
            return False
        if read is not None and read >= (committed or 0):  # handed over, being worked on
            if runtime is None:
                return True
            routed = is_router_input(tp.topic)
            idle = not runtime.in_batch and now - runtime.last_batch >= self.every
            return routed and idle
        return True


def as_tp(tp):
    """Faust's own TP for ``tp``: its consumer asserts that type in the sets the guard
    changes (a Kafka client's TopicPartition there would crash the fetcher)."""
    return tp if type(tp) is TP else TP(tp.topic, tp.partition)


def stalled_partition(before: tuple | None, now: tuple) -> bool:
    """A partition with records left whose commit stands still: ``now`` and ``before``
    are (committed, read, end) offsets one check apart; ``committed`` (the next offset to
    process; None: nothing committed since the worker took the partition over) is behind
    ``end`` and did not move since the last check (while nothing is committed, nothing
    was read either)."""
    committed, read, end = now
    if before is None or end is None or end <= (committed or 0):
        return False
    if committed is None:
        return read is None and before[1] is None
    return before[0] == committed
