"""No module of ``hub`` or ``connectors`` is over 500 lines, no function there over 60.

A module counts all its lines; a function (or method, nested ones included) its lines from
``def`` to its last line, docstring included. Known offenders are listed with the reason in
``KNOWN_OVER``; the test fails once one is back within the limit, so that the list gets
shortened.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "connectors")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

# Known offenders that are not fixed yet: "path" (a module) or "path:function" -> why.
KNOWN_OVER: dict[str, str] = {}


def functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.AST]]:
    """Every function of ``tree`` by its qualified name (``Class.method``, ``outer.inner``)."""
    found = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{node.name}"
            if not isinstance(node, ast.ClassDef):
                found.append((name, node))
            found += functions(node, name + ".")
        else:
            found += functions(node, prefix)
    return found


def oversized(path: str, source: str) -> dict[str, str]:
    """What in one module is over the limit: "path" or "path:function" -> its size."""
    over = {}
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        over[path] = f"{lines} lines (at most {MAX_MODULE_LINES})"
    for name, node in functions(ast.parse(source)):
        length = node.end_lineno - node.lineno + 1
        if length > MAX_FUNCTION_LINES:
            over[f"{path}:{name}"] = (f"{length} lines from line {node.lineno} "
                                      f"(at most {MAX_FUNCTION_LINES})")
    return over


def oversized_in_packages() -> dict[str, str]:
    over = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            over |= oversized(path.relative_to(ROOT).as_posix(),
                              path.read_text(encoding="utf-8"))
    return over


def test_modules_and_functions_are_within_the_limits():
    over = {name: size for name, size in oversized_in_packages().items()
            if name not in KNOWN_OVER}
    assert not over, "split these (tests/test_sizes.py):\n" + "\n".join(
        f"  {name}: {size}" for name, size in sorted(over.items()))


def test_known_offenders_are_still_over():
    """A known offender that was split is taken off KNOWN_OVER."""
    within = sorted(set(KNOWN_OVER) - set(oversized_in_packages()))
    assert not within, f"within the limits now, take them off KNOWN_OVER: {within}"


def body(indent: int, lines: int) -> str:
    return "".join(f"{' ' * indent}x = {i}\n" for i in range(lines))


def test_every_offender_is_found():
    source = ("def fits():\n" + body(4, 59)
              + "class A:\n    def method(self):\n" + body(8, 60)
              + "async def outer():\n    def inner():\n" + body(8, 60))
    assert oversized("hub/a.py", source) == {
        "hub/a.py:A.method": "61 lines from line 62 (at most 60)",
        "hub/a.py:outer": "62 lines from line 123 (at most 60)",
        "hub/a.py:outer.inner": "61 lines from line 124 (at most 60)",
    }
    assert oversized("hub/b.py", body(0, 501)) == {"hub/b.py": "501 lines (at most 500)"}
    assert oversized("hub/c.py", body(0, 500)) == {}
