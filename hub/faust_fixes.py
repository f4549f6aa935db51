"""Two fixes to Faust's offset bookkeeping (faust-streaming 0.15.3), so that a record Faust
drops on its way to a stream can never be committed over.

Faust commits, per partition, the offsets its streams have acknowledged, up to the first
one missing. Two shortcuts let the commit pass a record that was never processed:

- a jump in the offsets Faust reads (a "gap") is taken for records that compaction or
  transaction markers removed, and counted as acknowledged. On a topic that is neither
  compacted nor written in transactions (the agency outboxes, the tick topic), a gap can
  only be records that Faust dropped during a rebalance: they must be read again, not
  skipped;
- the check whether the first acknowledged offset follows the committed one lets one
  offset pass (the committed offset is the next one to process; on a compacted topic
  that record may be gone), so on the gapless topics a single missing record right at
  the committed offset is skipped.

With these fixes the commit stops at a missing record; the worker's flow guard
(:func:`hub.routing.agent.register_flow_guard`) sees the partition's commit stand still
and reads it again from there. Nothing is lost, and the router's knowledge of each inbox
keeps anything from being delivered twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from faust.transport.consumer import Consumer

log = logging.getLogger(__name__)

_original_add_gap = Consumer._add_gap
_original_new_offset = Consumer._new_offset
_gapless: Callable[[str], bool] = lambda topic: False  # noqa: E731 (set by apply)


def first_uncommitted_missing(acked: list[int], committed: int | None) -> bool:
    """The record at ``committed`` (the next offset to process) is not acknowledged, so
    nothing may be committed yet."""
    return bool(acked) and committed is not None and min(acked) > committed


async def _add_gap(self, tp, offset_from: int, offset_to: int) -> None:
    if _gapless(tp.topic):
        from hub.metrics import READ_AGAIN

        READ_AGAIN.labels(topic=tp.topic, cause="gap").inc()
        log.warning("%s[%s]: records %s to %s did not reach the stream; they are read again",
                    tp.topic, tp.partition, offset_from, offset_to - 1)
        return
    await _original_add_gap(self, tp, offset_from, offset_to)


def _new_offset(self, tp):
    if _gapless(tp.topic) and first_uncommitted_missing(self._acked[tp],
                                                        self._committed_offset[tp]):
        return None
    return _original_new_offset(self, tp)


def apply(is_gapless: Callable[[str], bool]) -> None:
    """Install the fixes; ``is_gapless(topic)``: the topic's offsets have no holes (not
    compacted, no transactions), so a gap in what Faust reads is dropped records. Calling
    it again replaces the predicate."""
    global _gapless
    _gapless = is_gapless
    Consumer._add_gap = _add_gap
    Consumer._new_offset = _new_offset
