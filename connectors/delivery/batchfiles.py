"""Names of the batch files and what a folder of them says (pure: names in, answers out).

A batch file holds events of one inbox partition; its name carries the partition and the
offset range it covers, so the folder itself records how far delivery got::

    <agency>_inbox_<YYYYMMDD-HHMMSS>_p<partition>_<first>-<last>.csv

The time is when the file was written, in UTC. The range includes messages of the batch that
were dead-lettered instead of written. A file is first written under ``.<name>.tmp`` (hidden,
not ``*.csv``) and renamed when complete; a temporary file left behind by a crash is stale.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

TIME_FORMAT = "%Y%m%d-%H%M%S"
TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"


def _pattern(agency_id: str) -> re.Pattern[str]:
    return re.compile(
        rf"{re.escape(agency_id)}_inbox_(?P<time>\d{{8}}-\d{{6}})"
        r"_p(?P<partition>\d+)_(?P<first>\d+)-(?P<last>\d+)\.csv"
    )


@dataclass(frozen=True)
class BatchFileName:
    """The name of one batch file: whose inbox, when written, which partition and offsets."""

    agency_id: str
    written_at: datetime
    partition: int
    first: int
    last: int

    def __post_init__(self):
        if not 0 <= self.first <= self.last:
            raise ValueError(f"offset range {self.first}-{self.last} is not a range")

    @property
    def name(self) -> str:
        stamp = self.written_at.astimezone(UTC).strftime(TIME_FORMAT)
        return (f"{self.agency_id}_inbox_{stamp}_p{self.partition}"
                f"_{self.first}-{self.last}.csv")

    @property
    def temp_name(self) -> str:
        """The name while the file is being written."""
        return f"{TEMP_PREFIX}{self.name}{TEMP_SUFFIX}"

    @classmethod
    def parse(cls, agency_id: str, filename: str) -> BatchFileName | None:
        """The parts of a batch file name of ``agency_id``; None for any other name."""
        match = _pattern(agency_id).fullmatch(filename)
        if not match:
            return None
        try:
            written_at = datetime.strptime(match["time"], TIME_FORMAT).replace(tzinfo=UTC)
            return cls(agency_id, written_at, int(match["partition"]), int(match["first"]),
                       int(match["last"]))
        except ValueError:  # a time like 20261399-..., or first > last
            return None


def written_positions(agency_id: str, filenames: Iterable[str]) -> dict[int, int]:
    """Per partition, the offset after the highest one covered by a batch file of the
    agency: where delivery into this folder goes on."""
    positions: dict[int, int] = {}
    for filename in filenames:
        parsed = BatchFileName.parse(agency_id, filename)
        if parsed is not None:
            positions[parsed.partition] = max(positions.get(parsed.partition, 0),
                                              parsed.last + 1)
    return positions


def stale_temp_files(agency_id: str, filenames: Iterable[str]) -> list[str]:
    """Temporary batch files of the agency, left behind by an interrupted write."""
    return sorted(
        filename for filename in filenames
        if filename.startswith(TEMP_PREFIX) and filename.endswith(TEMP_SUFFIX)
        and BatchFileName.parse(agency_id, filename[len(TEMP_PREFIX):-len(TEMP_SUFFIX)])
    )
