"""Kölner Phonetik (Postel 1969): a code of how a German speaker says a name, so that Meyer,
Meier and Maier (67) or Schmidt and Schmitt (862) share one code.

It works on the normalised names of :mod:`connectors.pseudonym` (lower-case ASCII, umlauts
already folded to ae/oe/ue, ß to ss), one letter at a time with its neighbours.
"""

from __future__ import annotations

_PLAIN = {
    **dict.fromkeys("aeijouy", "0"), "b": "1", **dict.fromkeys("dt", "2"),
    **dict.fromkeys("fvw", "3"), **dict.fromkeys("gkq", "4"), "l": "5",
    **dict.fromkeys("mn", "6"), "r": "7", **dict.fromkeys("sz", "8"), "h": "",
}
_C_HARD_AT_START = frozenset("ahkloqrux")
_C_HARD = frozenset("ahkoqux")


def _letter_code(prev: str, char: str, nxt: str, first: bool) -> str:
    if char == "p":
        return "3" if nxt == "h" else "1"
    if char in "dt":
        return "8" if nxt in ("c", "s", "z") else "2"
    if char == "x":
        return "8" if prev in ("c", "k", "q") else "48"
    if char == "c":
        if first:
            return "4" if nxt in _C_HARD_AT_START else "8"
        return "4" if nxt in _C_HARD and prev not in ("s", "z") else "8"
    return _PLAIN.get(char, "")


def cologne(name: str) -> str:
    """The Kölner Phonetik code of a normalised name ("" for a name without letters)."""
    letters = [c for c in name if "a" <= c <= "z"]
    codes = []
    for i, char in enumerate(letters):
        prev = letters[i - 1] if i else ""
        nxt = letters[i + 1] if i + 1 < len(letters) else ""
        codes.append(_letter_code(prev, char, nxt, i == 0))
    digits = "".join(codes)
    collapsed = [d for i, d in enumerate(digits) if i == 0 or d != digits[i - 1]]
    return "".join(d for i, d in enumerate(collapsed) if d != "0" or i == 0)
