"""Small helpers for messages people read."""


def counted(n: int, noun: str) -> str:
    """``counted(1, "row")`` -> "1 row", ``counted(2, "row")`` -> "2 rows"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
