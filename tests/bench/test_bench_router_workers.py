"""bench_router's worker counts and its account of where the CPU went."""

from __future__ import annotations

import argparse

import pytest

from bench.bench_router import (
    Result,
    busy_summary,
    cpu_window,
    loop_batch,
    loop_phases,
    worker_counts,
)


def test_worker_counts_are_a_comma_separated_list_of_positive_numbers():
    assert worker_counts("1,2") == [1, 2]
    assert worker_counts("2") == [2]
    for bad in ("0", "1,x", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            worker_counts(bad)


def test_the_machine_time_no_named_process_spent_is_other_processes():
    start = {"w": 1.0, "broker": 10.0, "gone": 3.0, "machine busy": 100.0,
             "machine total": 200.0}
    end = {"w": 4.0, "broker": 12.0, "gone": None, "machine busy": 108.0,
           "machine total": 210.0}
    spent = cpu_window(start, end)
    assert spent["w"] == 3.0 and spent["broker"] == 2.0
    assert "gone" not in spent  # a process that ended is left out, not counted as 0
    assert spent["other processes"] == 3.0
    assert spent["machine total"] == 10.0


def test_two_workers_below_the_goal_are_explained_by_shares_of_the_machine():
    r = Result("router x2", delivered=10, window=5.0, cpu_s={
        "router x2 worker-0": 2.0, "router x2 worker-1": 2.0, "broker (java)": 3.0,
        "other processes": 2.0, "machine busy": 9.0, "machine total": 10.0})
    assert busy_summary(r) == ("its workers 40 %, broker (java) 30 %, other processes 20 %, "
                               "idle 10 %")


def test_the_router_loop_shares_are_read_from_the_progress_lines_of_every_worker(tmp_path):
    one, two = tmp_path / "one.log", tmp_path / "two.log"
    one.write_text("[INFO] 1000 messages processed in 3 batches (since the last line: "
                   "deciding 60 %, waiting for acknowledgements 30 %, for input 10 %)\n"
                   "[INFO] something else\n")
    two.write_text("[INFO] 2000 messages processed in 5 batches (since the last line: "
                   "deciding 80 %, waiting for acknowledgements 10 %, for input 10 %)\n")
    assert loop_phases([one, two]) == {"deciding": 70, "acknowledgements": 20, "input": 10}
    assert loop_phases([tmp_path / "one.log"]) == {"deciding": 60, "acknowledgements": 30,
                                                   "input": 10}


def test_the_mean_batch_is_read_between_the_first_and_last_progress_line(tmp_path):
    one, two = tmp_path / "one.log", tmp_path / "two.log"
    line = ("[INFO] {} messages processed in {} batches (since the last line: deciding 60 %, "
            "waiting for acknowledgements 30 %, for input 10 %)\n")
    one.write_text(line.format(1000, 40) + line.format(2000, 42) + line.format(3000, 44))
    two.write_text(line.format(1200, 10) + line.format(2200, 20))
    assert loop_batch([one]) == 500  # 2,000 messages in 4 batches
    assert loop_batch([one, two]) == 3000 / 14
    assert loop_batch([]) is None
