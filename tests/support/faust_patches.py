"""Faust as a test found it: :mod:`hub.faust_fixes` replaces methods of Faust's classes
(``apply``, ``share_rocksdb_memory``) for the whole process, so a test that installs the
fixes gives them back afterwards, and no test depends on which ran before it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_MISSING = object()


@contextmanager
def faust_restored() -> Iterator[None]:
    """Run the body, then put back what it changed: every attribute of the Faust classes
    :mod:`hub.faust_fixes` patches (methods replaced, added or removed) and the module's own
    state (the gapless predicate, the shared RocksDB memory, the gaps noted for the guard)."""
    from hub import faust_fixes

    classes = {cls: dict(vars(cls)) for cls in faust_fixes._CLASS_ATTRIBUTES}
    gapless = faust_fixes._gapless
    shared_memory = dict(faust_fixes._shared_memory)
    gaps = dict(faust_fixes.GAPS)
    try:
        yield
    finally:
        for cls, attributes in classes.items():
            for name in set(vars(cls)) - set(attributes):
                delattr(cls, name)
            for name, value in attributes.items():
                if vars(cls).get(name, _MISSING) is not value:
                    setattr(cls, name, value)
        faust_fixes._gapless = gapless
        faust_fixes._shared_memory.clear()
        faust_fixes._shared_memory.update(shared_memory)
        faust_fixes.GAPS.clear()
        faust_fixes.GAPS.update(gaps)
