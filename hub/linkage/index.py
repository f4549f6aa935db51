"""The known children for linkage: each pseudonym's encodings, which child it stands for,
and the blocking keys that find candidates without comparing with every known child.

Blocking keys (a candidate shares at least one with the new pseudonym):

- the birth date token, looked up with the new date, its day-and-month swap and the dates
  whose day differs in one digit: finds every variant of the names with the date right or
  nearly right;
- year and month with the Kölner Phonetik token of the family name, and with that of the
  given name: finds a wrong day when one name sounds alike.

Memory: a known pseudonym's encodings are kept packed in one ``bytes`` (:func:`pack`: the
two Bloom filters and the tokens as raw bytes, about 250 bytes), holding only what a
comparison with a new pseudonym reads (a known child's swapped date and day typos are never
compared: only the new pseudonym's are). A candidate is unpacked (:func:`unpack`) when it is
compared. Blocking keys are bytes too; a key with one pseudonym holds it without a tuple.

The mappings are plain ``MutableMapping``s, so that the worker can hand in its tables.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

from hub.contract.linkage import FILTER_BITS, TOKEN_CHARS, Encodings

_BLOOM = FILTER_BITS // 8
_TOKEN = TOKEN_CHARS // 2
_HEAD = 4  # version, whether a script token follows, the number of given and family parts
_TOKENS = _HEAD + 2 * _BLOOM  # given exact, given phonetic, family exact, family phonetic,
# date, year and month, year: each _TOKEN bytes from here on
_GPH, _FPH, _DATE, _YM = (_TOKENS + i * _TOKEN for i in (1, 3, 4, 5))
_FIXED = _TOKENS + 7 * _TOKEN


def pack(enc: Encodings) -> bytes:
    """What a comparison reads of ``enc``, as one ``bytes``."""
    g, f, b = enc.given, enc.family, enc.birth
    if not 0 <= enc.version < 256 or len(g.parts) > 255 or len(f.parts) > 255:
        raise ValueError("encodings too large to pack")
    head = bytes((enc.version, enc.script is not None, len(g.parts), len(f.parts)))
    tokens = [g.exact, g.phonetic, f.exact, f.phonetic, b.date, b.year_month, b.year,
              *([enc.script] if enc.script is not None else []), *sorted(g.parts),
              *sorted(f.parts)]
    return b"".join((head, g.bloom.to_bytes(_BLOOM, "big"), f.bloom.to_bytes(_BLOOM, "big"),
                     bytes.fromhex("".join(tokens))))


class _Name:
    __slots__ = ("bloom", "exact", "phonetic", "parts")

    def __init__(self, bloom: int, exact: str, phonetic: str, parts: list[str]):
        self.bloom, self.exact, self.phonetic, self.parts = bloom, exact, phonetic, parts


class Known:
    """A known pseudonym's encodings as a comparison reads them: the attributes of
    :class:`~hub.contract.linkage.Encodings` it uses, tokens as hex text, a name's parts as
    a list; ``birth`` is the object itself (its ``date``, ``year_month`` and ``year``)."""

    __slots__ = ("given", "family", "date", "year_month", "year", "script", "version")

    def __init__(self, packed: bytes):
        # literal offsets (quicker than names here): 4 bytes head, two 64-byte filters,
        # tokens of 24 hex digits from byte 132 on (checked by _check_layout)
        version, has_script, ng, nf = packed[:4]
        h = packed[132:].hex()
        self.given = _Name(int.from_bytes(packed[4:68], "big"), h[:24], h[24:48], [])
        self.family = _Name(int.from_bytes(packed[68:132], "big"), h[48:72], h[72:96], [])
        self.date, self.year_month, self.year = h[96:120], h[120:144], h[144:168]
        self.script = h[168:192] if has_script else None
        self.version = version
        at = 168 + 24 * has_script
        for parts, n in ((self.given.parts, ng), (self.family.parts, nf)):
            for _ in range(n):
                parts.append(h[at:at + 24])
                at += 24

    @property
    def birth(self) -> Known:
        return self


unpack = Known


def _check_layout() -> None:
    if (_HEAD, _BLOOM, _TOKENS, TOKEN_CHARS) != (4, 64, 132, 24):
        raise AssertionError("Known.__init__ reads another layout than pack writes")


_check_layout()


def blocking_keys(packed: bytes) -> list[bytes]:
    """The keys under which the packed encodings are filed."""
    ym = packed[_YM:_YM + _TOKEN]
    return [b"d" + packed[_DATE:_DATE + _TOKEN], b"f" + ym + packed[_FPH:_FPH + _TOKEN],
            b"g" + ym + packed[_GPH:_GPH + _TOKEN]]


def lookup_keys(enc: Encodings) -> list[bytes]:
    """The keys under which candidates for ``enc`` are looked up."""
    b = enc.birth
    dates = [b.date, *([b.swapped] if b.swapped else []), *sorted(b.day_typos)]
    return [b"d" + bytes.fromhex(d) for d in dates] + [
        b"f" + bytes.fromhex(b.year_month + enc.family.phonetic),
        b"g" + bytes.fromhex(b.year_month + enc.given.phonetic)]


class LinkageIndex:
    """``packed``: pseudonym -> its packed encodings (:func:`pack`); ``children``: pseudonym
    -> the pseudonym that stands for its child (itself for a child's first pseudonym);
    ``blocks``: blocking key -> the pseudonym filed under it, or a tuple of them."""

    def __init__(self, packed: MutableMapping[str, bytes] | None = None,
                 children: MutableMapping[str, str] | None = None,
                 blocks: MutableMapping[bytes, str | tuple[str, ...]] | None = None):
        self.packed = {} if packed is None else packed
        self.children = {} if children is None else children
        self.blocks = {} if blocks is None else blocks

    def __contains__(self, pseudonym: str) -> bool:
        return pseudonym in self.packed

    def __len__(self) -> int:
        return len(self.packed)

    def add(self, pseudonym: str, enc: Encodings, child: str | None = None) -> None:
        """File ``pseudonym`` as (a pseudonym of) ``child``, a new child by default."""
        packed = pack(enc)
        old = self.packed.get(pseudonym)
        if old is not None and old != packed:
            self._unfile(pseudonym, old)
        self.packed[pseudonym] = packed
        self.children[pseudonym] = child or pseudonym
        for key in blocking_keys(packed):
            filed = self.blocks.get(key)
            if filed is None:
                self.blocks[key] = pseudonym
            elif isinstance(filed, str):
                if filed != pseudonym:
                    self.blocks[key] = (filed, pseudonym)
            elif pseudonym not in filed:
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
        packed = self.packed.pop(pseudonym, None)
        self.children.pop(pseudonym, None)
        if packed is not None:
            self._unfile(pseudonym, packed)

    def _unfile(self, pseudonym: str, packed: bytes) -> None:
        for key in blocking_keys(packed):
            filed = self.blocks.get(key)
            rest = () if filed is None or filed == pseudonym else \
                tuple(p for p in filed if p != pseudonym) if isinstance(filed, tuple) else \
                (filed,)
            if len(rest) > 1:
                self.blocks[key] = rest
            elif rest:
                self.blocks[key] = rest[0]
            else:
                self.blocks.pop(key, None)

    def candidates(self, enc: Encodings, exclude: str | None = None
                   ) -> Iterator[tuple[str, str, Known]]:
        """(child, pseudonym, encodings) of every pseudonym sharing a blocking key."""
        seen = {exclude}
        packed_of, child_of, version = self.packed.get, self.children.get, enc.version
        for key in lookup_keys(enc):
            filed = self.blocks.get(key)
            if filed is None:
                continue
            for pseudonym in (filed,) if isinstance(filed, str) else filed:
                if pseudonym in seen:
                    continue
                seen.add(pseudonym)
                packed = packed_of(pseudonym)
                if packed is not None and packed[0] == version:
                    yield child_of(pseudonym, pseudonym), pseudonym, Known(packed)
