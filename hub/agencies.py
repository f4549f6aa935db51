"""The participants of the prevention chain (``deploy/agencies.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.contract.vocabulary import Municipality
from hub.core.topics import inbox_topic, outbox_owner, outbox_topic
from hub.errors import ConfigError
from hub.paths import DEPLOY_DIR
from hub.yamlfile import read_yaml

AGENCIES_FILE = DEPLOY_DIR / "agencies.yaml"
KINDS = {"youth_office", "health", "jobcenter", "school", "daycare", "statistics"}
MUNICIPALITIES = tuple(m.value for m in Municipality)


@dataclass(frozen=True)
class Agency:
    id: str
    kind: str
    municipality: str
    covers: tuple[str, ...]
    name: str

    @property
    def exchanges_events(self) -> bool:
        """Agencies of kind statistics read analytics only: no inbox, no outbox."""
        return self.kind != "statistics"

    @property
    def outbox(self) -> str:
        return outbox_topic(self.id)

    @property
    def inbox(self) -> str:
        return inbox_topic(self.id)


class AgencyDirectory:
    """Look agencies up by id; knows which topics belong to whom."""

    def __init__(self, agencies: list[Agency]):
        self._by_id = {a.id: a for a in agencies}

    def __iter__(self):
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, agency_id: object) -> bool:
        return agency_id in self._by_id

    def get(self, agency_id: str) -> Agency | None:
        return self._by_id.get(agency_id)

    def exchanging(self) -> list[Agency]:
        return [a for a in self if a.exchanges_events]

    def agency_of_outbox(self, topic: str) -> Agency | None:
        owner = outbox_owner(topic)
        return None if owner is None else self._by_id.get(owner)


def load_agencies(path: Path = AGENCIES_FILE) -> AgencyDirectory:
    """Read and check the agency list; every problem is reported at once."""
    raw = read_yaml(path, "agency list")
    problems: list[str] = []
    agencies: list[Agency] = []
    seen: set[str] = set()
    for n, entry in enumerate(raw.get("agencies") or [], start=1):
        where = f"{path}: agency #{n}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping with id, kind, municipality, name")
            continue
        missing = [f for f in ("id", "kind", "municipality", "name") if not entry.get(f)]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        aid = str(entry["id"])
        if aid in seen:
            problems.append(f"{where}: id {aid!r} is listed twice")
        seen.add(aid)
        if entry["kind"] not in KINDS:
            problems.append(f"{where} ({aid}): unknown kind {entry['kind']!r}")
        if entry["municipality"] not in MUNICIPALITIES:
            problems.append(f"{where} ({aid}): unknown municipality {entry['municipality']!r}")
        covers = entry.get("covers", [entry["municipality"]])
        covers = MUNICIPALITIES if covers == "all" else tuple(covers)
        unknown = [c for c in covers if c not in MUNICIPALITIES]
        if unknown:
            problems.append(f"{where} ({aid}): covers unknown towns {unknown}")
        agencies.append(Agency(aid, entry["kind"], entry["municipality"], covers, entry["name"]))
    if not agencies and not problems:
        problems.append(f"{path}: no agencies listed")
    if problems:
        raise ConfigError("the agency list has problems:\n  " + "\n  ".join(problems))
    return AgencyDirectory(agencies)
