"""A batched consume -> produce Faust app: the router's loop without the router.

Reads ``SOURCE`` a batch at a time (``take_events``), hands each record of the batch to
the producer without waiting, awaits the batch's acknowledgements, then acknowledges the
batch's events (Faust commits them). What Faust's consumer and producer cost when used
the way the router uses them. Run: ``python bench/passthrough_batched.py BOOTSTRAP SOURCE SINK``.
"""

import asyncio
import sys

import faust


def main() -> None:
    bootstrap, source, sink = sys.argv[1:4]
    app = faust.App("bench-passthrough-batched", broker=f"kafka://{bootstrap}",
                    store="memory://", web_enabled=False, topic_partitions=6,
                    consumer_auto_offset_reset="earliest", producer_acks=-1,
                    producer_linger=0.005, producer_max_batch_size=256 * 1024)
    src = app.topic(source, key_type=bytes, value_type=bytes, key_serializer="raw",
                    value_serializer="raw")

    @app.agent(src)
    async def passthrough(stream):
        producer = app.producer
        async for events in stream.take_events(1000, 0.05):
            futures = [await producer.send(sink, e.key, e.value, None, None, None)
                       for e in events]
            await asyncio.gather(*futures)

    sys.argv = [sys.argv[0], "worker", "-l", "info"]
    app.main()


if __name__ == "__main__":
    main()
