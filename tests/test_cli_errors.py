"""User errors, Ctrl-C and closed pipes end with one line and a documented exit status, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from archscore.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "imgs.npz"
    np.savez(path, x=rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8), y=rng.integers(0, 10, 10, dtype=np.uint8))
    return path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archscore: error: ") and "Traceback" not in err, err
    return lines[0]


def test_not_implemented_is_a_clear_message(tmp_path, images, capsys):
    archs = tmp_path / "g.txt"
    archs.write_text("0,1,2,2:arma,sage,gin,gin\n")
    argv = ["score", "--space", "nbgraph", "--archs", str(archs), "--data", str(images), "--proxies", "params",
            "--batch-size", "4", "--no-progress", "--out", str(tmp_path / "g.csv")]
    assert main(argv) == 2
    line = _one_line_error(capsys)
    assert "not supported" in line and "nbgraph" in line


def test_os_error_is_one_line(tmp_path, images, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    archs = tmp_path / "a.txt"
    archs.write_text(CELL + "\n")
    argv = ["score", "--archs", str(archs), "--data", str(images), "--proxies", "params", "--batch-size", "4", "--no-progress",
            "--out", str(blocker / "s.csv")]
    assert main(argv) == 2
    assert "file.txt" in _one_line_error(capsys)


def test_unknown_name_is_one_line_without_quotes(capsys):
    assert main(["bench", "predictors", "--predictors", "xgbb:onehot", "--sizes", "2", "--splits", "1"]) == 2
    line = _one_line_error(capsys)
    assert "xgbb" in line and not line.endswith("'")


def test_missing_data_names_the_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ARCHSCORE_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # data in the CWD is never picked up
    (tmp_path / "nb201").mkdir()
    (tmp_path / "nb201" / "nb201_cifar10_curves_200archs.csv").write_text("index,arch\n")
    assert main(["bench", "curves", "--ks", "10"]) == 2
    line = _one_line_error(capsys)
    assert "$ARCHSCORE_DATA" in line and "--data" in line and "nb201/nb201_cifar10_curves_200archs.csv" in line
    monkeypatch.setenv("ARCHSCORE_DATA", str(tmp_path / "typo"))
    assert main(["bench", "curves", "--ks", "10"]) == 2
    assert "$ARCHSCORE_DATA is set to" in _one_line_error(capsys)


def _spawn(*argv: str, **kw) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "ARCHSCORE_DATA"}
    return subprocess.Popen([sys.executable, "-u", "-m", "archscore", *argv], cwd=REPO_ROOT, env=env, text=True,
                            stderr=subprocess.PIPE, **kw)


# argparse itself ignores a failed write of --help and exits 0; a command's output gives 141 (128 + SIGPIPE)
@pytest.mark.parametrize("argv, status", [(["--help"], 0), (["info"], 141)])
def test_closed_pipe_is_silent(argv, status):
    """``archscore info | head -1``: the reader is gone before the output is written."""
    proc = _spawn(*argv, stdout=subprocess.PIPE)
    proc.stdout.close()  # no reader left: the first write fails with EPIPE
    assert proc.wait(timeout=300) == status  # stderr is a line at most: its pipe cannot fill first
    err = proc.stderr.read()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_ctrl_c_is_one_line_and_130(tmp_path):
    import queue
    import threading

    # a shell's background job (e.g. `bash .ci/run &`) ignores SIGINT and children inherit that: restore the default
    # disposition so that Python installs its KeyboardInterrupt handler in the child whatever ran the tests
    proc = _spawn("demo", "--n", "400", "--batch-size", "8", "--no-progress", "--out", str(tmp_path), stdout=subprocess.PIPE,
                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # wait (bounded) until the scoring loop runs
        try:
            if lines.get(timeout=1.0).startswith("Proxies:"):
                break
        except queue.Empty:
            continue
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        err = proc.stderr.read() if proc.wait(timeout=120) is not None else ""
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the command did not stop within 120 s of SIGINT")
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "archscore: error: interrupted" and "Traceback" not in err, err
