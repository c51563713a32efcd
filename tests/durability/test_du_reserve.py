"""exitStatus through its reserve on a full tmpfs; the log's headroom."""

import errno
import os
import stat

import pytest

from conftest import fill
from shim import headroom
from shim.contract import exitreserve, layout


def test_du_exit_status_written_on_a_full_disk_through_its_reserve(small_tmpfs):
    exitreserve.make_reserve(small_tmpfs)
    filler = fill(small_tmpfs)
    with pytest.raises(OSError) as err:  # what the shim did before: no space for it
        layout.write_exit_status(small_tmpfs, 3)
    assert err.value.errno == errno.ENOSPC
    data = exitreserve.exit_record(3, None, 1_700_000_000_000_000_000, dropped_bytes=12)
    assert exitreserve.commit_exit(small_tmpfs, data)
    status = layout.read_exit_status(small_tmpfs)
    assert (status["exit_code"], status["dropped_bytes"]) == (3, 12)
    assert status["exited_at"] == "2023-11-14T22:13:20.000000000Z"
    mode = os.stat(os.path.join(small_tmpfs, layout.EXIT_STATUS)).st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert sorted(os.listdir(small_tmpfs)) == [layout.EXIT_STATUS, os.path.basename(filler)]


def test_du_exit_status_is_written_once(small_tmpfs):
    exitreserve.make_reserve(small_tmpfs)
    assert exitreserve.commit_exit(small_tmpfs, exitreserve.exit_record(1))
    exitreserve.make_reserve(small_tmpfs)
    assert not exitreserve.commit_exit(small_tmpfs, exitreserve.exit_record(2))
    assert layout.read_exit_status(small_tmpfs)["exit_code"] == 1
    assert not os.path.exists(exitreserve.reserve_path(small_tmpfs))


def test_du_no_reserve_falls_back_to_a_plain_write(tmp):
    assert exitreserve.commit_exit(tmp, exitreserve.exit_record(5))
    assert layout.read_exit_status(tmp)["exit_code"] == 5


def test_du_reserve_on_a_full_disk_fails_and_leaves_nothing(small_tmpfs):
    fill(small_tmpfs)
    with pytest.raises(OSError) as err:
        exitreserve.make_reserve(small_tmpfs)
    assert err.value.errno == errno.ENOSPC
    assert not os.path.exists(exitreserve.reserve_path(small_tmpfs))


def test_du_headroom_holds_output_back_and_lets_it_go_when_space_returns(small_tmpfs):
    room = headroom.Headroom(small_tmpfs, keep=256 << 10)
    assert room.allows(4096)
    filler = fill(small_tmpfs, leave=300 << 10)
    assert not room.allows(headroom.CHECK_EVERY)  # re-reads free space: 300 KiB - 64 < 256
    assert room.held_back
    assert room.allows(100)  # 300 KiB free, 100 bytes fit
    assert not room.allows(headroom.CHECK_EVERY)
    os.truncate(filler, 0)
    assert room.allows(headroom.CHECK_EVERY) and not room.held_back  # the very next write


def test_du_headroom_keep_scales_with_the_filesystem(small_tmpfs):
    assert headroom.keep_for(small_tmpfs) == headroom.KEEP_MIN
    assert headroom.keep_for("/") <= headroom.KEEP_MAX
