"""A test that installs hub.faust.patches gives Faust back as it found it (the
``restore_faust`` fixture), so that no test depends on which ran before it."""

import faust
from faust.stores.rocksdb import RocksDBOptions
from faust.transport.consumer import Consumer

from hub.faust import patches
from hub.faust.checks import CLASS_INTERNALS
from tests.support.faust_patches import faust_restored


def faust_state() -> tuple:
    classes = {i.owner: dict(vars(i.owner)) for i in CLASS_INTERNALS}
    return (classes, patches._gapless, dict(patches._shared_memory),
            dict(patches.GAPS))


def test_the_fixes_installed_in_a_test_are_taken_out_after_it():
    before = faust_state()
    with faust_restored():
        patches.apply(lambda topic: topic.endswith(".outbox"))
        patches.share_rocksdb_memory(1024**2)
        patches.GAPS[faust.types.TP("agency.x.outbox", 0)] = (3, 9)
        Consumer.added_by_a_test = True
        assert Consumer._add_gap is patches._add_gap
        assert RocksDBOptions.as_options is patches._as_options_sharing_memory
    assert faust_state() == before
    assert not hasattr(Consumer, "added_by_a_test")


def test_what_a_test_took_away_is_put_back():
    before = faust_state()
    with faust_restored():
        del Consumer._add_gap
        assert "_add_gap" not in vars(Consumer)
    assert faust_state() == before
