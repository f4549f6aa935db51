"""The known children for linkage: each pseudonym's encodings, which child it stands for,
and the blocking keys that find candidates without comparing with every known child.

Blocking keys (a candidate shares at least one with the new pseudonym):

- the birth date token, looked up with the new date, its day-and-month swap and the dates
  whose day differs in one digit: finds every variant of the names with the date right or
  nearly right;
- year and month with the Kölner Phonetik token of the family name, and with that of the
  given name: finds a wrong day when one name sounds alike.

The mappings are plain ``MutableMapping``s, so that the worker can hand in its tables.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

from hub.contract.linkage import Encodings


def blocking_keys(enc: Encodings) -> list[str]:
    """The keys under which ``enc`` is filed."""
    b = enc.birth
    return [f"d:{b.date}", f"mf:{b.year_month}:{enc.family.phonetic}",
            f"mg:{b.year_month}:{enc.given.phonetic}"]


def lookup_keys(enc: Encodings) -> list[str]:
    """The keys under which candidates for ``enc`` are looked up."""
    b = enc.birth
    dates = [b.date, *([b.swapped] if b.swapped else []), *sorted(b.day_typos)]
    return [f"d:{d}" for d in dates] + blocking_keys(enc)[1:]


class LinkageIndex:
    """``encodings``: pseudonym -> Encodings; ``children``: pseudonym -> the pseudonym that
    stands for its child (itself for a child's first pseudonym); ``blocks``: blocking key ->
    the pseudonyms filed under it."""

    def __init__(self, encodings: MutableMapping[str, Encodings] | None = None,
                 children: MutableMapping[str, str] | None = None,
                 blocks: MutableMapping[str, tuple[str, ...]] | None = None):
        self.encodings = {} if encodings is None else encodings
        self.children = {} if children is None else children
        self.blocks = {} if blocks is None else blocks

    def __contains__(self, pseudonym: str) -> bool:
        return pseudonym in self.encodings

    def __len__(self) -> int:
        return len(self.encodings)

    def add(self, pseudonym: str, enc: Encodings, child: str | None = None) -> None:
        """File ``pseudonym`` as (a pseudonym of) ``child``, a new child by default."""
        self.encodings[pseudonym] = enc
        self.children[pseudonym] = child or pseudonym
        for key in blocking_keys(enc):
            filed = self.blocks.get(key, ())
            if pseudonym not in filed:
                self.blocks[key] = (*filed, pseudonym)

    def child(self, pseudonym: str) -> str | None:
        return self.children.get(pseudonym)

    def pseudonyms_of(self, child: str) -> list[str]:
        """Every pseudonym filed for ``child`` (a scan: for erasure and the trust office)."""
        return sorted(p for p, c in self.children.items() if c == child)

    def link(self, pseudonym: str, child: str) -> None:
        self.children[pseudonym] = child

    def unlink(self, pseudonym: str) -> None:
        """``pseudonym`` stands for a child of its own again."""
        self.children[pseudonym] = pseudonym

    def remove(self, pseudonym: str) -> None:
        enc = self.encodings.pop(pseudonym, None)
        self.children.pop(pseudonym, None)
        if enc is None:
            return
        for key in blocking_keys(enc):
            rest = tuple(p for p in self.blocks.get(key, ()) if p != pseudonym)
            if rest:
                self.blocks[key] = rest
            else:
                self.blocks.pop(key, None)

    def candidates(self, enc: Encodings, exclude: str | None = None
                   ) -> Iterator[tuple[str, str, Encodings]]:
        """(child, pseudonym, encodings) of every pseudonym sharing a blocking key."""
        seen = {exclude}
        for key in lookup_keys(enc):
            for pseudonym in self.blocks.get(key, ()):
                if pseudonym in seen:
                    continue
                seen.add(pseudonym)
                known = self.encodings.get(pseudonym)
                if known is not None and known.version == enc.version:
                    yield self.children.get(pseudonym, pseudonym), pseudonym, known
