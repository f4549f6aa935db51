"""Faust as a test found it: :mod:`hub.faust.patches` replaces methods of Faust's classes
(``apply``, ``share_rocksdb_memory``) for the whole process, so a test that installs the
patches gives them back afterwards, and no test depends on which ran before it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_MISSING = object()


@contextmanager
def faust_restored() -> Iterator[None]:
    """Run the body, then put back what it changed: every attribute of the Faust classes
    whose internals the hub uses (:data:`hub.faust.checks.CLASS_INTERNALS`: methods
    replaced, added or removed) and the patches' own state (the gapless predicate, the
    shared RocksDB memory, the gaps noted for the guard)."""
    from hub.faust import patches
    from hub.faust.checks import CLASS_INTERNALS

    classes = {i.owner: dict(vars(i.owner)) for i in CLASS_INTERNALS}
    gapless = patches._gapless
    shared_memory = dict(patches._shared_memory)
    gaps = dict(patches.GAPS)
    try:
        yield
    finally:
        for cls, attributes in classes.items():
            for name in set(vars(cls)) - set(attributes):
                delattr(cls, name)
            for name, value in attributes.items():
                if vars(cls).get(name, _MISSING) is not value:
                    setattr(cls, name, value)
        patches._gapless = gapless
        patches._shared_memory.clear()
        patches._shared_memory.update(shared_memory)
        patches.GAPS.clear()
        patches.GAPS.update(gaps)
