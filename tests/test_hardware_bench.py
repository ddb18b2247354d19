"""``archscore bench hardware`` end to end on a tiny synthetic table."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from archscore.bench import hardware as bench
from archscore.spaces import get_space


def test_bench_hardware_writes_results(tmp_path):
    space = get_space("nb201")
    archs = space.sample(80, seed=3)
    n_conv = np.array([sum(op.startswith("nor_conv") for op in space.cell_ops(a)) for a in archs], float)
    df = pd.DataFrame({"arch": [space.to_string(a) for a in archs], "a_latency": 1 + n_conv, "b_latency": 2 + 3 * n_conv,
                       "a_energy": n_conv})
    csv = tmp_path / "hw.csv"
    df.to_csv(csv, index=False)
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--data", str(csv), "--out", str(tmp_path / "out"), "--seeds", "0", "--ns", "6",
                              "--test-size", "40", "--source-size", "50", "--cells", "5", "--repeats", "1", "--warmup", "0",
                              "--fit-cells", "3", "--width", "4", "--stage-cells", "1"])
    assert bench.run(args) == 0
    # strict JSON: a NaN would be written as the invalid token NaN
    res = json.loads((tmp_path / "out" / "results.json").read_text(), parse_constant=lambda c: pytest.fail(f"invalid JSON {c}"))
    assert res["fewshot"]["devices"] == ["a_latency", "b_latency"]  # energy columns are not latency targets
    rho = res["fewshot"]["results"]["sources"]["a_latency"]["6"]
    assert len(rho) == 1 and rho[0] > 0.9  # latency is a function of the conv count: easy
    assert res["cpu"]["cells"] == 5
    md = (tmp_path / "out" / "results.md").read_text()
    assert "Few-shot latency prediction" in md and "Measured CPU latency" in md
    assert md.splitlines()[2:6] == ["Produced by:", "", "```", "archscore bench hardware"]  # fallback outside the CLI
