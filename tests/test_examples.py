"""The scripts in examples/ still import and parse their options against the current API."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_help_runs(script):
    # --help imports every module the script needs and exits before any work: a renamed or moved API fails here
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout


def test_examples_exist():
    assert EXAMPLES, "examples/ holds no script"
