"""The target folder: atomic batch files, one writer, stale temporary files cleaned up."""

import os
import stat
from datetime import UTC, datetime

import pytest

from connectors.delivery.batchfiles import BatchFileName
from connectors.delivery.directory import BatchDirectory
from hub.errors import HubError

AGENCY = "jugendamt-selm"
WHEN = datetime(2026, 9, 16, 7, 5, 9, tzinfo=UTC)


def test_write_batch_leaves_only_the_final_file(tmp_path):
    with BatchDirectory(tmp_path, AGENCY) as folder:
        name = folder.write_batch(1, 10, 19, b"Ereignis-ID\r\n", now=WHEN)
        assert name == BatchFileName(AGENCY, WHEN, 1, 10, 19)
        assert folder.written_positions() == {1: 20}
    files = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert files == [name.name]
    assert (tmp_path / name.name).read_bytes() == b"Ereignis-ID\r\n"
    assert stat.S_IMODE((tmp_path / name.name).stat().st_mode) & 0o007 == 0  # not for others


def test_the_folder_is_created_but_not_its_parents(tmp_path):
    with BatchDirectory(tmp_path / "eingang", AGENCY):
        assert (tmp_path / "eingang").is_dir()
    with pytest.raises(HubError, match="its parent folder does not exist"):
        BatchDirectory(tmp_path / "a" / "b", AGENCY).__enter__()
    (tmp_path / "file").write_text("")
    with pytest.raises(HubError, match="is not a folder|cannot create"):
        BatchDirectory(tmp_path / "file", AGENCY).__enter__()


def test_a_second_writer_for_the_same_agency_and_folder_is_refused(tmp_path):
    with BatchDirectory(tmp_path, AGENCY):
        with pytest.raises(HubError, match="another `hub deliver jugendamt-selm` writes to"):
            BatchDirectory(tmp_path, AGENCY).__enter__()
        with BatchDirectory(tmp_path, "jugendamt-werne"):  # other agencies may share it
            pass
    with BatchDirectory(tmp_path, AGENCY):  # the lock is released on exit
        pass


def test_stale_temporary_files_of_a_crash_are_removed_on_start(tmp_path, caplog):
    # a crash while writing leaves the hidden temporary file; its offsets were never
    # committed and no final file records them, so its events are written again
    crashed = BatchFileName(AGENCY, WHEN, 0, 100, 199)
    (tmp_path / crashed.temp_name).write_bytes(b"half a fi")
    done = BatchFileName(AGENCY, WHEN, 0, 0, 99)
    (tmp_path / done.name).write_bytes(b"complete")
    foreign = tmp_path / ".other_inbox_x.tmp"
    foreign.write_text("not ours")
    with BatchDirectory(tmp_path, AGENCY) as folder:
        assert not (tmp_path / crashed.temp_name).exists()
        assert foreign.exists() and (tmp_path / done.name).exists()
        assert folder.written_positions() == {0: 100}
    assert crashed.temp_name in caplog.text


def test_a_failed_write_leaves_no_temporary_file_and_says_why(tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(28, "No space left on device")

    with BatchDirectory(tmp_path, AGENCY) as folder:
        monkeypatch.setattr(os, "fsync", no_space)
        with pytest.raises(HubError, match="cannot write batch file .*No space left"):
            folder.write_batch(0, 0, 9, b"x", now=WHEN)
        monkeypatch.undo()
        assert folder.written_positions() == {}
    assert [p.name for p in tmp_path.iterdir()] == [f".{AGENCY}_inbox.lock"]


def test_a_folder_that_cannot_be_written_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")  # fails for root as well
    with pytest.raises(HubError, match="cannot create .*not-a-folder/inbox: Not a directory"):
        BatchDirectory(blocker / "inbox", AGENCY).__enter__()
