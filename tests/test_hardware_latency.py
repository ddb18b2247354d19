"""Measured latency: protocol, spread, estimator interface."""

import numpy as np
import pytest
import torch
from torch import nn

import archscore.hardware as hw
from archscore import create_estimator
from archscore.spaces import get_space


def test_latency_result_median_and_iqr():
    r = hw.LatencyResult((5.0, 1.0, 4.0, 2.0, 3.0))
    assert r.median_ms == 3.0
    assert r.iqr_ms == 2.0  # numpy's linear percentiles: q1=2, q3=4


def test_measure_latency_protocol():
    calls = []
    model = nn.Linear(8, 8)
    model.register_forward_pre_hook(lambda m, args: calls.append((torch.is_inference_mode_enabled(), m.training, torch.get_num_threads())))
    before = torch.get_num_threads()
    res = hw.measure_latency(model, (2, 8), warmup=3, repeats=4, threads=2)
    assert len(res.times_ms) == 4 and all(t > 0 for t in res.times_ms)
    assert min(res.times_ms) <= res.median_ms <= max(res.times_ms)
    # the hook was copied with the model: 3 warm-up + 4 timed calls, all in inference mode, eval, 2 threads
    assert calls == [(True, False, 2)] * 7
    assert torch.get_num_threads() == before and model.training  # settings restored, caller's model untouched
    with pytest.raises(ValueError, match="repeats must be an integer >= 1"):
        hw.measure_latency(model, (2, 8), repeats=0)
    with pytest.raises(ValueError, match="batch dimension first"):
        hw.measure_latency(model, (8,))


def test_bigger_model_is_slower():
    small = hw.measure_latency(nn.Linear(4, 4), (1, 4), warmup=2, repeats=7).median_ms
    big = hw.measure_latency(nn.Sequential(*[nn.Linear(512, 512) for _ in range(8)]), (64, 512), warmup=2, repeats=7).median_ms
    assert big > 5 * small  # ~134M MACs vs 16: far beyond timing noise


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_measure_latency_cuda():
    res = hw.measure_latency(nn.Conv2d(3, 8, 3), (4, 3, 32, 32), warmup=2, repeats=5, device="cuda")
    assert res.median_ms > 0


def test_latency_estimator():
    space = get_space("nb201")
    archs = [space.from_ops(["nor_conv_3x3"] * 6), space.from_ops(["skip_connect"] * 6)]
    est = create_estimator("hw:latency", space_options={"C": 4, "N": 1}, warmup=1, repeats=5)
    tags = est.get_tags()
    assert (tags.family, tags.output.units, tags.output.higher_is_better, tags.output.supports_std) == ("hardware", "ms", False, True)
    med, spread = est.predict(archs, return_std=True)
    assert med.shape == spread.shape == (2,) and np.all(med > 0) and np.all(spread >= 0)
    assert not [a for a in vars(est) if a.endswith("_")]  # predict stored nothing
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            est.set_params(device="cuda").predict(archs[:1])
