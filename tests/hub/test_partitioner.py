"""The worker's producer partitioner: Kafka's default, faster for keys seen before."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner

from hub.worker import KeyPartitioner


def test_the_workers_partitioner_is_kafkas_default():
    ours, kafkas = KeyPartitioner(max_keys=50), DefaultPartitioner()
    keys = [random.randbytes(random.randint(1, 40)) for _ in range(200)] + [b"subject-1"] * 5
    for n in (1, 3, 6, 7):
        partitions = list(range(n))
        for key in keys:  # more keys than it remembers: forgotten ones are hashed again
            assert ours(key, partitions, partitions) == kafkas(key, partitions, partitions)
    assert ours(None, [0, 1, 2], [1]) == 1  # no key: an available partition
