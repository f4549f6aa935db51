"""A bare consume -> produce Faust app (the same Kafka client as the router), the baseline
of ``bench_router.py``. Run: ``python bench/passthrough.py BOOTSTRAP SOURCE SINK``."""

import sys

import faust


def main() -> None:
    bootstrap, source, sink = sys.argv[1:4]
    app = faust.App("bench-passthrough", broker=f"kafka://{bootstrap}", store="memory://",
                    web_enabled=False, topic_partitions=3, consumer_auto_offset_reset="earliest",
                    producer_acks=-1)
    src = app.topic(source, key_type=bytes, value_type=bytes, key_serializer="raw",
                    value_serializer="raw")
    dst = app.topic(sink, key_type=bytes, value_type=bytes, key_serializer="raw",
                    value_serializer="raw")

    @app.agent(src)
    async def passthrough(stream):
        async for key, value in stream.items():
            await dst.send(key=key, value=value)

    sys.argv = [sys.argv[0], "worker", "-l", "info"]
    app.main()


if __name__ == "__main__":
    main()
