"""archscore bench transfer on small synthetic task families (no shared data)."""

import numpy as np
import pandas as pd

from archscore.bench import transfer as bench
from archscore.spaces.nb201 import NB201Space


def _family():
    archs = [a for a in NB201Space().sample(60, seed=1) if a.is_connected()][:30]
    rng = np.random.default_rng(0)
    convs = np.array([sum(op.startswith("nor_conv") for op in a.ops) for a in archs], dtype=float)
    return {f"t{i}": (archs, convs + rng.normal(0, 0.5, len(archs))) for i in range(3)}


def test_run_family_rows_and_margins():
    res = bench.run_family(_family(), sizes=[10], seeds=2, family="toy")
    assert set(res["method"]) == {"transfer", "surrogate", "best_source_by_labels", "best_source_oracle"}
    assert len(res) == 3 * 2 * 4 and res["kendall"].between(-1, 1).all()
    table = bench.summarize(res)
    want = table["transfer"] - table[["surrogate", "best_source_by_labels"]].max(axis=1)
    np.testing.assert_allclose(table["margin_vs_both"], want.round(3), atol=1e-3)


def test_win_lines_count_per_family_and_size():
    idx = pd.MultiIndex.from_tuples([("a", "x", 10), ("a", "y", 10), ("a", "x", 50), ("b", "z", 10)], names=["family", "target", "n"])
    table = pd.DataFrame({"margin_vs_both": [0.05, 0.01, -0.2, 0.03]}, index=idx)
    assert bench.win_lines(table) == [
        "a, 10 labels: transfer beats both baselines by >= 0.03 Kendall on 1/2 held-out tasks (not on: y)",
        "a, 50 labels: transfer beats both baselines by >= 0.03 Kendall on 0/1 held-out tasks (not on: x)",
        "b, 10 labels: transfer beats both baselines by >= 0.03 Kendall on 1/1 held-out tasks (not on: none)",
    ]
