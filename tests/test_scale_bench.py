"""``archscore bench scale``'s helpers (the full run is a benchmark, not a unit test)."""

from __future__ import annotations

import argparse

import pytest

from archscore.bench import scale as bench


_LEAKY = """
import json
from archscore.bench import scale

class GrowingTask:  # keeps 1 MB per call alive: the memory part must see the leak
    def __init__(self):
        self.kept, self.calls = [], 0
    def setup(self):
        pass
    def __call__(self, payload):
        self.calls += 1
        block = bytearray(2**20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
        self.kept.append(block)
        return {}

task = GrowingTask()
mem = scale._memory(task, [f"cell{i}" for i in range(12)], ["params"], 40)
print(json.dumps({"calls": task.calls, **mem}))
"""


def test_memory_part_traces_rss_and_sees_a_leak():
    import json
    import subprocess
    import sys

    # A fresh process: in a long-lived one, freed but still resident heap memory can absorb the new blocks.
    out = subprocess.run([sys.executable, "-c", _LEAKY], capture_output=True, text=True, timeout=300, check=True)
    mem = json.loads(out.stdout.strip().splitlines()[-1])
    assert mem["calls"] == 10 + 40  # ten warm-up models, then the measured ones
    assert [k for k, _ in mem["trace"]] == [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    assert mem["growth"] == pytest.approx(mem["after"] - mem["before"])
    assert 0.8 < mem["per_model"] < 1.3 and 0.8 < mem["late_per_model"] < 1.3  # MB per model, the 1 MB kept per call


def test_resume_without_throughput_is_an_error(tmp_path):
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args(["--data", str(tmp_path), "--parts", "resume", "memory"])
    with pytest.raises(ValueError, match="--parts resume compares the resumed store with the 1-worker throughput run"):
        bench.run(args)
    assert p.parse_args([]).parts == ["throughput", "resume", "memory"]
