"""atomic_path: the target is replaced whole or not at all."""

import os
import subprocess
import sys

import pytest

from archscore.fileio import atomic_path


def test_success_replaces_the_target_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "run.json"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_text("new")
        assert not target.exists()  # nothing visible before the block ends
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["run.json"]


def test_an_error_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "run.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_a_killed_writer_never_leaves_a_half_written_target(tmp_path):
    target = tmp_path / "big.txt"
    target.write_text("old")
    code = (f"import os, signal\nfrom archscore.fileio import atomic_path\n"
            f"with atomic_path({str(target)!r}) as tmp:\n"
            f"    tmp.write_text('x' * 100000)\n"
            f"    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ}, capture_output=True)
    assert proc.returncode == -9
    assert target.read_text() == "old"
