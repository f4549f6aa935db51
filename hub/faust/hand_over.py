"""Patch 8: a record reaches its stream without four asyncio tasks per record.

Faust's consumer hands each record it fetched to the streams in its loop
``Consumer._drain_messages``, one at a time, as::

    await self.wait_first(callback(message), self.suspend_flow.wait())

so that a hand-over that has to wait (a stream's buffer is full) gives way when a
rebalance suspends the flow. ``Service.wait_first`` makes a task of the hand-over, of the
flow's event, and of the consumer's stopped and crashed events, waits for the first, and
cancels the other three: about a tenth of a router worker's CPU, for hand-overs that
almost never wait.

:func:`wait_first` (installed as ``Consumer.wait_first``) recognises that one call, by the
code of its two coroutines, and first runs the hand-over as its task would, in a copy of
the context, up to where it waits. A hand-over that finishes without waiting (the usual
case) is done: no task, and the flow's coroutine is closed unstarted. One that waits goes
on in a task of its own (:func:`_resumed`) and is raced against the flow's event exactly
as before, by Faust's own ``wait_first``; so is every hand-over while the flow is
suspended, and every other call. :func:`check_hand_over` refuses a Faust whose loop does
not make that call (the start-up check).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect

from faust.transport.consumer import Consumer
from mode.services import Service, WaitResults

from hub.faust.checks import IncompatibleFaust

_faust_wait_first = Service.wait_first
_EVENT_WAIT = asyncio.Event.wait.__code__
HAND_OVER_CALL = "self.wait_first(callback(message), self.suspend_flow.wait())"
"""The call of Faust's ``Consumer._drain_messages`` this patch takes over."""

inline = [0]
"""Hand-overs finished without a task since the worker started (the patch at work)."""


def check_hand_over() -> None:
    """Refuse a Faust whose consumer loop hands records over otherwise."""
    source = "".join(inspect.getsource(Consumer._drain_messages).split())
    if "".join(HAND_OVER_CALL.split()) not in source:
        raise IncompatibleFaust(
            "the consumer's hand-over (hub.faust.hand_over) takes over Faust's call "
            f"`{HAND_OVER_CALL}` in Consumer._drain_messages, which this Faust does not "
            "make: install the version pyproject.toml pins")


def _is_hand_over(consumer, coros: tuple, timeout) -> bool:
    if timeout is not None or len(coros) != 2:
        return False
    record, flow = coros
    return (getattr(flow, "cr_code", None) is _EVENT_WAIT
            and getattr(record, "cr_code", None)
            is getattr(consumer.callback, "__code__", False)
            and not consumer.suspend_flow.is_set())


async def wait_first(self, *coros, timeout=None) -> WaitResults:
    """Faust's ``wait_first``, with the hand-over of a record done without tasks when it
    does not have to wait (see the module doc)."""
    if not _is_hand_over(self, coros, timeout):
        return await _faust_wait_first(self, *coros, timeout=timeout)
    record, flow = coros
    context = contextvars.copy_context()  # as the task Faust makes of it would have
    try:
        waits_for = context.run(record.send, None)
    except StopIteration as done:
        flow.close()
        inline[0] += 1
        stopped = self._stopped.is_set() or self._crashed.is_set()
        return WaitResults([], [], True) if stopped else \
            WaitResults([record], [done.value], False)
    except BaseException:
        flow.close()
        raise
    rest = asyncio.get_running_loop().create_task(_resumed(record, waits_for),
                                                  context=context)
    return await _faust_wait_first(self, rest, flow)


async def _resumed(coro, waits_for):
    """The rest of ``coro``, which yielded ``waits_for`` when it first ran: driven as an
    asyncio task drives it (the future it waits for, or None: run again soon)."""
    while True:
        try:
            if waits_for is None:
                await asyncio.sleep(0)
            else:
                waits_for._asyncio_future_blocking = False  # taken, as a task takes it
                await waits_for
        except BaseException as exc:  # noqa: BLE001 - the coroutine's to handle, as in a task
            step, arg = coro.throw, exc
        else:
            step, arg = coro.send, None
        try:
            waits_for = step(arg)
        except StopIteration as done:
            return done.value


def install() -> None:
    """Install patch 8 (after :func:`check_hand_over`)."""
    check_hand_over()
    Consumer.wait_first = wait_first
