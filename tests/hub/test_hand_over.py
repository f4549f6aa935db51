"""Patch 8 (hub.faust.hand_over): a record handed to its stream without waiting needs no
task; one that waits still gives way to a suspended flow, as in Faust."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import warnings

import pytest
from mode import Service

from hub.faust import hand_over

WHO = contextvars.ContextVar("who", default="consumer")


class FakeConsumer(Service):
    """What the patch uses of Faust's consumer: ``callback``, ``suspend_flow``, and the
    service's stopped and crashed events (mode's own ``wait_first``)."""

    def __init__(self, maxsize: int = 10):
        super().__init__()
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)
        self.suspend_flow = asyncio.Event()
        self.cleaned_up = 0
        self.blocked = asyncio.Event()  # a hand-over waits for room in the buffer

    async def callback(self, message):
        WHO.set("hand-over")  # stays in the hand-over's own context
        if message == "boom":
            raise ValueError("bad record")
        try:
            if self.queue.full():
                self.blocked.set()
            await self.queue.put(message)
        finally:
            self.cleaned_up += 1
        if message == "boom later":
            raise ValueError("bad record, after waiting")
        return message


async def hand(consumer, message):
    return await hand_over.wait_first(consumer, consumer.callback(message),
                                      consumer.suspend_flow.wait())


async def blocked_hand(consumer, message) -> asyncio.Task:
    """``message`` on its way to a buffer of one that a first record filled: the task
    handing it over, once it waits."""
    await hand(consumer, "first")
    handing = asyncio.create_task(hand(consumer, message))
    await asyncio.wait_for(consumer.blocked.wait(), 5)
    assert not handing.done()  # the stream's buffer is full
    return handing


def tasks() -> int:
    return len(asyncio.all_tasks())


def test_a_record_that_need_not_wait_is_handed_over_without_a_task():
    async def scenario():
        consumer = FakeConsumer()
        before, inline = tasks(), hand_over.inline[0]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = [await hand(consumer, n) for n in range(5)]
            gc.collect()
        # the flow's coroutines were closed, not left unawaited
        assert not [w for w in caught if "never awaited" in str(w.message)]
        assert tasks() == before
        assert hand_over.inline[0] - inline == 5
        return results, consumer

    results, consumer = asyncio.run(scenario())
    assert [r.results for r in results] == [[n] for n in range(5)]
    assert not any(r.stopped for r in results)
    assert [consumer.queue.get_nowait() for _ in range(5)] == list(range(5))
    assert WHO.get() == "consumer"


def test_a_record_that_waits_is_handed_over_once_there_is_room():
    async def scenario():
        consumer = FakeConsumer(maxsize=1)
        handing = await blocked_hand(consumer, "second")
        assert consumer.queue.get_nowait() == "first"
        result = await asyncio.wait_for(handing, 5)
        return result, consumer

    result, consumer = asyncio.run(scenario())
    assert result.results[0] == "second"
    assert consumer.queue.get_nowait() == "second"


def test_a_waiting_record_gives_way_when_the_flow_is_suspended():
    async def scenario():
        consumer = FakeConsumer(maxsize=1)
        handing = await blocked_hand(consumer, "second")
        consumer.suspend_flow.set()  # a rebalance
        result = await asyncio.wait_for(handing, 5)
        await asyncio.sleep(0)
        return result, consumer

    result, consumer = asyncio.run(scenario())
    assert result.results == [True]  # the flow's event came first
    assert consumer.queue.qsize() == 1  # "second" never reached the stream
    assert consumer.cleaned_up == 2  # and its hand-over was cancelled, cleaning up


def test_while_the_flow_is_suspended_faust_races_every_record():
    async def scenario():
        consumer = FakeConsumer()
        consumer.suspend_flow.set()
        inline = hand_over.inline[0]
        result = await hand(consumer, "x")
        return result, hand_over.inline[0] - inline

    result, inline = asyncio.run(scenario())
    assert inline == 0
    assert True in result.results  # the flow's event won (or both were done)


@pytest.mark.parametrize("message", ["boom", "boom later"])
def test_a_hand_over_that_raises_raises_as_in_faust(message):
    async def scenario():
        consumer = FakeConsumer(maxsize=1)
        if message == "boom later":
            handing = await blocked_hand(consumer, message)
            consumer.queue.get_nowait()
            return await asyncio.wait_for(handing, 5)
        return await hand(consumer, message)

    with pytest.raises(ValueError, match="bad record"):
        asyncio.run(scenario())


def test_other_calls_go_to_faust_s_own_wait_first():
    async def scenario():
        consumer = FakeConsumer()
        event = asyncio.Event()
        event.set()
        inline = hand_over.inline[0]
        result = await hand_over.wait_first(consumer, event, timeout=1)
        return result, hand_over.inline[0] - inline

    result, inline = asyncio.run(scenario())
    assert inline == 0 and result.done and not result.stopped


def test_the_installed_faust_makes_the_call_the_patch_takes_over(monkeypatch):
    from faust.transport.consumer import Consumer

    from hub.faust import patches
    from hub.faust.checks import IncompatibleFaust
    from tests.support.faust_patches import faust_restored

    with faust_restored():
        patches.apply(lambda topic: False)
        assert Consumer.wait_first is hand_over.wait_first

    async def otherwise(self, fetcher):
        await self.wait_first(self.callback(None))

    monkeypatch.setattr(Consumer, "_drain_messages", otherwise)
    with pytest.raises(IncompatibleFaust, match="does not make"):
        hand_over.check_hand_over()
