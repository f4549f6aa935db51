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
  encodings are computed by the connector and are not timed), with each population size.

    python bench/bench_linkage.py [--known 10000,100000] [--per-kind 200] [--seed 21]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.linkage_data import cases, population  # noqa: E402
from connectors.encodings import encode  # noqa: E402
from hub.linkage.decide import Outcome, decide  # noqa: E402
from hub.linkage.index import LinkageIndex  # noqa: E402

KEY = b"bench-linkage-key-0123456789abcdef"


def build_index(people) -> LinkageIndex:
    index = LinkageIndex()
    for i, p in enumerate(people):
        enc = encode(KEY, p.given, p.family, p.birth)
        # a known child whose encodings equal another's (same names and date) is one child
        index.add(f"child-{i}", enc)
    return index


def run(known: int, per_kind: int, seed: int) -> dict:
    rng = random.Random(seed)
    people = population(known, rng)
    started = time.perf_counter()
    index = build_index(people)
    filed = time.perf_counter() - started
    labelled = cases(people, rng, per_kind)
    encoded = [(case, encode(KEY, case.person.given, case.person.family, case.person.birth))
               for case in labelled]
    results, times = [], []
    for case, enc in encoded:
        t0 = time.process_time_ns()
        decision = decide(enc, index.candidates(enc))
        times.append((time.process_time_ns() - t0) / 1e6)
        results.append((case, decision))
    return {"known": known, "filed_s": filed, "results": results, "times": times,
            "people": people}


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
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--known", default="10000,100000",
                        help="population sizes, comma-separated (default 10000,100000)")
    parser.add_argument("--per-kind", type=int, default=200,
                        help="cases of each kind (default 200)")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    for known in (int(k) for k in args.known.split(",")):
        print(f"filing {known:,} known children ...", file=sys.stderr, flush=True)
        report(run(known, args.per_kind, args.seed))


if __name__ == "__main__":
    main()
