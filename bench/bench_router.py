"""Benchmark the router on the local broker against two bare consume -> produce passthroughs.

The same events (handover requests, every child invented, each child with a consent) go,
one pipeline after the other on the same broker in the same run, through:

- ``aiokafka``: a plain aiokafka passthrough, batched (``bench/passthrough_aiokafka.py``:
  ``getmany``, send the whole batch, await its acks (acks=all), commit). No framework: the
  ceiling of what the Kafka client does on this machine.
- ``faust``: a bare Faust passthrough (``bench/passthrough.py``), an agent that sends each
  record on: what Faust itself costs.
- ``faust-batched``: the router's loop without the router (``bench/passthrough_batched.py``):
  ``take_events`` batches, every record handed to the producer without waiting, the batch's
  acknowledgements awaited. The ceiling of any router built on Faust's stream on this
  machine: it forwards one record per event and decides nothing.
- ``router``: ``hub run`` reading an agency outbox and delivering to an inbox (consent
  check, dedupe, audit, facts, handover tracking, table writes). Each child's consent is
  sent first and the clock starts once the router has recorded every consent, so only
  the handover requests are measured, as for the passthroughs.

Every pipeline's topics have the router's partition count (``deploy/topics.yaml``); the
router's table changelogs exist before it starts (as after its first start). One pipeline
runs at a time. The benchmark's own clients (kafka-python, one producer and one consumer in
this process) take part of the CPU too: on a small machine they bound the aiokafka figure.

Modes

    python bench/bench_router.py [--n 20000] [--children 5000]
        Burst: all N events are sent at once; measures how fast each pipeline drains them.
    python bench/bench_router.py --steady 1000 --seconds 60 [--children 5000]
    python bench/bench_router.py --only router [--only faust ...] [--profile FILE]
        Only the pipelines named; --profile records the router worker with py-spy (folded
        stacks) while it is measured (with --workers: every worker, FILE-w<W>-<k>).
        Steady load: RATE events a second, paced (not a burst), for S seconds (RATE x S
        events); measures the latency under that load and whether the pipeline keeps up.
    python bench/bench_router.py --only faust-batched --only router --rounds 3
        Everything three times, each round on a broker of its own; at the end every
        round's rates and CPU per event, and the router's ratios to faust-batched (events/s
        and CPU per event) with their median. On a busy machine a single run's ratio
        spreads by a third; compare medians.
    python bench/bench_router.py --only faust-batched --only router --analytics apart
        The router's workers only route (``hub run --role router``) and one more worker
        aggregates the analytics (``--role analytics``); its CPU is listed beside theirs,
        not in their CPU per event. Works with ``--workers`` too.
    python bench/bench_router.py --only router --workers 1,2 [--n 10000] [--children 2500]
        The router with 1, then 2 workers in one consumer group (``hub run`` each, the
        outboxes' partitions shared between them), new events each time; reports the
        ratio of the throughputs and, for each window, the CPU seconds of every process:
        each worker, the broker (java), the benchmark's own clients, other processes on
        the machine, and what stayed idle. Two workers on two cores share them with the
        broker and the benchmark's clients: the table shows where the CPU went.

It starts its own broker in a temporary folder (free ports, loopback) and stops it at the
end; every process it started is stopped too, also on Ctrl-C or an error.

Figures

- ``events/s``: events that arrived in the sink (inbox) divided by the time from the first
  send to the last arrival. In burst mode this is the pipeline's throughput; in steady mode
  the achieved delivery rate, at most the offered rate.
- ``p50``/``p99``: end-to-end latency per event, from just before the benchmark hands it to
  its producer to when the benchmark's consumer of the sink receives it (includes both
  benchmark clients; the same for every pipeline). In burst mode this is mostly time
  spent queued behind the burst. Over every event sent: one that did not arrive within
  ``--drain-timeout`` after the last send counts as never delivered (``never``).
- ``CPU``: the pipeline process's CPU time (user + system, from ``/proc/<pid>/stat``) over
  the measured window, per delivered event: steadier than the rates on a busy machine (the
  benchmark's own clients are not in it).
- ratios (burst): ``router/faust``, ``router/aiokafka``, ``faust/aiokafka`` of the
  throughputs (1.0 = as fast; 0.2 = a fifth of the speed).
- steady mode adds ``offered`` (the rate the sender actually achieved), ``backlog``
  (events sent but not yet delivered when the sending stopped) and ``drain`` (from the
  last send to the last arrival), and says ``KEPT UP`` or ``FELL BEHIND``: behind means it
  delivered less than 95 % of the offered rate, or ended the window with more than one
  second of offered load (RATE events) still undelivered.

Knobs tried (burst, ``--n 20000 --children 5000``, local broker, 2 cores). Figures of one
run each; "quiet" means nothing else ran on the machine, "loaded" that other benchmarks
and test suites did (load 5-10), where only the ratios in the same run mean anything.

| knob / change                              | router events/s | router/faust | note        |
|--------------------------------------------|-----------------|--------------|-------------|
| before: one event at a time, each send      | 186             | 0.17         | quiet       |
| awaited, memory store, 3 partitions          |                 |              |             |
| same, 6 partitions                           | 46              | 0.21         | loaded      |
| batches (take_events 1000 / 50 ms), outputs  | 230             | 0.47         | loaded      |
| awaited once per batch, state once per key   |                 |              |             |
| + producer linger 5 ms, 256 KiB batches      | -               | -            | worker CPU  |
|                                              |                 |              | in socket   |
|                                              |                 |              | writes 16 % |
|                                              |                 |              | -> 4 %      |
| + engine cost flat per child, metrics        | 106             | 0.31         | loaded      |
| counted per batch, 6 partitions              |                 |              |             |
| + RocksDB, delivered table, flow guard that  | 277             | 0.37         | quiet       |
| leaves slow partitions alone, no stall       |                 |              | (faust 752, |
| notices in the measured requests             |                 |              | aiokafka    |
|                                              |                 |              | 6,434)      |
| + tables read and written by partition past  | 327             | -            | loaded      |
| Faust's per-key path (hub/routing/tables.py),|                 |              | (faust-     |
| changelog records sent with the outputs      |                 |              | batched     |
| (``--n 10000 --children 2500``)              |                 |              | 2,393)      |
| + partitioner remembering keys, plain string | 320             | 0.70         | loaded      |
| keys encoded directly (same shape)           |                 |              | (faust 458) |

From here ``--only faust-batched --only router --n 10000 --children 2500``; the column
``router/faust`` is router / faust-batched, and CPU is the worker's per routed event
(``CPU`` above); the machine was loaded (load 7-26), so CPU counts more than the rates.

| knob / change                              | router events/s | router/faust-b | CPU ms/event |
|--------------------------------------------|-----------------|----------------|--------------|
| before (main), three runs                   | 336; 250; 564   | 0.18; 0.16;    | 0.93; 0.87;  |
|                                            |                 | 0.22           | 0.74         |
| + JSON encoders built once, audit ids      | 227             | 0.30           | 1.01 (py-spy |
| without UUID objects, one handover copy    |                 |                | on, load 20) |
| per step, produced records counted per     |                 |                |              |
| batch                                      |                 |                |              |
| + one Kafka record batch per topic         | 293             | 0.53 (faust-b  | 0.68 (main   |
| partition and router batch (BatchSender)   |                 | slowed: 551)   | next: 0.87)  |
| + partitions looked up once per send and   | 1,397           | 0.36           | 0.49         |
| topic; start-up heap frozen, young GC      |                 | (main right    | (main right  |
| every 20,000 allocations                   |                 | after: 0.22)   | after: 0.74) |

``--only faust-batched --only router`` (default shape, ``--n 20000 --children 5000``),
quiet, one run each; the last column is the router's batch loop (its progress lines).

| knob / change                     | events/s      | /faust-b      | CPU ms/ev    | loop %   |
|-----------------------------------|---------------|---------------|--------------|----------|
| analytics in RocksDB, 6 partitions| 1,009; 1,211  | 0.21; 0.25    | 0.84; 0.64   | -        |
| + orjson for the tables, facts,   | 1,099; 1,232; | 0.18; 0.22;   | 0.74; 0.62;  | 52/10/38 |
| counted facts                     | 1,021         | 0.20          | 0.81         |          |
| + 256 KiB fetch (not kept)        | 1,161         | 0.26          | 0.71         | 61/11/28 |
| + take_events within 10 ms (not   | 881           | 0.18          | 0.92         | 55/21/24 |
| kept)                             |               |               |              |          |
| + batches of 2,000, 128 KiB fetch | 1,228         | 0.17          | 0.71         | 59/10/31 |
| (not kept)                        |               |               |              |          |

"loop %": deciding / waiting for acknowledgements / waiting for input.

The same, alternately (``--analytics inside``, then ``apart``, twice; then three runs of
``apart`` against a tree with a read cache in front of the tables' RocksDB). "CPU ms/ev" of
``apart`` is the router's worker; the analytics worker's follows in brackets.

| knob / change                     | events/s      | /faust-b      | CPU ms/ev    | loop %   |
|-----------------------------------|---------------|---------------|--------------|----------|
| analytics inside (as before)      | 1,125; 1,277  | 0.19; 0.16    | 0.59; 0.59   | 47/12/42;|
|                                   |               |               |              | 53/11/37 |
| analytics apart (``hub run        | 1,513; 1,768  | 0.27; 0.22    | 0.47; 0.45   | 66/11/23;|
| --role router`` and ``--role      |               |               | (0.15; 0.13) | 67/11/22 |
| analytics``)                      |               |               |              |          |
| apart, again (baseline of the     | 1,283; 1,688; | 0.25; 0.33;   | 0.55; 0.48;  | 60/9/31; |
| cache below)                      | 1,540         | 0.30          | 0.46         | 64/7/29; |
|                                   |               |               |              | 67/8/25  |
| + decoded values of 1,024 keys a  | 1,098; 1,540; | 0.21; 0.28;   | 0.55; 0.46;  | 56/8/36; |
| table partition cached in front of| 1,518         | 0.20          | 0.46         | 60/9/31  |
| RocksDB (not kept: no difference) |               |               |              |          |

| + Faust's fetcher hands each record | 1,712; 1,865  | 0.23; 0.23    | 0.42; 0.40   | 73/15/12;|
| on without a task and a wait per    | (baseline     | (faust-b.     | (baseline    | 73/10/17 |
| record while the flow is not        | 1,877; 1,530) | patched too)  | 0.45; 0.44)  |          |
| suspended (not kept: see below)     |               |               |              |          |

Later, apart, alternately with the 64 KiB fetch of the tree (``consumer_max_fetch_size``):

| knob / change                       | events/s      | /faust-b      | CPU ms/ev    | loop %   |
|-------------------------------------|---------------|---------------|--------------|----------|
| 64 KiB fetch (the tree)             | 1,963; 1,649  | 0.35; 0.28    | 0.40; 0.41   | 62/10/27;|
|                                     |               |               | (0.11; 0.12) | 61/8/31  |
| 256 KiB fetch (batches of 703-718   | 2,008; 1,898  | 0.33; 0.31    | 0.40; 0.42   | 66/11/23;|
| against 580-611 messages, the rates |               |               | (0.10; 0.10) | 69/7/24  |
| within the spread; kept for two     |               |               |              |          |
| workers, below)                     |               |               |              |          |

Later, alternately with the tree before (inside twice, apart twice, inside twice again):

| knob / change                       | events/s      | /faust-b      | CPU ms/ev    | loop %   |
|-------------------------------------|---------------|---------------|--------------|----------|
| inside, the tree before             | 1,534; 1,615; | 0.23; 0.30;   | 0.49; 0.47;  | 59/12/29;|
|                                     | 1,921; 1,729  | 0.35; 0.20    | 0.49; 0.45   | 65/12/23 |
| inside, + a key read from RocksDB   | 1,828; 1,758; | 0.33; 0.30;   | 0.47; 0.46;  | 62/11/27;|
| once a batch, a partition's keys    | 1,643; 1,818  | 0.31; 0.23    | 0.51; 0.48   | 58/12/30 |
| written in one write batch, facts   |               |               |              |          |
| encoded by orjson (kept: 7.2 reads  |               |               |              |          |
| a message instead of 9.7; the CPU   |               |               |              |          |
| within the spread)                  |               |               |              |          |
| apart, the tree before              | 1,755; 1,952  | 0.28; 0.33    | 0.42; 0.44   | 67/6/27; |
|                                     |               |               | (0.11; 0.11) | 67/11/22 |
| apart, with the three               | 1,883; 1,891  | 0.33; 0.31    | 0.40; 0.42   | 63/11/26;|
|                                     |               |               | (0.11; 0.12) | 68/10/22 |

Later still, apart (router worker's CPU; the faster runs of a pair are not the rule):

| knob / change                       | events/s      | /faust-b      | CPU ms/ev    | loop %   |
|-------------------------------------|---------------|---------------|--------------|----------|
| asyncio's event loop (the tree)     | 1,893; 2,038; | 0.31; 0.36;   | 0.40; 0.40;  | 64/10/26 |
|                                     | 1,655; 1,956  | 0.29; 0.34    | 0.42; 0.41   |          |
| + uvloop's event loop               | 2,029; 1,867; | 0.25; 0.33;   | 0.38; 0.39;  | 65/11/24 |
|                                     | 1,916; 1,818  | 0.34; 0.32    | 0.38; 0.38   |          |
| + batches of 2,000 within 200 ms    | 2,263; 2,273  | 0.27; 0.37    | 0.39; 0.38   | 62/8/30  |
| (not kept: it gains while the burst |               |               |              |          |
| is still sent; then the loop is     |               |               |              |          |
| bound by its CPU either way)        |               |               |              |          |
| + outputs handed to the producer    | 1,744; 1,800  | 0.28; 0.29    | 0.41; 0.40   | 65/8/27  |
| every 100 events (not kept)         |               |               |              |          |
| + clock read once per message,      | 1,912; 1,817  | 0.34; 0.32    | 0.40; 0.39   | 64/11/25 |
| handovers changed without           |               |               |              |          |
| dataclasses.replace                 |               |               |              |          |
| + patch 8: a record handed to its   | 2,441; 2,281; | 0.44; 0.41    | 0.35; 0.35;  | 72/11/17 |
| stream without four tasks           | 2,471; 2,263  |               | 0.34; 0.35   |          |
| (the same without it, alternately)  | 2,040; 2,153  |               | 0.37; 0.37   | 66/9/25  |

On a slower machine (``faust-batched`` 2,450-3,500 events/s, against 4,600-4,800 where
the rows above were measured), ``--only faust-batched --only router --rounds 3``; each
cell lists the three rounds, then the median of the ratios:

| tree                          | router events/s | /faust-b (median) | CPU ms/ev   | CPU/faust-b |
|-------------------------------|-----------------|-------------------|-------------|-------------|
| inside, the analytics' facts  | 1,305; 804; 993 | 0.45; 0.27; 0.36  | 0.69; 1.10; | 2.6x; 4.0x; |
| written in batches of 200     |                 | (0.36)            | 0.93        | 4.0x (4.0x) |
| apart, the same tree          | 1,127; 1,044;   | 0.39; 0.43; 0.34  | 0.68; 0.77; | 2.6x; 2.9x; |
|                               | 993             | (0.39)            | 0.79        | 3.1x (2.9x) |
| inside, + outcome map, slices | 926; 934; 1,131 | 0.35; 0.27; 0.45  | 0.96; 0.98; | 3.6x; 4.7x; |
| once, marks once a batch      |                 | (0.35)            | 0.79        | 3.0x (3.6x) |
| inside, the same tree, later  | 945; 1,105;     | 0.33; 0.41; 0.35  | 0.97; 0.84; | 3.6x; 3.2x; |
|                               | 1,392           | (0.35)            | 0.67        | 3.7x (3.6x) |
| + batches of 2,000 within     | 938; 1,304; 984 | 0.28; 0.51; 0.33  | 0.99; 0.71; | 4.3x; 2.9x; |
| 200 ms (not kept: batches of  |                 | (0.33)            | 0.95        | 3.8x (3.8x) |
| 1,040-1,228 against 358-581)  |                 |                   |             |             |

Between rounds the router's CPU per event moves with the machine: where it did most (0.97
ms) the batched loop did 0.27, where it did least (0.67) 0.18; the ratio of the two stays
at 3.2-3.7x. Bigger batches did not lower it.

``--only router --workers 1,2`` (inside) there, three runs: one worker 902, 860 and 849
events/s, two 1,262, 1,015 and 1,165 (**1.40x, 1.18x and 1.37x**). With two workers the
machine was 3-4 % idle: the workers took 63-66 % of it, the broker 15-24 %, the bench's
clients 8 %.

The analytics worker apart took 0.36-0.37 ms per routed event there: the router's events
wrote 2.46 facts each (the event's, its handover's, and the earlier handovers whose bounce
or ping-pong flags changed), each through Faust's per-record path (about 40 µs, measured
with an agent that dropped every fact) and the aggregator's decode and apply
(``python bench/bench_analytics.py --live``).

Run apart, the router's worker spends a quarter less CPU per event and routes about a third
faster; the two workers together spend what one did. With the analytics apart the loop
takes 480-660 messages a batch: ``take_events`` hands a batch over after 50 ms, full
(1,000) or not, and filling it is Faust's per-record work on the same event loop (in its
fetcher a task and a wait per record, ``Consumer._drain_messages``).

The fetcher change (``Consumer._drain_messages`` calling Faust's per-record callback
directly instead of through ``Service.wait_first`` with the flow's suspension) took the
batches to 850 messages and the router's CPU per event down by about 8 %, and the batched
passthrough's by 40 %; it was measured as a throw-away patch and not kept. Its cost was
the semantics during a rebalance: ``wait_first`` abandons a record whose hand-over blocks
(a full stream buffer) when Faust suspends the flow, and a direct call would hand it over
after the rebalance, into the new assignment; the hub's exactly-once tests do not cover
that race. Patch 8 (``hub.faust.hand_over``) keeps those semantics: the hand-over runs
inline only up to where it would wait, and one that waits is raced against the flow's
suspension as before (tests/hub/test_hand_over.py). The batched passthrough runs on Faust
as it is, so it still pays that cost per record.

``--only router --workers 1,2 --analytics apart`` with a 128 KiB fetch per partition (the
tree's; 256 KiB took a worker over 400 MiB in a year, docs/operations.md): one router
worker 1,851 events/s, two 1,873 (1.01x), batches of 170 messages, the machine 6 % idle.
With 256 KiB, twice: one router worker 1,882 and 1,818 events/s, two 1,898 and 1,885
(1.01x and 1.04x), batches of 174 and 191 messages, the machine 5 and 11 % idle. With 64
KiB, in the same hour: one worker 1,678, two 1,130 (0.67x), batches of 137, 22 % idle;
before that, twice: one router worker 1,604 and 1,603 events/s (0.49 and 0.48 ms), two
1,041 and 1,063 (0.65x and 0.66x). Each of the two waits for input 61-62 % of its loop,
with batches of 122 messages against one worker's 573, and spends about twice the CPU per
event; the analytics worker took 13-15 % of the machine, the broker 13-17 %, 19-24 %
stayed idle. ``take_events`` within 200 ms instead of
50 ms (one run, not kept): batches of 293, 0.85x.

The loop waits for input about a third of the time: Faust's ``take_events`` fills the next
batch only after the router is done with the current one, and the filling shares the event
loop with Faust's per-record stream work and the analytics aggregator (two facts per routed
event). A bigger fetch shortens that wait a little, smaller batches cost more per event;
none of the three changed the rate beyond the spread of runs of one tree.

Where the time goes now (``--profile``, py-spy on the router worker, after the batch
sends): the router's loop is about two thirds of the event loop's thread; of it, deciding
(``RouterRuntime._handle``) three quarters: Avro decode and validation of the envelope a
sixth, the handover tracker (family window, bounce and ping-pong) a sixth, the audit
record, deliveries and fact (``carry_out``) two fifths; the table writes at the checkpoint
(JSON and RocksDB) a tenth and the sends a fourteenth. The analytics aggregator on the
same loop is 1-3 % of it. Before the batch sends (the notes below), sending was about a
third of the router's loop, a future and a partitioner call per record.

Earlier notes: the event loop's thread was busy all the time, about 3 ms of CPU per
routed event. Deciding is about a third
(Avro decode and pydantic validation of the envelope, the consent and handover rules, audit
and fact records; the table reads are one RocksDB look-up each now), the router's sends a
seventh (per handover request: the inbox record, audit, two analytics facts and three
changelog records), Faust's consumer and stream machinery about a seventh, the rest the
producer's network work, the analytics aggregator on the same worker and the timers.

The ceiling: ``faust-batched``, the same loop forwarding one record per event and deciding
nothing, does 2,243-2,393 events/s on this machine. A router that decides and writes seven
records per event cannot reach 2,000 events/s per worker on Faust's stream here; more
throughput comes from more workers (docs/deployment.md, "Scaling out").
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from connectors.envelopes import (  # noqa: E402
    ConsentFacts,
    EventFacts,
    Person,
    build_consent_envelope,
    build_envelope,
)
from hub.agencies import load_agencies  # noqa: E402
from hub.broker.local import LocalBroker, free_port  # noqa: E402
from hub.contract.codec import get_codec, peek_event_id  # noqa: E402
from hub.kafka_io import admin_client, consumer, producer  # noqa: E402
from hub.routing.agent import table_names  # noqa: E402
from hub.settings import PseudonymKey  # noqa: E402
from hub.topic_admin import apply_topics  # noqa: E402
from hub.topics import plan_topics, router_partition_count  # noqa: E402

SENDER, RECIPIENT = "jugendamt-kamen", "grundschule-kamen-mitte"
CLOCK_START = "2026-11-24T12:00:00+00:00"
REQUESTED_ON = date(2026, 11, 23)
"""The requests' date: the day before the hub's clock starts, so that no handover is overdue
while it is measured (an overdue one would add two stall notices to the routing)."""
APP_ID = "unna-hub"
CONSENT_TOPIC = "hub.consent"  # the router records every consent it takes in here


def make_events(n: int, children: int, key: PseudonymKey, tag: str = ""):
    """Each child's consent and ``n`` handover requests; ``tag`` makes the requests' ids
    and handover ids new (a second router run on the same broker, whose dedupe would
    otherwise drop them as delivered)."""
    agencies = load_agencies()
    codec = get_codec()
    consents, events = [], []
    for c in range(children):
        person = Person(f"Kind{c}", "Bench", date(2020, 1, 1 + c % 28))
        consent = build_consent_envelope(ConsentFacts(
            SENDER, f"EW-B-{c}", True, person, "kamen", "uebergang_kita_schule",
            (RECIPIENT,), date(2026, 1, 1), None, date(2026, 1, 1)), key, agencies)
        consents.append((consent.subject.encode(), codec.encode(consent)))
    people = [Person(f"Kind{c}", "Bench", date(2020, 1, 1 + c % 28)) for c in range(children)]
    template = build_envelope(EventFacts(
        SENDER, "JA-B-0", "handover.requested", REQUESTED_ON, people[0], "kamen",
        "uebergang_kita_schule", recipient=RECIPIENT, handover_id="UE-B-0"), key, agencies)
    subjects = [build_envelope(EventFacts(
        SENDER, "x", "handover.requested", REQUESTED_ON, p, "kamen",
        "uebergang_kita_schule", recipient=RECIPIENT, handover_id="UE-B-0"), key,
        agencies).subject for p in people]
    for i in range(n):
        subject = subjects[i % children]
        envelope = template.model_copy(update={
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-{tag}{i}")), "subject": subject,
            "correlation_id": f"UE-B-{tag}{i}", "payload": template.payload.model_copy(
                update={"handover_id": f"UE-B-{tag}{i}"})})
        events.append((subject.encode(), codec.encode(envelope)))
    return consents, events


@dataclass
class Result:
    name: str
    sent: int = 0
    delivered: int = 0
    rate: float = 0.0           # delivered / (last arrival - first send)
    offered: float = 0.0        # sent / (last send - first send)
    p50: float = float("nan")
    p99: float = float("nan")
    backlog: int = 0            # sent but not delivered when the sending stopped
    drain: float = 0.0          # last send -> last arrival
    cpu_ms: float | None = None  # the pipeline process's CPU (user + sys) per delivered event
    cpu_s: dict[str, float] = field(default_factory=dict)  # process -> CPU s in the window
    window: float = 0.0         # the measured window (first send -> end of the drain), s
    latencies: list[float] = field(default_factory=list, repr=False)
    phases: dict[str, float] = field(default_factory=dict)  # the router's loop, % (log)
    batch: float | None = None  # the router's mean messages per batch (its log)

    def behind(self, rate: float) -> bool:
        return self.delivered < self.sent or self.rate < 0.95 * rate or self.backlog > rate


class Arrivals(threading.Thread):
    """Reads the sink from its current end in the background and notes when each event
    (by id) arrives."""

    def __init__(self, bootstrap: str, sink: str):
        super().__init__(daemon=True)
        from kafka import TopicPartition

        self.kc = consumer(bootstrap, group_id=None, enable_auto_commit=False)
        tps = [TopicPartition(sink, p) for p in self.kc.partitions_for_topic(sink)]
        self.kc.assign(tps)
        self.kc.seek_to_end(*tps)
        for tp in tps:
            self.kc.position(tp)  # fix the start before anything is sent
        self.arrived: dict[str, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                for records in self.kc.poll(timeout_ms=200).values():
                    now = time.monotonic()
                    for record in records:
                        self.arrived.setdefault(peek_event_id(record.value) or "", now)
        finally:
            self.kc.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


def records_in(bootstrap: str, topic: str) -> int:
    """The records written to ``topic`` so far (sum of its end offsets)."""
    from kafka import TopicPartition

    kc = consumer(bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in kc.partitions_for_topic(topic) or ()]
        return sum(kc.end_offsets(tps).values()) if tps else 0
    finally:
        kc.close()


def spy(pid: int, out: Path, rate: int = 100) -> subprocess.Popen:
    """py-spy recording process ``pid`` (raw folded stacks, ``rate`` samples a second)
    into ``out`` until :func:`stop_spy`."""
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                             str(pid), "--format", "raw", "--rate", str(rate), "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_spy(recorder: subprocess.Popen) -> None:
    """Stop a :func:`spy`: on SIGINT py-spy writes its file and ends."""
    recorder.send_signal(signal.SIGINT)
    recorder.wait(60)


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of process ``pid`` so far (``/proc/<pid>/stat``), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """CPU seconds of the whole machine so far, all cores: (busy, busy + idle), from
    ``/proc/stat`` (idle: idle and iowait)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    total = sum(ticks) / os.sysconf("SC_CLK_TCK")
    return total - (ticks[3] + ticks[4]) / os.sysconf("SC_CLK_TCK"), total


def cpu_snapshot(pids: dict[str, int | None]) -> dict[str, float | None]:
    """CPU seconds so far of each named process, and of the machine (``machine busy``,
    ``machine total``)."""
    snap = {name: process_cpu_seconds(pid) for name, pid in pids.items()}
    snap["machine busy"], snap["machine total"] = machine_cpu_seconds()
    return snap


def cpu_window(start: dict[str, float | None], end: dict[str, float | None]
               ) -> dict[str, float]:
    """CPU seconds each process (and the machine) spent between two snapshots; ``other
    processes``: the machine's busy time that none of the named processes account for
    (other people's work on a shared machine)."""
    spent = {name: end[name] - start[name] for name in start
             if start[name] is not None and end.get(name) is not None}
    named = sum(v for k, v in spent.items() if not k.startswith("machine"))
    if "machine busy" in spent:
        spent["other processes"] = max(0.0, spent["machine busy"] - named)
    return spent


def measure(name: str, bootstrap: str, source: str, sink: str, events, consents=(),
            rate: float | None = None, drain_timeout: float = 900,
            pid: int | None = None, watch: dict[str, int | None] | None = None) -> Result:
    """Send ``events`` to ``source`` (all at once, or ``rate`` a second) and wait until they
    arrived in ``sink``, at most ``drain_timeout`` seconds after the last send. The
    ``consents`` go first, and the clock starts once the router has recorded them all in
    hub.consent: only the events are measured. ``pid``: the pipeline's process, whose CPU
    time over the same window is divided by the events delivered. ``watch``: the
    processes whose CPU seconds over the window the result lists (``Result.cpu_s``, with
    the machine's); with it, the pipeline's CPU is that of the names starting with
    ``name`` (several workers)."""
    watch = dict(watch or {})
    arrivals = Arrivals(bootstrap, sink)
    arrivals.start()
    kp = producer(bootstrap, "bench")
    sent_at: dict[str, float] = {}
    try:
        if consents:
            before = records_in(bootstrap, CONSENT_TOPIC)
            for key, value in consents:
                kp.send(source, key=key, value=value)
            kp.flush()
            deadline = time.monotonic() + drain_timeout
            while records_in(bootstrap, CONSENT_TOPIC) < before + len(consents):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: the consents were not all recorded within "
                                       f"{drain_timeout:.0f} s")
                time.sleep(0.5)
        cpu_start = process_cpu_seconds(pid)
        watched = cpu_snapshot(watch)
        start = time.monotonic()
        for i, (key, value) in enumerate(events):
            if rate:
                pause = start + i / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            sent_at[peek_event_id(value)] = time.monotonic()
            kp.send(source, key=key, value=value)
        kp.flush()
        last_send = time.monotonic()
        backlog = sum(1 for event_id in sent_at if event_id not in arrivals.arrived)
        deadline = last_send + drain_timeout
        while time.monotonic() < deadline and sum(
                1 for event_id in sent_at if event_id in arrivals.arrived) < len(sent_at):
            time.sleep(0.2)
        cpu_end = process_cpu_seconds(pid)
        cpu_s = cpu_window(watched, cpu_snapshot(watch))
        window = time.monotonic() - start
    finally:
        kp.close()
        arrivals.stop()
    latencies = sorted(arrivals.arrived[i] - t for i, t in sent_at.items()
                       if i in arrivals.arrived)
    last = max((arrivals.arrived[i] for i in sent_at if i in arrivals.arrived), default=start)
    result = Result(name, len(sent_at), len(latencies), latencies=latencies, backlog=backlog,
                    offered=len(sent_at) / (last_send - start) if last_send > start else 0,
                    drain=max(0.0, last - last_send), cpu_s=cpu_s, window=window)
    if latencies:
        if cpu_start is not None and cpu_end is not None:
            result.cpu_ms = (cpu_end - cpu_start) * 1000 / len(latencies)
        pipeline = [v for k, v in cpu_s.items() if k.startswith(name)]
        if pipeline:
            result.cpu_ms = sum(pipeline) * 1000 / len(latencies)
        result.rate = len(latencies) / (last - start) if last > start else 0.0
        # over every event sent: one never delivered counts as infinitely late
        everyone = latencies + [float("inf")] * (len(sent_at) - len(latencies))
        result.p50 = statistics.median_low(everyone)
        result.p99 = everyone[max(0, int(len(everyone) * 0.99) - 1)]
    return result


class Processes:
    """The processes the benchmark started: each is stopped (SIGTERM, then SIGKILL) when it
    is no longer needed, and all of them at the end whatever happened."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.running: dict[str, tuple[subprocess.Popen, Path]] = {}

    def start(self, name: str, cmd: list[str], env: dict, ready: str,
              timeout: float = 180) -> None:
        log = self.folder / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out,
                                    stderr=subprocess.STDOUT)
        self.running[name] = (proc, log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready in log.read_text(errors="replace"):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{name} did not become ready (exit code {proc.poll()}):\n{tail}")

    def stop(self, name: str) -> None:
        proc, _log = self.running.pop(name)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM: stop like Ctrl-C, through the finally blocks


def prepare_topics(bootstrap: str, plan) -> None:
    """The hub's topics, the passthroughs' and the router's changelogs. The changelogs of
    the router's tables (hub/routing/agent.py) are created before a worker starts, as on a
    deployment that has run before."""
    from kafka.admin import NewTopic

    partitions = router_partition_count(plan)
    with admin_client(bootstrap) as admin:
        apply_topics(admin, plan)
        admin.create_topics([NewTopic(f"bench.{kind}.{end}", partitions, 1)
                             for kind in ("aiokafka", "faust", "faust-batched")
                             for end in ("source", "sink")])
        admin.create_topics([NewTopic(f"{APP_ID}-{table}-changelog", partitions, 1,
                                      topic_configs={"cleanup.policy": "compact"})
                             for table in table_names()])


def run(args) -> list[Result]:
    rate = args.steady
    n = int(rate * args.seconds) if rate else args.n
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        key_file = tmp / "key"
        key_file.write_text("bench-router-key" * 3)
        key = PseudonymKey.from_file(key_file)
        broker = LocalBroker(tmp / "home", free_port(), free_port())
        procs = Processes(tmp)
        results = []
        try:
            broker.start(progress=lambda m: None)
            bootstrap = broker.bootstrap
            agencies = load_agencies()
            plan = plan_topics(agencies)
            partitions = router_partition_count(plan)
            prepare_topics(bootstrap, plan)
            shape = (f"{rate:,.0f} events/s for {args.seconds:g} s ({n:,} events)" if rate
                     else f"{n:,} events at once")
            print(f"{shape}, {args.children:,} children, {partitions} partitions; "
                  "preparing events ...", flush=True)
            consents, events = make_events(n, args.children, key)

            py = sys.executable
            pipelines = [
                ("aiokafka", [py, "bench/passthrough_aiokafka.py", bootstrap,
                              "bench.aiokafka.source", "bench.aiokafka.sink"],
                 os.environ, "passthrough ready", "bench.aiokafka.source",
                 "bench.aiokafka.sink", ()),
                ("faust", [py, "bench/passthrough.py", bootstrap, "bench.faust.source",
                           "bench.faust.sink"], os.environ, "Worker]: Ready",
                 "bench.faust.source", "bench.faust.sink", ()),
                ("faust-batched", [py, "bench/passthrough_batched.py", bootstrap,
                                   "bench.faust-batched.source", "bench.faust-batched.sink"],
                 os.environ, "Worker]: Ready", "bench.faust-batched.source",
                 "bench.faust-batched.sink", ()),
                ("router", [py, "-m", "hub", "run"], dict(
                    os.environ, HUB_BOOTSTRAP_SERVERS=bootstrap, HUB_HOME=str(tmp / "home"),
                    HUB_APP_ID=APP_ID,
                    HUB_CLOCK_START=CLOCK_START, HUB_LOG_LEVEL="info",
                    HUB_METRICS_PORT="0"), "Worker]: Ready",
                 agencies.get(SENDER).outbox, agencies.get(RECIPIENT).inbox, consents),
            ]
            for name, cmd, env, ready, source, sink, first in pipelines:
                if args.only and name not in args.only:
                    continue
                if name == "router" and args.workers != [1]:
                    results += run_workers(args, procs, cmd, env, source, sink, key, rate,
                                           tmp)
                    continue
                print(f"{name}: starting ...", flush=True)
                watch = None
                if name == "router" and args.analytics == "apart":
                    watch = start_apart(procs, cmd, env, broker)
                    cmd = [*cmd, "--role", "router"]
                procs.start(name, cmd, env, ready)
                if watch is not None:
                    watch[name] = procs.running[name][0].pid
                recorder = spy(procs.running[name][0].pid, Path(args.profile), 200) \
                    if args.profile and name == "router" else None
                result = measure(name, bootstrap, source, sink, events, first, rate,
                                 args.drain_timeout, pid=procs.running[name][0].pid,
                                 watch=watch)
                if recorder is not None:
                    stop_spy(recorder)
                    print(f"router profile (py-spy, raw): {args.profile}", flush=True)
                if name == "router":
                    result.phases = loop_phases([procs.running[name][1]])
                    result.batch = loop_batch([procs.running[name][1]])
                procs.stop(name)
                if ANALYTICS in procs.running:
                    procs.stop(ANALYTICS)
                results.append(result)
                print(f"{name}: {line(result, rate)}", flush=True)
        finally:
            procs.stop_all()
            broker.stop()
    return results


def run_workers(args, procs: Processes, cmd: list[str], env: dict, source: str, sink: str,
                key: PseudonymKey, rate: float | None, folder: Path) -> list[Result]:
    """The router pipeline with W workers in one consumer group, for each W of
    ``--workers`` in turn, each on a broker of its own started for it (so that no run
    starts with another's topics to read: a worker that takes over ``hub.facts`` or
    ``hub.linkage`` rebuilds from them, which would be measured too). Every process's CPU
    over the measured window is noted."""
    results = []
    n = int(rate * args.seconds) if rate else args.n
    plan = plan_topics(load_agencies())
    for w in args.workers:
        name = "router" if w == 1 else f"router x{w}"
        home = folder / f"workers-{w}"
        broker = LocalBroker(home, free_port(), free_port())
        try:
            broker.start(progress=lambda m: None)
            prepare_topics(broker.bootstrap, plan)
            consents, events = make_events(n, args.children, key, tag=f"w{w}-")
            workers = [f"{name} worker-{k}" for k in range(w)]
            print(f"{name}: starting {w} worker(s) on a broker of their own ...", flush=True)
            wenv = dict(env, HUB_BOOTSTRAP_SERVERS=broker.bootstrap, HUB_HOME=str(home))
            watch, role = {}, []
            if args.analytics == "apart":
                watch, role = start_apart(procs, cmd, wenv, broker), ["--role", "router"]
            for k, worker in enumerate(workers):
                procs.start(worker, [*cmd, *role], dict(wenv, HUB_WORKER_ID=f"bench-{k}"),
                            "Worker]: Ready")
            wait_for_group(broker.bootstrap, APP_ID, w)
            watch.update({worker: procs.running[worker][0].pid for worker in workers})
            watch["broker (java)"] = broker.status().pid
            watch["bench (its clients)"] = os.getpid()
            recorders = {worker: spy(procs.running[worker][0].pid,
                                     profile_path(args.profile, w, k), 100)
                         for k, worker in enumerate(workers)} if args.profile else {}
            result = measure(name, broker.bootstrap, source, sink, events, consents, rate,
                             args.drain_timeout, watch=watch)
            for k, recorder in enumerate(recorders.values()):
                stop_spy(recorder)
                print(f"{workers[k]} profile (py-spy, raw): {profile_path(args.profile, w, k)}",
                      flush=True)
            result.phases = loop_phases([procs.running[w][1] for w in workers])
            result.batch = loop_batch([procs.running[w][1] for w in workers])
            for worker in [*workers, *([ANALYTICS] if ANALYTICS in procs.running else [])]:
                procs.stop(worker)
        finally:
            broker.stop()
        results.append(result)
        print(f"{name}: {line(result, rate)}", flush=True)
    return results


def profile_path(profile: str, workers: int, k: int) -> Path:
    """Where ``--profile FILE`` records worker ``k`` of a run with ``workers`` workers
    (``FILE`` with ``-w<workers>-<k>`` before its suffix)."""
    path = Path(profile)
    return path.with_name(f"{path.stem}-w{workers}-{k}{path.suffix}")


ANALYTICS = "analytics (apart)"


def start_apart(procs: Processes, cmd: list[str], env: dict, broker: LocalBroker
                ) -> dict[str, int | None]:
    """``--analytics apart``: the analytics aggregator in a worker of its own (``hub run
    --role analytics``), started before the routers; returns the processes whose CPU the
    result lists (the aggregator, the broker, the benchmark's clients; the routers are
    added by the caller)."""
    print(f"{ANALYTICS}: starting ...", flush=True)
    procs.start(ANALYTICS, [*cmd, "--role", "analytics"], dict(env, HUB_WORKER_ID="bench-a"),
                "Worker]: Ready")
    return {ANALYTICS: procs.running[ANALYTICS][0].pid,
            "broker (java)": broker.status().pid, "bench (its clients)": os.getpid()}


PHASES = re.compile(r"deciding (\d+) %, waiting for acknowledgements (\d+) %, for input "
                    r"(\d+) %")


def loop_phases(logs: list[Path]) -> dict[str, float]:
    """The mean shares of the router's batch loop over the progress lines of the workers'
    logs (each line covers 1,000 messages): deciding, waiting for acknowledgements, for
    input."""
    found = [tuple(map(int, m.groups())) for log in logs
             for m in PHASES.finditer(log.read_text(errors="replace"))]
    if not found:
        return {}
    return {phase: sum(f[i] for f in found) / len(found)
            for i, phase in enumerate(("deciding", "acknowledgements", "input"))}


PROGRESS = re.compile(r"(\d+) messages processed in (\d+) batches")


def loop_batch(logs: list[Path]) -> float | None:
    """The mean messages per batch of the router's loop, between the first and the last
    progress line of each worker's log (after its first 1,000 messages: about the
    measured window)."""
    messages = batches = 0
    for log in logs:
        found = [tuple(map(int, m.groups()))
                 for m in PROGRESS.finditer(log.read_text(errors="replace"))]
        if len(found) >= 2:
            messages += found[-1][0] - found[0][0]
            batches += found[-1][1] - found[0][1]
    return messages / batches if batches else None


def wait_for_group(bootstrap: str, group: str, members: int, timeout: float = 180) -> None:
    """Until ``group`` is stable with ``members`` members (every worker has its share of
    the partitions before anything is measured)."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        try:
            with admin_client(bootstrap) as admin:
                found = admin.describe_groups([group]).get(group) or {}
            seen = (found.get("group_state"), len(found.get("members") or ()))
        except Exception as exc:  # noqa: BLE001 - the group may not be known yet
            seen = (repr(exc), 0)
        if seen == ("Stable", members):
            return
        time.sleep(1)
    raise RuntimeError(f"consumer group {group} not stable with {members} members within "
                       f"{timeout:.0f} s (last seen: {seen})")


def cpu_table(r: Result) -> str:
    """Where the CPU went over ``r``'s window: each process, the rest of the machine, and
    the machine's capacity (cores x window)."""
    cores = os.cpu_count() or 1
    capacity = r.cpu_s.get("machine total", cores * r.window)
    rows = [(k, v) for k, v in r.cpu_s.items() if not k.startswith("machine")]
    idle = capacity - r.cpu_s.get("machine busy", 0.0)
    text = [f"    CPU over {r.window:.1f} s ({capacity:.1f} CPU s on {cores} cores):"]
    for k, v in [*rows, ("idle", idle)]:
        per = f"{v * 1000 / r.delivered:6.2f} ms/event" if r.delivered else ""
        text.append(f"      {k:<24} {v:7.1f} s  {100 * v / capacity:5.1f} %  {per}")
    return "\n".join(text)


def busy_summary(r: Result) -> str:
    """Where the machine's CPU went over ``r``'s window, in one line (shares of cores x
    window): the workers together, the broker, the benchmark, other processes, idle."""
    capacity = r.cpu_s.get("machine total") or 1.0
    workers = sum(v for k, v in r.cpu_s.items() if k.startswith(r.name))
    parts = [("its workers", workers)] + [
        (k, v) for k, v in r.cpu_s.items()
        if not k.startswith((r.name, "machine"))]
    parts.append(("idle", capacity - r.cpu_s.get("machine busy", 0.0)))
    return ", ".join(f"{k} {100 * v / capacity:.0f} %" for k, v in parts)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms" if seconds != float("inf") else "   never   "


def line(r: Result, rate: float | None) -> str:
    text = (f"{r.delivered:>7,} of {r.sent:,} events  {r.rate:>8,.0f} events/s  "
            f"p50 {ms(r.p50)}  p99 {ms(r.p99)}")
    if r.cpu_ms is not None:
        text += f"  CPU {r.cpu_ms:.2f} ms/event"
    if rate:
        text += (f"  offered {r.offered:,.0f}/s  backlog {r.backlog:,}  drain "
                 f"{r.drain:.1f} s  {'FELL BEHIND' if r.behind(rate) else 'KEPT UP'}")
    return text


def report(results: list[Result], rate: float | None) -> None:
    by = {r.name: r for r in results}
    print()
    print("steady load" if rate else "burst", "summary:")
    for r in results:
        print(f"  {r.name:<9} {line(r, rate)}")
    if rate:
        router = by["router"]
        if router.offered < 0.95 * rate:
            print(f"  note: the sender offered only {router.offered:,.0f} events/s of the "
                  f"{rate:,.0f} asked")
        if router.behind(rate):
            left = router.sent - router.delivered
            drained = (f"draining took {router.drain:.1f} s" if not left else
                       f"{left:,} were still undelivered {router.drain:.0f} s later")
            print(f"  the router FELL BEHIND the offered load: it delivered "
                  f"{router.rate:,.0f} events/s of {rate:,.0f} offered, {router.backlog:,} "
                  f"events were undelivered when sending stopped, {drained}")
        else:
            print(f"  the router KEPT UP with {rate:,.0f} events/s: p50 "
                  f"{ms(router.p50).strip()}, p99 {ms(router.p99).strip()} end to end")
        return

    def ratio(a: str, b: str) -> str:
        if a not in by or b not in by:
            return "not run"
        return f"{by[a].rate / by[b].rate:.3f}" if by[b].rate else "n/a"

    print(f"  throughput ratios: router/faust-batched {ratio('router', 'faust-batched')}, "
          f"router/faust {ratio('router', 'faust')}, "
          f"router/aiokafka {ratio('router', 'aiokafka')}, "
          f"faust/aiokafka {ratio('faust', 'aiokafka')}")
    for r in results:
        if r.cpu_s or r.phases:
            print(f"  {r.name}:")
        if r.cpu_s:
            print(cpu_table(r))
        if r.phases:
            print("    the router's batch loop (its progress lines, mean): " + ", ".join(
                f"{phase} {share:.0f} %" for phase, share in r.phases.items())
                + (f"; {r.batch:,.0f} messages a batch" if r.batch else ""))
    for r in results:
        if r.name.startswith("router x") and "router" in by:
            print(f"  {r.name}/router (one worker): {ratio(r.name, 'router')}")
            if by["router"].rate and r.rate < 1.3 * by["router"].rate:
                print(f"  {r.name} is below 1.3x one worker: {busy_summary(r)}")


def worker_counts(text: str) -> list[int]:
    """``--workers``: comma-separated worker counts, each at least 1."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: worker counts, e.g. 1,2") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: each worker count is at least 1")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000,
                        help="handover requests in burst mode (default 20,000)")
    parser.add_argument("--children", type=int, default=5000,
                        help="children the requests are spread over (default 5,000)")
    parser.add_argument("--steady", type=float, metavar="RATE",
                        help="steady load: RATE events a second instead of a burst")
    parser.add_argument("--seconds", type=float, default=60,
                        help="how long the steady load lasts (default 60)")
    parser.add_argument("--drain-timeout", type=float, metavar="S",
                        help="wait at most S seconds after the last send for the rest "
                        "(default 900 in burst mode, 120 with --steady); what has not "
                        "arrived by then counts as never delivered")
    parser.add_argument("--only", action="append",
                        choices=("aiokafka", "faust", "faust-batched", "router"),
                        help="run only this pipeline (may be given more than once; the "
                        "ratios need all three)")
    parser.add_argument("--workers", type=worker_counts, default=[1], metavar="W[,W...]",
                        help="the router pipeline with W workers in one consumer group, "
                        "each W in turn (e.g. 1,2: the ratio of two workers to one); lists "
                        "the CPU of every process over each measured window")
    parser.add_argument("--analytics", choices=("inside", "apart"), default="inside",
                        help="inside (default): the router's workers aggregate the analytics "
                        "too (`hub run`); apart: they only route (`--role router`) and one "
                        "more worker aggregates (`--role analytics`), its CPU listed beside "
                        "theirs but not in their CPU per event")
    parser.add_argument("--profile", metavar="FILE",
                        help="record the router worker with py-spy while it is measured "
                        "(folded stacks, as `py-spy record --format raw` writes them); "
                        "with --workers, each worker of each run, into FILE-w<W>-<k>")
    parser.add_argument("--rounds", type=int, default=1, metavar="R",
                        help="run everything R times, each round on a broker of its own, "
                        "and report every round's figures and the median of the router's "
                        "ratios to faust-batched (the machine's noise shows in their spread)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds: at least 1, not {args.rounds}")
    if args.drain_timeout is None:
        args.drain_timeout = 120.0 if args.steady else 900.0
    signal.signal(signal.SIGTERM, terminate)
    rounds = []
    try:
        for r in range(args.rounds):
            if args.rounds > 1:
                print(f"round {r + 1} of {args.rounds} (a broker of its own)", flush=True)
            rounds.append(run(args))
            report(rounds[-1], args.steady)
    except KeyboardInterrupt:
        print("interrupted: every process stopped, broker stopped", file=sys.stderr)
        sys.exit(130)
    if len(rounds) > 1:
        report_rounds(rounds)


def report_rounds(rounds: list[list[Result]]) -> None:
    """Each pipeline's rate and CPU per event in every round, and the router's ratios to
    the batched Faust loop (throughput, and CPU per event) with their median: the figures
    to compare across runs on a noisy machine."""
    print(f"\nover {len(rounds)} rounds:")
    names = [r.name for r in rounds[0]]
    for name in names:
        got = [next((r for r in results if r.name == name), None) for results in rounds]
        rates = "; ".join(f"{r.rate:,.0f}" if r else "-" for r in got)
        cpu = "; ".join(f"{r.cpu_ms:.2f}" if r and r.cpu_ms is not None else "-"
                        for r in got)
        print(f"  {name:<14} events/s {rates}   CPU ms/event {cpu}")
    if "router" not in names or "faust-batched" not in names:
        return
    pairs = [({r.name: r for r in results}["router"],
              {r.name: r for r in results}["faust-batched"]) for results in rounds]
    rate = [router.rate / batched.rate for router, batched in pairs if batched.rate]
    print("  router/faust-batched, events/s: " + "; ".join(f"{x:.3f}" for x in rate)
          + (f"   median {statistics.median(rate):.3f}" if rate else ""))
    cpu = [router.cpu_ms / batched.cpu_ms for router, batched in pairs
           if router.cpu_ms and batched.cpu_ms]
    if cpu:
        print("  router/faust-batched, CPU per event: " + "; ".join(f"{x:.1f}x" for x in cpu)
              + f"   median {statistics.median(cpu):.1f}x")


if __name__ == "__main__":
    main()
