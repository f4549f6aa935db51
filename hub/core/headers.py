"""Kafka record headers (pure): a record's headers come as (name, bytes) pairs from
kafka-python and Faust, or as a mapping; read them one way."""

from __future__ import annotations


def header_texts(headers) -> dict[str, str]:
    """name -> value as text (UTF-8; undecodable bytes replaced), the last of a name wins."""
    pairs = headers.items() if hasattr(headers, "items") else (headers or ())
    return {name: (value or b"").decode("utf-8", errors="replace")
            if isinstance(value, bytes | None) else str(value) for name, value in pairs}
