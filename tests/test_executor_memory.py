"""Memory stays flat: scoring many models one after the other in one worker does not grow its RSS."""

import gc
import sys

import numpy as np
import pytest
import torch

import archscore
from archscore.cli.score import ScoreTask

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")


def _rss_mb():
    import os

    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_rss_flat_over_50_models():
    """A leaked model (C=16, N=1: ~0.1 M parameters, weights + grads + synflow's copy, > 1 MB) per call would add > 50 MB."""
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((8, 3, 32, 32)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 10, 8))
    task = ScoreTask("nb201", {"C": 16, "N": 1}, x, y, proxy_seed=42, init_seed=42, device=None, threads=1)
    space = archscore.get_space("nb201")
    cells = [space.to_string(a) for a in space.sample(60, seed=0)]
    for c in cells[:10]:  # warm-up: allocator pools, lazily imported modules
        task((c, ["params", "synflow", "snip"]))
    gc.collect()
    before = _rss_mb()
    for c in cells[10:]:
        out = task((c, ["params", "synflow", "snip"]))
        assert set(out["scores"]) | set(out["errors"]) == {"params", "synflow", "snip"}
    gc.collect()
    growth = _rss_mb() - before
    assert growth < 20, f"RSS grew {growth:.1f} MB over 50 models"
