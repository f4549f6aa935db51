"""Everything of the hub that touches faust-streaming's (and mode's) internals.

The worker runs on faust-streaming 0.15.3 (pinned in pyproject.toml) with aiokafka 0.14. It
patches eight of Faust's methods, overrides two of its worker's private hooks, and reads
Faust's private consumer and store state. All of that is in this package, and every
internal it uses is listed in :mod:`hub.faust.checks`: :func:`~hub.faust.checks.check_faust`
refuses, at the worker's start, a Faust that lacks one, naming it and the pinned version.
Nothing here falls back silently when an internal is missing.

Modules:

- :mod:`~hub.faust.checks`: the list of internals and the start-up check;
- :mod:`~hub.faust.patches`: the eight patches (installed by ``hub.worker.build_app``);
- :mod:`~hub.faust.flow_guard`: the flow guard, a timer that gets stalled partitions going;
- :mod:`~hub.faust.tables`: Faust's table stores, read and written by partition (for
  the router's tables, :mod:`hub.routing.tables`);
- :mod:`~hub.faust.worker`: Faust's worker with the two overridden hooks;
- :mod:`~hub.faust.io`: raw topics, and the committed offsets for the lag gauge.

The patches (:mod:`hub.faust.patches`)
--------------------------------------

The agency outboxes and ``hub.ticks`` are neither compacted nor written in transactions:
their offsets have no holes (``hub.worker.build_app`` names them to :func:`apply
<hub.faust.patches.apply>`). Faust commits per partition the offsets its
streams have acknowledged, up to the first one missing. Patches 1 and 2 make that commit
stop at a record that never reached the stream; the flow guard then reads the partition
again. Patches 3 and 4 remove the two causes of such records at a worker's start.

1. **A gap on a gapless topic is read again** (``Consumer._add_gap``). *Changes:* on the
   router's sources a jump in the offsets Faust reads is not counted as done; it is
   logged, counted (``hub_partitions_read_again_total{cause="gap"}``) and noted in
   ``patches.GAPS``, and the flow guard reads the partition again from its commit.
   *Defect:* Faust takes every jump for records that compaction or transaction markers
   removed and counts it as acknowledged. During a rebalance (a killed worker, one that
   joins, under load) Faust drops records on their way to a stream, and the commit passed
   them: events were lost. *Can go:* when Faust no longer drops records on their way to a
   stream, or tells a hole in the topic from a record it dropped. Test: with the patch
   taken out, tests/integration/test_two_workers.py and test_exactly_once.py still lose
   nothing, run several times.
2. **No commit past a missing record at the committed offset** (``Consumer._new_offset``).
   *Changes:* on the gapless topics nothing is committed while the record at the committed
   offset (the next one to process) is not acknowledged. *Defect:* Faust's check whether
   the first acknowledged offset follows the committed one lets one offset pass
   (``min(acked) - committed > 1``; on a compacted topic that record may be gone), so a
   single record dropped right at the commit was skipped. Upstream has had its own
   trouble here (faust-streaming issues #312 and #606). *Can go:* with patch 1, under the
   same test; tests/hub/test_flow_guard.py's
   ``test_faust_commits_up_to_a_dropped_record_on_outboxes_only`` shows the difference.
3. **Stream partitions are sought while still paused** (``Recovery.on_recovery_completed``,
   ``Recovery._resume_streams``, ``Consumer.perform_seek``). *Changes:* after a table
   restore the partitions are sought to their commits first, and Faust's own seek right
   after it resumed them is left out. *Defect:* Faust resumes the stream partitions
   *before* it seeks them. A batch fetched in between is still on its way to the stream
   when the seek sets the read offsets back: records that did arrive looked like a gap
   and were read again, and those fetched again after the seek were dropped as old, at
   every restart (compare faust-streaming issue #216). *Can go:* when faust/tables/
   recovery.py seeks before it resumes. Test:
   ``test_stream_partitions_are_sought_while_paused_not_after_they_are_resumed`` with
   Faust's own order; in the worker's log, no "did not reach the stream" line after a
   restart under load (tests/integration/test_takeover.py restarts a worker).
4. **The Kafka client gets a copy of the active partitions, never an empty set**
   (``AIOKafkaConsumerThread.getmany``). *Changes:* ``getmany`` hands aiokafka a frozen
   copy taken when the fetch starts, and fetches nothing for an empty one. *Defect:* Faust
   passes its own live set; when it empties while aiokafka waits (Faust pauses the
   changelog partitions once a restore is done), aiokafka takes the empty set for every
   partition and returns records of paused stream partitions. Faust drops them, and the
   client has moved past them. *Can go:* when Faust passes a copy and skips an empty set
   (robinhood/faust once did, in its pull request #69). Test:
   ``test_the_kafka_client_is_never_handed_an_empty_or_a_live_set_of_partitions``
   against Faust's own method.
5. **A stopping worker lets its table databases go without a garbage collection each**
   (``RocksDBStore.stop``). *Changes:* the store's databases are dropped, no
   ``gc.collect()``. *Defect:* Faust collects the whole heap after closing each table's
   store: 1.5-2 s each with a worker's heap after a backlog, 12 s of the 30 s a stop may
   take. *Can go:* when Faust's store stop no longer runs a full collection. Test:
   ``test_a_stopping_worker_lets_its_databases_go_without_a_full_collection_per_table``
   against Faust's own ``stop``.
6. **Every RocksDB database shares one memory budget** (``RocksDBOptions.as_options``
   and ``RocksDBOptions.open``, installed by ``share_rocksdb_memory`` for the
   ``rocksdb://`` store only). *Changes:* one block cache of 128 MiB for all of a worker's
   databases, their write buffers charged to it; ``open`` gives the options for the
   database's column family too. *Defect:* Faust gives each database (a table partition:
   36 here) a cache and write buffers of its own, and has no setting for a shared one; a
   worker reached 911 MiB after a long backlog. And rocksdict 0.3 opens the column family
   of a database that exists with RocksDB's default table options, so after a restart each
   database had a cache of 8 MiB of its own and no bloom filter. *Can go:* when Faust's
   RocksDB options accept a shared cache and write buffer manager, and its ``open`` passes
   the column family's options. Tests: ``test_every_table_database_shares_one_memory_budget``,
   ``test_a_table_database_opened_again_keeps_the_shared_cache_and_its_bloom_filter``.
7. **The worker's producer is idempotent** (``Producer._settings_extra`` of Faust's
   aiokafka driver). *Changes:* ``acks=all`` and ``enable_idempotence`` without
   transactions. *Defect:* Faust turns idempotence on only with exactly-once transactions
   and has no setting for it; when a broker failed over, the client sent again what it
   could not confirm and the new leader got it twice (24 of 1,000 inbox events doubled).
   *Can go:* when Faust has a producer setting for idempotence. Test:
   tests/integration/test_cluster.py, a killed leader doubles nothing.
8. **A record reaches its stream without four tasks** (``Consumer.wait_first``, for the
   one call of ``Consumer._drain_messages`` that hands a record to the streams; the module
   :mod:`hub.faust.hand_over`). *Changes:* the hand-over runs inline up to where it would
   wait; only one that waits is raced, in a task, against the suspended flow, as Faust
   races every one. *Defect:* not a fault, a cost: Faust made four tasks per record and
   cancelled three, about a tenth of a router worker's CPU. *Can go:* when Faust hands
   records over without a task each. Tests: tests/hub/test_hand_over.py; the exactly-once,
   takeover and two-worker tests (rebalances suspend the flow).

The overrides and direct reads
------------------------------

- **The flow guard** (:class:`hub.faust.flow_guard.FlowGuard`), a timer every 5 s that
  calls the consumer's ``on_buffer_full``, ``on_buffer_drop``, ``seek_wait`` and
  ``perform_seek`` and reads its ``_buffered_partitions``, ``_committed_offset`` and
  ``_read_offset``. It works around two flaws of Faust's flow control: a partition paused
  when the stream buffer filled (a backlog after a restart) is not always fetched from
  again once the buffer drained; and a record dropped during a rebalance leaves the
  partition's commit standing still (patches 1 and 2) with records left. Either way the
  stream stalled with lag left. *Can go:* when tests/integration/test_two_workers.py and
  test_outage.py's backlog drain pass with the guard's timer left out, and
  ``hub_partitions_read_again_total`` stays 0 in them.
- **The worker's signal handlers** (:class:`hub.faust.worker.HubWorker` overrides mode's
  private ``Worker._on_sigint`` and ``_on_sigterm``). *Changes:* the worker exits 25 s
  after the first SIGTERM or Ctrl-C, at once after a second. *Defect:* Faust's stop
  commits what it can and waits for the broker as long as it takes; a worker stopped while
  its broker was gone ran on for half an hour. *Can go:* when mode's worker bounds its
  shutdown (test_outage.py: SIGTERM stops the worker while the broker is away). It also
  overrides the public hook ``on_setup_root_logger`` to summarise the Kafka client's
  connection errors (:mod:`hub.connectivity`).
- **The router's tables** (``hub.routing.tables.ChangelogTable``) read and write
  Faust's stores directly through :class:`hub.faust.tables.TableStore` (RocksDB:
  ``_db_for_partition``, ``set_persisted_offset``; memory: ``data``, ``_key_partition``)
  and write Faust's changelog format. Not a defect workaround but a bypass of Faust's
  per-key path, which cost a good part of an event;
  :meth:`~hub.faust.tables.TableStore.check` compares the encoding with Faust's at
  start-up. *Can go:* if Faust gets a batch read and write by partition. On disk, the
  tables' changelog topics are Faust's own (``Collection._new_changelog_topic``) built
  with the raw serializer (:func:`hub.faust.tables.read_changelog_raw`): a recovery or
  standby copy hands the RocksDB store the records' bytes, which it writes as they came
  (``Store.apply_changelog_batch``), without Faust decoding each from JSON first only to
  drop the result; ``check`` makes sure the records arrive undecoded.
- **The router's sends** (:class:`hub.faust.batch_send.BatchSender`) go past Faust's
  ``Producer.send`` to its aiokafka producer (``app.producer._producer``): the public
  ``create_batch`` and ``send_batch``, and the private ``_partitioner``, ``_metadata`` and
  ``client._wait_on_metadata`` that ``send`` itself uses, so that each record lands in the
  partition ``send`` would choose. Not a defect workaround but a bypass of the per-record
  path (a future and a partitioner call per record). Each of those is checked at the first
  send (:func:`hub.faust.batch_send.check_batch_producer`), which refuses, naming it, an
  aiokafka without it; there is no fallback. *Can go:* if Faust gets a batch send.
- **The consumer lag gauge** (``hub.worker.register_lag_gauge``) reads the consumer's
  ``_committed_offset`` (:func:`hub.faust.io.committed_offsets`): Faust has no public
  accessor for the offsets it committed.
- **The batch loops** of the router (``hub.routing.runtime.RouterRuntime``) and of the
  linkage stage (``hub.linkage.agent``) rely on ``Stream.take_events`` acknowledging a
  batch only when the loop asks for the next one.

Changing the pin: install the new Faust, run ``check_faust`` (``hub run`` does), then for
each entry above read the upstream code it names and run its test with the patch taken
out; remove what the new version fixes, and the entry here with it.
"""
