"""Benchmark the linkage decision on labelled, synthetic data (bench/linkage_data.py).

Files a population of known children (their encodings, as the connectors compute them) in
the linkage index, then decides, for spelling variants of known children and for
look-alikes (children nobody knows who resemble a known one), whether the new pseudonym is
the same child, a possible match for the trust office, or a new child. Prints:

* per kind of case, how many were linked, sent for review, or taken for a new child, and
  how many links went to the wrong child;
* precision and recall of the automatic links, recall counting confirmed possible matches
  too, and the share of cases sent for review;
* the time to decide one new pseudonym (CPU time: blocking, comparing, deciding; the
  encodings are computed by the connector and are not timed), with each population size,
  and how many known pseudonyms it is compared with (its blocking candidates);
* the index's memory per known child: the growth of the process's resident memory while
  the population is filed (``--tracemalloc``: the bytes Python allocated for it, slower);
* the CPU time to restore one known child (its record on ``hub.linkage`` read and filed,
  as the worker does on start), on a sample of 5,000;
* a digest of every decision (outcome, candidate, score, reason): equal digests are equal
  decisions.

Each population size runs in a fresh interpreter, so that its memory is its own.

    python bench/bench_linkage.py [--known 10000,50000,100000] [--per-kind 200] [--seed 21]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import multiprocessing
import random
import statistics
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.linkage_data import cases, population  # noqa: E402
from connectors.encodings import encode  # noqa: E402
from hub.contract.linkage import Encodings  # noqa: E402
from hub.linkage.decide import Outcome, decide  # noqa: E402
from hub.linkage.index import LinkageIndex, pack  # noqa: E402

KEY = b"bench-linkage-key-0123456789abcdef"


def build_index(people) -> LinkageIndex:
    index = LinkageIndex()
    for i, p in enumerate(people):
        enc = encode(KEY, p.given, p.family, p.birth)
        # a known child whose encodings equal another's (same names and date) is one child
        index.add(f"child-{i}", enc)
    return index


def rss_bytes() -> int:
    """The process's resident memory (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def restore_figures(people, sample: int = 5000) -> dict:
    """CPU ms to restore one known child (its encodings record read and filed), and the
    bytes Python holds per child for its encodings decoded (what the index kept before it
    packed them: the baseline) and packed, on a sample."""
    records = [encode(KEY, p.given, p.family, p.birth).to_bytes() for p in people[:sample]]
    index = LinkageIndex()
    t0 = time.process_time_ns()
    for i, raw in enumerate(records):
        index.add(f"restored-{i}", Encodings.from_bytes(raw))
    figures = {"restore_ms": (time.process_time_ns() - t0) / 1e6 / len(records)}
    for name, make in (("decoded", Encodings.from_bytes),
                       ("packed", lambda raw: pack(Encodings.from_bytes(raw)))):
        gc.collect()
        tracemalloc.start()
        held = [make(raw) for raw in records]
        figures[name] = tracemalloc.get_traced_memory()[0] / len(held)
        tracemalloc.stop()
        del held
    return figures


def run(known: int, per_kind: int, seed: int, traced: bool = False) -> dict:
    rng = random.Random(seed)
    people = population(known, rng)
    gc.collect()
    rss = rss_bytes()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    index = build_index(people)
    filed = time.perf_counter() - started
    gc.collect()
    memory = {"rss": rss_bytes() - rss}
    if traced:
        memory["traced"] = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    labelled = cases(people, rng, per_kind)
    encoded = [(case, encode(KEY, case.person.given, case.person.family, case.person.birth))
               for case in labelled]
    results, times = [], []
    for case, enc in encoded:
        t0 = time.process_time_ns()
        decision = decide(enc, index.candidates(enc))
        times.append((time.process_time_ns() - t0) / 1e6)
        results.append((case, decision))
    compared = sorted(sum(1 for _ in index.candidates(enc)) for _, enc in encoded)
    return {"known": known, "filed_s": filed, "results": results, "times": times,
            "compared": compared,
            "people": people, "memory": memory, **restore_figures(people)}


def decision_rows(results) -> list[list]:
    """Each case's decision: kind, outcome, candidate child and pseudonym, score, reason."""
    return [[case.kind, d.outcome.value, d.candidate.child if d.candidate else None,
             d.candidate.pseudonym if d.candidate else None, d.score, d.why]
            for case, d in results]


def digest(rows: list[list]) -> str:
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def _same(people, truth: int | None, child: str | None) -> bool:
    """The decision's child is the true one, or a known child with the same names and
    birth date (two filings of one child in the synthetic population)."""
    if truth is None or child is None:
        return False
    other = people[int(child.split("-")[1])]
    return other == people[truth]


def report(run_: dict) -> dict:
    people = run_["people"]
    per_kind: dict[str, Counter] = defaultdict(Counter)
    totals = Counter()
    for case, d in run_["results"]:
        right = _same(people, case.truth, d.candidate.child if d.candidate else None)
        group = "variant" if case.truth is not None else "look-alike"
        if d.outcome is Outcome.SAME:
            key = "linked" if right else "linked WRONG"
        elif d.outcome is Outcome.POSSIBLE:
            key = "review" if right or case.truth is None else "review (other child)"
        else:
            key = "new"
        per_kind[f"{group}: {case.kind}"][key] += 1
        totals[(group, key)] += 1
    print(f"\nknown children: {run_['known']:,} (filed in {run_['filed_s']:.1f} s)")
    print(f"  {'case':<60} {'n':>5} {'linked':>7} {'review':>7} {'new':>5} {'WRONG':>6}")
    for kind, c in sorted(per_kind.items()):
        n = sum(c.values())
        print(f"  {kind:<60} {n:>5} {c['linked']:>7} {c['review']:>7} {c['new']:>5} "
              f"{c['linked WRONG']:>6}")
    variants = sum(n for (g, _k), n in totals.items() if g == "variant")
    cases_n = sum(totals.values())
    linked_right = totals[("variant", "linked")]
    linked_all = linked_right + totals[("variant", "linked WRONG")] + \
        totals[("look-alike", "linked WRONG")]
    reviewed = sum(n for (_g, k), n in totals.items() if k.startswith("review"))
    figures = {
        "precision": linked_right / linked_all if linked_all else 1.0,
        "recall_auto": linked_right / variants,
        "recall_with_review": (linked_right + totals[("variant", "review")]) / variants,
        "review_share": reviewed / cases_n,
        "false_links": linked_all - linked_right,
    }
    times = sorted(run_["times"])
    figures["ms_mean"] = statistics.fmean(times)
    figures["ms_p99"] = times[int(0.99 * (len(times) - 1))]
    print(f"  precision of automatic links {figures['precision']:.3f} "
          f"({figures['false_links']} false links)")
    print(f"  recall: automatic {figures['recall_auto']:.3f}, with confirmed possible matches "
          f"{figures['recall_with_review']:.3f}")
    print(f"  sent for review: {figures['review_share']:.3f} of {cases_n} cases")
    print(f"  time to decide one new pseudonym: mean {figures['ms_mean']:.3f} ms, "
          f"p99 {figures['ms_p99']:.3f} ms (CPU)")
    compared = run_["compared"]
    print(f"  known pseudonyms it is compared with (its blocking candidates): median "
          f"{statistics.median(compared):.0f}, 90 % up to {compared[int(0.9 * len(compared))]}, "
          f"at most {compared[-1]}")
    memory = run_["memory"]
    figures["bytes_per_child"] = memory["rss"] / run_["known"]
    print(f"  index memory per known child: {figures['bytes_per_child']:,.0f} bytes RSS "
          f"growth ({memory['rss'] / 2**20:,.1f} MiB)"
          + (f", {memory['traced'] / run_['known']:,.0f} bytes allocated (tracemalloc)"
             if "traced" in memory else ""))
    print(f"  encodings held per known child: {run_['packed']:,.0f} bytes packed, "
          f"{run_['decoded']:,.0f} bytes decoded (baseline, as kept before): "
          f"ratio {run_['packed'] / run_['decoded']:.2f}")
    print(f"  time to restore one known child: {run_['restore_ms']:.3f} ms (CPU)")
    figures["digest"] = digest(decision_rows(run_["results"]))
    print(f"  decisions digest: {figures['digest']}")
    return figures


def one(known: int, args) -> None:
    """One population size, in its own process."""
    print(f"filing {known:,} known children ...", file=sys.stderr, flush=True)
    run_ = run(known, args.per_kind, args.seed, args.tracemalloc)
    report(run_)
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--known", default="10000,50000,100000",
                        help="population sizes, comma-separated (default 10000,50000,100000)")
    parser.add_argument("--per-kind", type=int, default=200,
                        help="cases of each kind (default 200)")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="count the bytes allocated for the index too (slower)")
    args = parser.parse_args()
    spawn = multiprocessing.get_context("spawn")
    for known in (int(k) for k in args.known.split(",")):
        worker = spawn.Process(target=one, args=(known, args))
        worker.start()
        worker.join()
        if worker.exitcode:
            sys.exit(worker.exitcode)


if __name__ == "__main__":
    main()
