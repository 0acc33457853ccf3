"""``replace_atomically``: all of the new file or all of the old one, never a leftover."""

from __future__ import annotations

import numpy as np
import pytest

from blast_pipeline.atomic import replace_atomically, temporary_sibling


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")

    def half_then_fail(temporary):
        temporary.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(target, half_then_fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]


def test_the_temporary_keeps_the_suffix_so_numpy_writes_the_named_file(tmp_path):
    target = tmp_path / "new" / "set.npz"  # the folder is created
    replace_atomically(target, lambda temporary: np.savez(temporary, x=np.arange(3)))
    assert np.load(target)["x"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in target.parent.iterdir()) == ["set.npz"]
    sibling = temporary_sibling(target)
    assert sibling.parent == target.parent and sibling.suffix == ".npz"
    assert sibling.name.startswith(".")
