"""A test that installs hub.faust_fixes gives Faust back as it found it (the
``restore_faust`` fixture), so that no test depends on which ran before it."""

import faust
from faust.stores.rocksdb import RocksDBOptions
from faust.transport.consumer import Consumer

from hub import faust_fixes
from tests.support.faust_patches import faust_restored


def faust_state() -> tuple:
    classes = {cls: dict(vars(cls)) for cls in faust_fixes._CLASS_ATTRIBUTES}
    return (classes, faust_fixes._gapless, dict(faust_fixes._shared_memory),
            dict(faust_fixes.GAPS))


def test_the_fixes_installed_in_a_test_are_taken_out_after_it():
    before = faust_state()
    with faust_restored():
        faust_fixes.apply(lambda topic: topic.endswith(".outbox"))
        faust_fixes.share_rocksdb_memory(1024**2)
        faust_fixes.GAPS[faust.types.TP("agency.x.outbox", 0)] = (3, 9)
        Consumer.added_by_a_test = True
        assert Consumer._add_gap is faust_fixes._add_gap
        assert RocksDBOptions.as_options is faust_fixes._as_options_sharing_memory
    assert faust_state() == before
    assert not hasattr(Consumer, "added_by_a_test")


def test_what_a_test_took_away_is_put_back():
    before = faust_state()
    with faust_restored():
        del Consumer._add_gap
        assert "_add_gap" not in vars(Consumer)
    assert faust_state() == before
