"""Disclosure control for published count tables: what analysts may and may not see."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from hub.analytics.suppression import (
    PublishedTable,
    Suppression,
    recoverable_cells,
    recoverable_totals,
    suppress,
)

ROWS = ("a", "b", "c")
COLUMNS = ("x", "y", "z")


def table(*rows: tuple[int, ...]) -> dict[tuple[str, str], int]:
    """Counts for the 3x3 test grid, one tuple per row."""
    return {
        (r, c): v
        for r, values in zip(ROWS, rows, strict=True)
        for c, v in zip(COLUMNS, values, strict=True)
    }


# --- an independent attacker: exact linear algebra over all published equations --------------


def _entries(t: PublishedTable) -> dict[tuple, int | None]:
    values: dict[tuple, int | None] = {("cell", r, c): v for (r, c), v in t.cells.items()}
    values.update({("row", r): v for r, v in t.row_totals.items()})
    values.update({("column", c): v for c, v in t.column_totals.items()})
    values[("grand",)] = t.grand_total
    return values


def _equations(t: PublishedTable) -> list[dict[tuple, int]]:
    """Each equation maps entries to coefficients, summing to zero."""
    eqs = []
    for r in t.rows:
        eqs.append({("cell", r, c): 1 for c in t.columns} | {("row", r): -1})
    for c in t.columns:
        eqs.append({("cell", r, c): 1 for r in t.rows} | {("column", c): -1})
    eqs.append({("row", r): 1 for r in t.rows} | {("grand",): -1})
    eqs.append({("column", c): 1 for c in t.columns} | {("grand",): -1})
    return eqs


def solvable_by_linear_algebra(t: PublishedTable) -> set[tuple]:
    """Suppressed entries whose value the published values pin down (Gaussian elimination)."""
    values = _entries(t)
    unknowns = sorted(key for key, v in values.items() if v is None)
    index = {key: i for i, key in enumerate(unknowns)}
    basis: list[list[Fraction]] = []  # reduced rows, each with a distinct pivot
    pivots: list[int] = []
    for eq in _equations(t):
        vec = [Fraction(0)] * len(unknowns)
        for key, coef in eq.items():
            if key in index:
                vec[index[key]] += coef
        _reduce(vec, basis, pivots)
        if any(vec):
            pivot = next(i for i, x in enumerate(vec) if x)
            vec = [x / vec[pivot] for x in vec]
            for row in basis:
                if row[pivot]:
                    factor = row[pivot]
                    for i in range(len(row)):
                        row[i] -= factor * vec[i]
            basis.append(vec)
            pivots.append(pivot)
    found = set()
    for key in unknowns:
        unit = [Fraction(0)] * len(unknowns)
        unit[index[key]] = Fraction(1)
        _reduce(unit, basis, pivots)
        if not any(unit):
            found.add(key)
    return found


def _reduce(vec: list[Fraction], basis: list[list[Fraction]], pivots: list[int]) -> None:
    for row, p in zip(basis, pivots, strict=True):
        if vec[p]:
            factor = vec[p]
            for i in range(len(vec)):
                vec[i] -= factor * row[i]


def as_entries(cells: set[tuple[str, str]], totals: set[tuple[str, str | None]]) -> set[tuple]:
    out: set[tuple] = {("cell", r, c) for r, c in cells}
    for kind, name in totals:
        out.add((kind,) if kind == "grand" else (kind, name))
    return out


# --- primary suppression -----------------------------------------------------------------------


def test_cells_below_k_are_suppressed_zeros_and_cells_at_k_are_published():
    counts = table((2, 0, 12), (3, 9, 20), (4, 5, 15))
    primary_only = suppress(counts, ROWS, COLUMNS, k=5, complementary=False)
    assert primary_only.suppressed_cells() == {("a", "x"), ("b", "x"), ("c", "x")}
    assert primary_only.cells[("c", "y")] == 5  # exactly k is published
    assert primary_only.cells[("b", "z")] == 20

    t = suppress(counts, ROWS, COLUMNS, k=5)
    assert t.primary_cells() == {("a", "x"), ("b", "x"), ("c", "x")}
    assert t.cells[("a", "y")] == 0  # zero published as zero, never hidden as a partner
    assert t.cell_reasons[("a", "x")] is Suppression.PRIMARY
    assert t.describe_cell("a", "x") == "suppressed (fewer than k)"
    assert t.describe_cell("a", "y") == "0"


def test_k_is_a_parameter():
    counts = table((2, 0, 12), (3, 9, 20), (4, 5, 15))
    at_three = suppress(counts, ROWS, COLUMNS, k=3, complementary=False)
    at_five = suppress(counts, ROWS, COLUMNS, k=5, complementary=False)
    assert at_three.suppressed_cells() == {("a", "x")}
    assert at_three.cells[("b", "x")] == 3
    assert at_five.suppressed_cells() == {("a", "x"), ("b", "x"), ("c", "x")}
    assert suppress(counts, ROWS, COLUMNS).k == 5  # default


# --- complementary suppression -----------------------------------------------------------------


def test_primary_suppression_alone_reveals_a_cell_by_subtraction_complementary_does_not():
    counts = table((3, 8, 9), (6, 7, 12), (10, 11, 13))
    naive = suppress(counts, ROWS, COLUMNS, complementary=False)
    assert naive.suppressed_cells() == {("a", "x")}
    assert recoverable_cells(naive) == {("a", "x")}
    # The attack: row total minus the published cells of the row.
    assert naive.row_totals["a"] - naive.cells[("a", "y")] - naive.cells[("a", "z")] == 3

    safe = suppress(counts, ROWS, COLUMNS)
    assert safe.cells[("a", "x")] is None
    assert len(safe.suppressed_cells()) >= 4  # a lone cell in a 2-D table needs three partners
    assert safe.complementary_cells()
    assert recoverable_cells(safe) == set()
    assert solvable_by_linear_algebra(safe) == set()
    partner = next(iter(safe.complementary_cells()))
    assert safe.describe_cell(*partner) == "suppressed (protects another cell)"


def test_complementary_suppression_in_a_row_cascades_into_columns():
    counts = table((2, 10, 7), (8, 9, 15), (12, 11, 6))
    t = suppress(counts, ROWS, COLUMNS)
    assert t.primary_cells() == {("a", "x")}
    # Row a: smallest partner is (a,z)=7. That leaves (a,z) alone in column z -> (c,z)=6, and
    # (a,x) alone in column x -> (b,x)=8; rows b and c then each need one more: (b,y), (c,y).
    assert t.complementary_cells() == {("a", "z"), ("b", "x"), ("c", "z"), ("b", "y"), ("c", "y")}
    assert recoverable_cells(t) == set()
    assert solvable_by_linear_algebra(t) == set()
    assert all(v is not None for v in t.row_totals.values())
    assert all(v is not None for v in t.column_totals.values())


def test_ties_between_partner_candidates_go_to_the_first_column():
    counts = table((2, 7, 7), (9, 9, 9), (9, 9, 9))
    t = suppress(counts, ROWS, COLUMNS)
    assert ("a", "y") in t.complementary_cells()
    assert ("a", "z") not in t.suppressed_cells()


def test_row_without_partner_cell_gets_its_total_suppressed():
    # Row b's only non-zero cell is pulled in to protect column x; row b has nothing else to
    # hide with it, so its total goes, which in turn needs a partner among the row totals.
    counts = table((2, 9, 7), (6, 0, 0), (10, 12, 8))
    t = suppress(counts, ROWS, COLUMNS)
    assert ("b", "x") in t.complementary_cells()
    assert t.cells[("b", "y")] == 0 and t.cells[("b", "z")] == 0
    assert t.row_totals["b"] is None
    assert t.row_total_reasons["b"] is Suppression.COMPLEMENTARY
    assert recoverable_cells(t) == set() and recoverable_totals(t) == set()
    assert solvable_by_linear_algebra(t) == set()


def test_row_with_explicit_total_and_a_single_small_cell_gets_its_total_suppressed():
    counts = table((3, 0, 0), (9, 8, 7), (10, 12, 6))
    t = suppress(counts, ROWS, COLUMNS, row_totals={"a": 6, "b": 24, "c": 28})
    assert t.row_totals["a"] is None
    assert t.row_total_reasons["a"] is Suppression.COMPLEMENTARY
    assert t.cells[("a", "y")] == 0 and t.cells[("a", "z")] == 0
    assert solvable_by_linear_algebra(t) == set()


def test_small_marginal_totals_are_suppressed_and_protected_against_the_grand_total():
    counts = table((1, 2, 0), (9, 8, 7), (10, 12, 6))
    naive = suppress(counts, ROWS, COLUMNS, complementary=False)
    assert naive.row_total_reasons["a"] is Suppression.PRIMARY
    # Grand total minus the other row totals gives the row total back.
    assert ("row", "a") in recoverable_totals(naive)
    assert naive.grand_total - naive.row_totals["b"] - naive.row_totals["c"] == 3

    t = suppress(counts, ROWS, COLUMNS)
    assert t.row_totals["a"] is None
    assert t.row_total_reasons["a"] is Suppression.PRIMARY
    other_row_totals = {r for r in ("b", "c") if t.row_totals[r] is None}
    assert other_row_totals or t.grand_total is None
    assert recoverable_totals(t) == set() and recoverable_cells(t) == set()
    assert solvable_by_linear_algebra(t) == set()


def test_small_column_total_and_small_grand_total():
    counts = {("a", "x"): 1, ("a", "y"): 0, ("b", "x"): 2, ("b", "y"): 0}
    t = suppress(counts, ("a", "b"), ("x", "y"))
    assert t.grand_total is None and t.grand_total_reason is Suppression.PRIMARY
    assert t.column_totals["x"] is None and t.column_totals["y"] == 0
    assert solvable_by_linear_algebra(t) == set()


# --- properties ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_random_tables_never_publish_small_cells_and_leave_nothing_recoverable(seed):
    rng = random.Random(seed)
    naive_leaks = 0
    for _ in range(50):
        rows = tuple(f"r{i}" for i in range(rng.randint(3, 6)))
        columns = tuple(f"c{j}" for j in range(rng.randint(3, 6)))
        k = rng.choice((3, 5))
        counts = {(r, c): rng.randint(0, 20) for r in rows for c in columns}
        t = suppress(counts, rows, columns, k=k)
        for key, value in t.cells.items():
            if value is None:
                assert counts[key] > 0  # zeros are never hidden here
            else:
                assert value == counts[key]
                assert value == 0 or value >= k
        for r, value in t.row_totals.items():
            total = sum(counts[(r, c)] for c in columns)
            assert value is None or (value == total and (value == 0 or value >= k))
        for c, value in t.column_totals.items():
            total = sum(counts[(r, c)] for r in rows)
            assert value is None or (value == total and (value == 0 or value >= k))
        assert t.grand_total is None or t.grand_total == sum(counts.values())
        assert {key for key, why in t.cell_reasons.items() if why is Suppression.PRIMARY} == {
            key for key, v in counts.items() if 0 < v < k
        }
        assert recoverable_cells(t) == set()
        assert recoverable_totals(t) == set()
        assert solvable_by_linear_algebra(t) == set()

        naive = suppress(counts, rows, columns, k=k, complementary=False)
        found = as_entries(recoverable_cells(naive), recoverable_totals(naive))
        assert found == solvable_by_linear_algebra(naive)
        naive_leaks += bool(found)
    assert naive_leaks > 0  # the random tables do exercise the protection


def test_recoverable_cells_sees_combinations_of_equations_not_just_single_lines():
    # Two separate 2x2 blocks of suppressed cells joined by one more suppressed cell: every
    # row and column holds at least two suppressed cells, yet rows a+b minus columns x+y leave
    # only (a, z) unknown.
    rows, columns = ("a", "b", "c", "d"), ("x", "y", "z", "w")
    hidden = {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y"), ("a", "z")}
    hidden |= {("c", "z"), ("c", "w"), ("d", "z"), ("d", "w")}
    cells = {(r, c): (None if (r, c) in hidden else 10) for r in rows for c in columns}
    t = PublishedTable(
        rows=rows,
        columns=columns,
        cells=cells,
        row_totals={r: 99 for r in rows},
        column_totals={c: 99 for c in columns},
        grand_total=396,
        k=5,
    )
    assert recoverable_cells(t) == {("a", "z")}
    assert as_entries(recoverable_cells(t), set()) == solvable_by_linear_algebra(t)

    counts = {(r, c): (2 if (r, c) in hidden else 10) for r in rows for c in columns}
    safe = suppress(counts, rows, columns)
    assert hidden <= safe.suppressed_cells()
    assert solvable_by_linear_algebra(safe) == set()


def test_same_input_gives_same_output_regardless_of_mapping_order():
    counts = table((2, 10, 7), (8, 9, 15), (12, 11, 6))
    shuffled = dict(reversed(list(counts.items())))
    first = suppress(counts, ROWS, COLUMNS)
    assert suppress(counts, ROWS, COLUMNS) == first
    assert suppress(shuffled, ROWS, COLUMNS) == first
    assert list(suppress(shuffled, ROWS, COLUMNS).cell_reasons) == list(first.cell_reasons)


# --- input checks --------------------------------------------------------------------------------


def test_missing_cells_count_as_zero():
    t = suppress({("a", "x"): 7}, ROWS, COLUMNS)
    assert t.cells[("b", "z")] == 0
    assert t.grand_total == 7


@pytest.mark.parametrize(
    ("counts", "kwargs"),
    [
        ({("q", "x"): 7}, {}),
        ({("a", "x"): -1}, {}),
        ({("a", "x"): 7}, {"k": 0}),
        ({("a", "x"): 7}, {"row_totals": {"a": 7}}),
    ],
)
def test_bad_input_is_rejected(counts, kwargs):
    with pytest.raises(ValueError):
        suppress(counts, ROWS, COLUMNS, **kwargs)
