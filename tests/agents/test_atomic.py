"""Crash-safe outputs: a failed writer leaves the old file or folder intact."""

import json
import os

import pytest

from agents.atomic import recover_dir, replace_atomic, replace_dir_atomic, write_json_atomic


def test_a_writer_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    write_json_atomic(target, {"a": 1})

    def broken(tmp):
        with open(tmp, "w") as f:
            f.write('{"a": 2, "half')
        raise OSError("disk full")

    with pytest.raises(OSError):
        replace_atomic(target, broken)
    assert json.loads(target.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_a_folder_is_replaced_whole_and_recovered_after_a_crash(tmp_path):
    target = tmp_path / "ckpt"
    replace_dir_atomic(target, lambda d: (d / "w.txt").write_text("1"))
    replace_dir_atomic(target, lambda d: (d / "w.txt").write_text("2"))
    assert (target / "w.txt").read_text() == "2" and os.listdir(tmp_path) == ["ckpt"]

    def broken(d):
        (d / "w.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_dir_atomic(target, broken)
    assert (target / "w.txt").read_text() == "2" and os.listdir(tmp_path) == ["ckpt"]
    # Killed between the two renames: the old folder is aside and nothing is in place.
    aside = tmp_path / ".ckpt.1.2.old"
    os.replace(target, aside)
    (tmp_path / ".ckpt.1.3.tmp").mkdir()
    assert recover_dir(target)
    assert (target / "w.txt").read_text() == "2" and os.listdir(tmp_path) == ["ckpt"]
