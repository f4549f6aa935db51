"""A plain aiokafka consume -> produce passthrough, batched: the ceiling of
``bench_router.py`` (no framework, the client the router's Faust runs on).

    python bench/passthrough_aiokafka.py BOOTSTRAP SOURCE SINK [GROUP]

Per batch of ``getmany``: send every record (same key, so the same partition number in a
sink with as many partitions) without awaiting each send, await all the batch's send
futures (acks=all), then commit the batch's offsets. At-least-once: a crash between the
sends and the commit sends the batch again. Prints ``passthrough ready`` once the consumer
group gave it partitions; stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata

READY = "passthrough ready"


async def run(bootstrap: str, source: str, sink: str, group: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", max_poll_records=5000, client_id=f"{group}-consumer")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
        max_batch_size=256 * 1024, client_id=f"{group}-producer")
    await producer.start()
    await consumer.start()
    ready = False
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            if not ready and consumer.assignment():
                print(READY, flush=True)
                ready = True
            if not batches:
                continue
            futures = []
            for records in batches.values():
                for record in records:
                    futures.append(await producer.send(sink, key=record.key,
                                                       value=record.value))
            await asyncio.gather(*futures)
            await consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "")
                                   for tp, records in batches.items()})
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    bootstrap, source, sink = sys.argv[1:4]
    group = sys.argv[4] if len(sys.argv) > 4 else "bench-aiokafka"
    asyncio.run(run(bootstrap, source, sink, group))


if __name__ == "__main__":
    main()
