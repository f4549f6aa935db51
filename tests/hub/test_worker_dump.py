"""The worker's task dump (``kill -USR2``) shows where each task waits, down to the
innermost coroutine."""

from __future__ import annotations

import asyncio

from hub.worker import awaiting


async def innermost(gate: asyncio.Event) -> None:
    await gate.wait()


async def middle(gate: asyncio.Event) -> None:
    await innermost(gate)


def test_the_dump_names_every_coroutine_a_task_awaits():
    async def scenario():
        gate = asyncio.Event()
        task = asyncio.create_task(middle(gate))
        await asyncio.sleep(0)
        chain = awaiting(task.get_coro())
        gate.set()
        await task
        return chain

    chain = asyncio.run(scenario())
    names = [line.rsplit(" ", 1)[1] for line in chain if " " in line]
    assert names[:3] == ["middle", "innermost", "wait"]
    assert "test_worker_dump.py" in chain[0]
