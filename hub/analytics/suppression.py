"""Statistical disclosure control for published count tables (pure, no I/O).

A table counts distinct children ("subjects") per cell, e.g. life phase x event type for one
municipality and one ISO week, and is published with its row totals, column totals and grand
total. Two rules keep individual children from being singled out:

* **Primary suppression**: a cell (or a marginal total) with fewer than ``k`` subjects but more
  than zero is not published. Zeros are published as zeros.
* **Complementary suppression**: no suppressed value may be computable from what *is* published.
  The table with its margins is handled as one extended ``(rows + 1) x (columns + 1)`` grid: the
  row totals form an extra column and the column totals an extra row, both totalled by the grand
  total. Every line of that grid (a row with its total, a column with its total, the row totals
  with the grand total, the column totals with the grand total) is one additive equation.

The protection is checked against an attacker who solves that whole linear system, not just one
equation at a time: a suppressed entry is exactly determined if and only if it is a *bridge* of
the bipartite graph whose nodes are the grid's lines (rows and columns) and whose edges are the
suppressed entries (an entry on a cycle can be shifted by +t/-t around the cycle without changing
any published total; a bridge cannot). :func:`suppress` therefore

1. sweeps the lines (rows, then columns) and gives every line with a lone suppressed entry a
   partner: the smallest non-zero unsuppressed cell of that line (ties: first in row/column
   order), else the line's total; sweeps again until no line has a lone suppressed entry;
2. puts every remaining bridge on a cycle by suppressing one more entry that joins both sides;

and repeats until nothing changes. Explicit totals may be larger than the sum of their cells (a
child can be counted in several cells); the protection still treats every line as additive,
which is the safe assumption.

Not covered: bounds an attacker can derive from non-negativity (a suppressed cell is never
pinned to one value, but its range may be narrow), and differencing between several published
tables (other weeks, other municipalities, overlapping breakdowns).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "PublishedTable",
    "Suppression",
    "check_k",
    "is_primary",
    "recoverable_cells",
    "recoverable_totals",
    "suppress",
]

Cell = tuple[str, str]
# A position in the extended grid: (row index, column index); index len(rows) is the row of
# column totals, index len(columns) the column of row totals; (len(rows), len(columns)) is the
# grand total.
_Pos = tuple[int, int]
# A node of the suppression graph: (0, row index) or (1, column index) of the extended grid.
_Node = tuple[int, int]


class Suppression(enum.Enum):
    """Why a value is absent from a published table."""

    PRIMARY = "primary"
    """The value itself is below ``k`` (and above zero)."""
    COMPLEMENTARY = "complementary"
    """The value is published-safe on its own but would reveal another suppressed value."""

    @property
    def label(self) -> str:
        """The wording analysts and the report show instead of the number."""
        if self is Suppression.PRIMARY:
            return "suppressed (fewer than k)"
        return "suppressed (protects another cell)"


@dataclass(frozen=True)
class PublishedTable:
    """A count table as it may be handed to analysts.

    ``None`` marks a suppressed value; the ``*_reasons`` fields say why (primary or
    complementary) for every suppressed value that :func:`suppress` produced. ``cells`` holds
    every ``(row, column)`` pair, ``row_totals`` every row, ``column_totals`` every column.
    """

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: dict[Cell, int | None]
    row_totals: dict[str, int | None]
    column_totals: dict[str, int | None]
    grand_total: int | None
    k: int
    cell_reasons: dict[Cell, Suppression] = field(default_factory=dict)
    row_total_reasons: dict[str, Suppression] = field(default_factory=dict)
    column_total_reasons: dict[str, Suppression] = field(default_factory=dict)
    grand_total_reason: Suppression | None = None

    def __post_init__(self) -> None:
        expected = {(r, c) for r in self.rows for c in self.columns}
        if set(self.cells) != expected:
            raise ValueError("cells must hold exactly one entry per (row, column) pair")
        if set(self.row_totals) != set(self.rows):
            raise ValueError("row_totals must hold exactly one entry per row")
        if set(self.column_totals) != set(self.columns):
            raise ValueError("column_totals must hold exactly one entry per column")
        for reasons, values in (
            (self.cell_reasons, self.cells),
            (self.row_total_reasons, self.row_totals),
            (self.column_total_reasons, self.column_totals),
        ):
            for key in reasons:
                if key not in values or values[key] is not None:
                    raise ValueError(f"suppression reason given for a published value: {key!r}")
        if self.grand_total_reason is not None and self.grand_total is not None:
            raise ValueError("suppression reason given for a published grand total")

    def suppressed_cells(self) -> set[Cell]:
        """The ``(row, column)`` cells whose value is not published."""
        return {key for key, value in self.cells.items() if value is None}

    def primary_cells(self) -> set[Cell]:
        """Suppressed cells whose own count is below ``k``."""
        return {key for key, why in self.cell_reasons.items() if why is Suppression.PRIMARY}

    def complementary_cells(self) -> set[Cell]:
        """Suppressed cells that are hidden only to protect another value."""
        return {key for key, why in self.cell_reasons.items() if why is Suppression.COMPLEMENTARY}

    def describe_cell(self, row: str, column: str) -> str:
        """The cell as shown to analysts: the number, or the suppression label."""
        value = self.cells[(row, column)]
        if value is not None:
            return str(value)
        return self.cell_reasons.get((row, column), Suppression.COMPLEMENTARY).label


def check_k(k: object) -> int:
    """``k``, the threshold of primary suppression; :class:`ValueError` unless it is a
    positive integer."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return k


def is_primary(count: int, k: int) -> bool:
    """Primary suppression: is a value of ``count`` subjects withheld (fewer than ``k``,
    but not zero)?"""
    return 0 < count < k


def suppress(
    counts: Mapping[Cell, int],
    rows: Sequence[str],
    columns: Sequence[str],
    k: int = 5,
    row_totals: Mapping[str, int] | None = None,
    column_totals: Mapping[str, int] | None = None,
    grand_total: int | None = None,
    *,
    complementary: bool = True,
) -> PublishedTable:
    """Apply primary and complementary suppression to one count table.

    ``counts`` maps ``(row, column)`` to the number of subjects; missing cells count as 0.
    Totals default to the sums of the cells (the grand total to the sum of all cells).
    ``complementary=False`` applies primary suppression only, which is *not* safe to publish
    and exists to show (and test) what the complementary step protects against.

    The result never publishes a value ``0 < v < k`` and, with ``complementary=True``, no
    suppressed value can be computed exactly from the published ones (checked before
    returning).
    """
    rows_t, columns_t = tuple(rows), tuple(columns)
    _check_table(counts, rows_t, columns_t, k)
    grid = _extended_grid(counts, rows_t, columns_t, row_totals, column_totals, grand_total)
    reasons: dict[_Pos, Suppression] = {
        pos: Suppression.PRIMARY for pos, value in sorted(grid.items()) if is_primary(value, k)
    }
    if complementary:
        _protect(grid, reasons, len(rows_t), len(columns_t))
        if _bridges(reasons):  # self-check; _protect only stops when there are none
            raise RuntimeError("complementary suppression left a recoverable value")
    return _published(grid, reasons, rows_t, columns_t, k)


def recoverable_cells(table: PublishedTable) -> set[Cell]:
    """The suppressed cells an attacker can compute exactly from the published values.

    Every row, column and the two margins are additive equations; a suppressed cell is
    recoverable if the published values pin it to a single solution of that system. This covers
    the obvious case (the only suppressed entry of a line whose total is published, repeated
    until nothing more can be solved) and combinations of several equations.
    """
    m, n = len(table.rows), len(table.columns)
    return {
        (table.rows[i], table.columns[j])
        for i, j in _bridges(_suppressed_positions(table))
        if i < m and j < n
    }


def recoverable_totals(table: PublishedTable) -> set[tuple[str, str | None]]:
    """The suppressed totals an attacker can compute exactly, like :func:`recoverable_cells`.

    Returns ``("row", name)``, ``("column", name)`` and ``("grand", None)`` entries.
    """
    m, n = len(table.rows), len(table.columns)
    found: set[tuple[str, str | None]] = set()
    for i, j in _bridges(_suppressed_positions(table)):
        if i < m and j == n:
            found.add(("row", table.rows[i]))
        elif i == m and j < n:
            found.add(("column", table.columns[j]))
        elif i == m and j == n:
            found.add(("grand", None))
    return found


# --- internals -------------------------------------------------------------------------------


def _check_table(
    counts: Mapping[Cell, int], rows: tuple[str, ...], columns: tuple[str, ...], k: int
) -> None:
    """The labels, ``k`` and every count of a table to suppress; ValueError otherwise."""
    _check_labels(rows, "rows")
    _check_labels(columns, "columns")
    check_k(k)
    known_rows, known_columns = set(rows), set(columns)
    for (r, c), value in counts.items():
        if r not in known_rows or c not in known_columns:
            raise ValueError(f"count for unknown cell {(r, c)!r}")
        _check_count(value, f"count of {(r, c)!r}")


def _extended_grid(
    counts: Mapping[Cell, int],
    rows: tuple[str, ...],
    columns: tuple[str, ...],
    row_totals: Mapping[str, int] | None,
    column_totals: Mapping[str, int] | None,
    grand_total: int | None,
) -> dict[_Pos, int]:
    """The table with its margins as one grid (positions as ``_Pos``): the cells, the totals,
    each the sum of its line unless given explicitly."""
    m, n = len(rows), len(columns)
    grid: dict[_Pos, int] = {}
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            grid[(i, j)] = counts.get((r, c), 0)
    for i in range(m):
        grid[(i, n)] = sum(grid[(i, j)] for j in range(n))
    for j in range(n):
        grid[(m, j)] = sum(grid[(i, j)] for i in range(m))
    grid[(m, n)] = sum(grid[(i, n)] for i in range(m))
    if row_totals is not None:
        _check_total_keys(row_totals, rows, "row_totals")
        for i, r in enumerate(rows):
            grid[(i, n)] = _check_count(row_totals[r], f"row total of {r!r}")
    if column_totals is not None:
        _check_total_keys(column_totals, columns, "column_totals")
        for j, c in enumerate(columns):
            grid[(m, j)] = _check_count(column_totals[c], f"column total of {c!r}")
    if grand_total is not None:
        grid[(m, n)] = _check_count(grand_total, "grand total")
    return grid


def _published(
    grid: dict[_Pos, int],
    reasons: dict[_Pos, Suppression],
    rows: tuple[str, ...],
    columns: tuple[str, ...],
    k: int,
) -> PublishedTable:
    """The grid as a :class:`PublishedTable`: every position in ``reasons`` withheld."""
    m, n = len(rows), len(columns)

    def shown(pos: _Pos) -> int | None:
        return None if pos in reasons else grid[pos]

    cell_reasons: dict[Cell, Suppression] = {}
    row_total_reasons: dict[str, Suppression] = {}
    column_total_reasons: dict[str, Suppression] = {}
    for (i, j), why in sorted(reasons.items()):
        if i < m and j < n:
            cell_reasons[(rows[i], columns[j])] = why
        elif i < m:
            row_total_reasons[rows[i]] = why
        elif j < n:
            column_total_reasons[columns[j]] = why
    return PublishedTable(
        rows=rows,
        columns=columns,
        cells={(r, c): shown((i, j)) for i, r in enumerate(rows) for j, c in enumerate(columns)},
        row_totals={r: shown((i, n)) for i, r in enumerate(rows)},
        column_totals={c: shown((m, j)) for j, c in enumerate(columns)},
        grand_total=shown((m, n)),
        k=k,
        cell_reasons=cell_reasons,
        row_total_reasons=row_total_reasons,
        column_total_reasons=column_total_reasons,
        grand_total_reason=reasons.get((m, n)),
    )


def _check_labels(labels: tuple[str, ...], what: str) -> None:
    if not labels:
        raise ValueError(f"{what} must not be empty")
    if len(set(labels)) != len(labels):
        raise ValueError(f"{what} must be unique")


def _check_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def _check_total_keys(totals: Mapping[str, int], labels: tuple[str, ...], what: str) -> None:
    if set(totals) != set(labels):
        raise ValueError(f"{what} must hold exactly one total per label")


def _suppressed_positions(table: PublishedTable) -> set[_Pos]:
    m, n = len(table.rows), len(table.columns)
    found = {
        (i, j)
        for i, r in enumerate(table.rows)
        for j, c in enumerate(table.columns)
        if table.cells[(r, c)] is None
    }
    found |= {(i, n) for i, r in enumerate(table.rows) if table.row_totals[r] is None}
    found |= {(m, j) for j, c in enumerate(table.columns) if table.column_totals[c] is None}
    if table.grand_total is None:
        found.add((m, n))
    return found


def _lines(m: int, n: int) -> Iterable[tuple[list[_Pos], _Pos]]:
    """Every additive line of the extended grid with the position of its total, in fixed order:
    the rows (then the row of column totals), then the columns (then the column of row totals)."""
    for i in range(m + 1):
        yield [(i, j) for j in range(n + 1)], (i, n)
    for j in range(n + 1):
        yield [(i, j) for i in range(m + 1)], (m, j)


def _protect(grid: dict[_Pos, int], reasons: dict[_Pos, Suppression], m: int, n: int) -> None:
    """Add complementary suppressions to ``reasons`` until no suppressed value is recoverable."""
    while True:
        if _partner_lone_suppression(grid, reasons, m, n):
            continue
        bridges = _bridges(reasons)
        if not bridges:
            return
        _close_cycle(grid, reasons, bridges[0], m, n)


def _partner_lone_suppression(
    grid: dict[_Pos, int], reasons: dict[_Pos, Suppression], m: int, n: int
) -> bool:
    """One sweep over all lines in fixed order: every line that (at the time it is visited) has
    exactly one suppressed entry gets a partner. Returns whether anything was added."""
    changed = False
    for line, total in _lines(m, n):
        hidden = [pos for pos in line if pos in reasons]
        if len(hidden) != 1:
            continue
        open_ = [pos for pos in line if pos not in reasons]
        nonzero_cells = [pos for pos in open_ if pos != total and grid[pos] > 0]
        if nonzero_cells:
            # Smallest count; ties go to the first entry in row/column order.
            partner = min(nonzero_cells, key=lambda pos: grid[pos])
        elif total in open_:
            partner = total
        else:
            # The lone suppressed entry is the total and all cells are zero (possible only with
            # explicit totals larger than the cells): a zero cell is the only partner left.
            partner = open_[0]
        reasons[partner] = Suppression.COMPLEMENTARY
        changed = True
    return changed


def _close_cycle(
    grid: dict[_Pos, int], reasons: dict[_Pos, Suppression], bridge: _Pos, m: int, n: int
) -> None:
    """Suppress one more entry so that ``bridge`` lies on a cycle of suppressed entries.

    Without the bridge, the row node and the column node of ``bridge`` fall into two parts; an
    entry from a row of the column's part to a column of the row's part joins them again.
    """
    adjacency = _adjacency(set(reasons) - {bridge})
    row_side = _component(adjacency, (0, bridge[0]))
    column_side = _component(adjacency, (1, bridge[1]))
    candidates = [
        (i, j)
        for kind_i, i in sorted(column_side)
        if kind_i == 0
        for kind_j, j in sorted(row_side)
        if kind_j == 1
    ]
    # Prefer non-zero entries, then the smallest count, then row/column order.
    partner = min(candidates, key=lambda pos: (grid[pos] == 0, grid[pos], pos))
    reasons[partner] = Suppression.COMPLEMENTARY


def _adjacency(positions: Iterable[_Pos]) -> dict[_Node, list[tuple[_Node, _Pos]]]:
    adjacency: dict[_Node, list[tuple[_Node, _Pos]]] = {}
    for pos in sorted(positions):
        row, column = (0, pos[0]), (1, pos[1])
        adjacency.setdefault(row, []).append((column, pos))
        adjacency.setdefault(column, []).append((row, pos))
    return adjacency


def _component(adjacency: dict[_Node, list[tuple[_Node, _Pos]]], start: _Node) -> set[_Node]:
    seen = {start}
    todo = [start]
    while todo:
        node = todo.pop()
        for neighbour, _ in adjacency.get(node, ()):
            if neighbour not in seen:
                seen.add(neighbour)
                todo.append(neighbour)
    return seen


def _bridges(positions: Iterable[_Pos]) -> list[_Pos]:
    """Suppressed positions that are bridges of the suppression graph, i.e. exactly
    determined by the published values (iterative Tarjan, sorted output)."""
    adjacency = _adjacency(positions)
    discovered: dict[_Node, int] = {}
    low: dict[_Node, int] = {}
    bridges: list[_Pos] = []
    clock = 0
    for start in sorted(adjacency):
        if start in discovered:
            continue
        discovered[start] = low[start] = clock
        clock += 1
        stack: list[tuple[_Node, _Pos | None, Iterator[tuple[_Node, _Pos]]]] = [
            (start, None, iter(adjacency[start]))
        ]
        while stack:
            node, via, neighbours = stack[-1]
            descended = False
            for neighbour, edge in neighbours:
                if edge == via:
                    continue
                if neighbour in discovered:
                    low[node] = min(low[node], discovered[neighbour])
                else:
                    discovered[neighbour] = low[neighbour] = clock
                    clock += 1
                    stack.append((neighbour, edge, iter(adjacency[neighbour])))
                    descended = True
                    break
            if descended:
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if via is not None and low[node] > discovered[parent]:
                    bridges.append(via)
    return sorted(bridges)
