"""archscore.rank: your own candidate models, ranked with zero-cost proxies in one call."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import archscore
from archscore.cli import main
from archscore.predictors.zc_ensemble import DEFAULT_PROXIES, rank_aggregate

X = torch.randn(12, 5, generator=torch.Generator().manual_seed(0))
Y = torch.arange(12) % 3


def mlp(width: int) -> nn.Module:
    # Linear(5, w) + Linear(w, 3): 5w + w + 3w + 3 = 9w + 3 parameters
    return nn.Sequential(nn.Linear(5, width), nn.ReLU(), nn.Linear(width, 3))


def test_single_proxy_hand_computed_params_and_order():
    table = archscore.rank({"w4": lambda: mlp(4), "w16": lambda: mlp(16), "w8": mlp(8)}, data=(X, Y),
                           estimator="zc:params", progress=False)
    assert list(table.columns) == ["name", "score", "rank", "params"]
    assert table["name"].tolist() == ["w16", "w8", "w4"]
    assert table["params"].tolist() == [9 * 16 + 3, 9 * 8 + 3, 9 * 4 + 3]
    assert table["score"].tolist() == table["params"].tolist()  # params: higher is better, kept raw
    assert table["rank"].tolist() == [1, 2, 3]


def test_ensemble_columns_and_score_is_the_log_rank_aggregate():
    cands = {f"w{w}": (lambda w=w: mlp(w)) for w in (2, 6, 24)}
    table = archscore.rank(cands, data=(X, Y), proxies=["params", "flops", "synflow"], progress=False)
    assert list(table.columns) == ["name", "score", "rank", "params", "flops", "synflow"]
    expected = rank_aggregate({p: table[p].to_numpy() for p in ("params", "flops", "synflow")})
    np.testing.assert_allclose(table["score"].to_numpy(), expected)
    # params and flops grow with width; the widest is best on both
    assert table.loc[table["rank"] == 1, "name"].item() == "w24"
    default = archscore.rank([mlp(4)], data=(X, Y), progress=False)
    assert list(default.columns) == ["name", "score", "rank", *DEFAULT_PROXIES]


def test_models_unchanged_factories_called_once_under_the_seed_and_caller_rng_kept():
    model = mlp(8)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []

    def factory():
        calls.append(torch.rand(1).item())  # what the seeded RNG gives inside the factory
        return mlp(4)

    torch.manual_seed(123)
    state = torch.get_rng_state()
    archscore.rank({"m": model, "f": factory}, data=(X, Y), estimator="zc:synflow", seed=7, progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    torch.manual_seed(7)
    assert calls == [torch.rand(1).item()]  # once, right after manual_seed(init_seed=seed)
    calls.clear()
    archscore.rank({"f": factory}, data=(X, Y), estimator="zc:params", seed=7, init_seed=3, progress=False)
    torch.manual_seed(3)
    assert calls == [torch.rand(1).item()]


def test_same_seed_same_table():
    cands = [lambda: mlp(4), lambda: mlp(9)]
    a = archscore.rank(cands, data=(X, Y), estimator="zc:synflow", seed=1, progress=False)
    b = archscore.rank(cands, data=(X, Y), estimator="zc:synflow", seed=1, progress=False)
    assert a.equals(b)
    assert a["name"].tolist()[0].startswith(("0:", "1:"))  # list items named "<i>:<factory name>"


def test_undefined_proxy_is_nan_with_a_warning_and_ranks_last():
    # zen needs BatchNorm: undefined for these MLPs; nwot is defined (ReLU modules)
    with pytest.warns(RuntimeWarning, match="zen"):
        table = archscore.rank({"a": mlp(4), "b": mlp(8)}, data=(X, Y), proxies=["zen", "params"], progress=False)
    assert table["zen"].isna().all()
    # the aggregate uses params alone: log(rank / 2)
    assert sorted(table["score"].tolist()) == pytest.approx([math.log(0.5), 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = archscore.rank({"a": mlp(4)}, data=(X, Y), estimator="zc:zen", progress=False)
    assert math.isnan(single["score"].item()) and single["rank"].item() == 1
    with pytest.raises(ValueError, match="candidate 'a'.*zen"):
        archscore.rank({"a": mlp(4)}, data=(X, Y), estimator="zc:zen", nan_policy="raise", progress=False)


@pytest.mark.parametrize("seed", ["abc", 1.5, -1, True])
def test_bad_seed_is_a_clear_error(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        archscore.rank([mlp(2)], data=(X, Y), estimator="zc:params", seed=seed, progress=False)
    with pytest.raises(ValueError, match="init_seed must be a non-negative integer"):
        archscore.rank([mlp(2)], data=(X, Y), estimator="zc:params", init_seed=seed, progress=False)


@pytest.mark.parametrize("kwargs, error, msg", [
    ({"candidates": []}, ValueError, "candidates is empty"),
    ({"candidates": mlp(2)}, TypeError, "wrap a single one in a list"),
    ({"candidates": [mlp(2), 3]}, TypeError, "candidate '1:int' is a int"),
    ({"candidates": [lambda: 3]}, TypeError, "returned a int"),
    ({"estimator": "rf"}, ValueError, "zero-cost estimators only"),
    ({"estimator": "zc:nope"}, ValueError, "unknown estimator 'zc:nope'"),
    ({"proxies": ["nope"]}, ValueError, r"unknown proxies \['nope'\]"),
    ({"estimator": "zc:params", "proxies": ["flops"]}, ValueError, "only applies to estimator='zc:ensemble'"),
    ({"data": X}, ValueError, "data must be a pair"),
])
def test_bad_inputs(kwargs, error, msg):
    args = {"candidates": [mlp(2)], "data": (X, Y), **kwargs}
    with pytest.raises(error, match=msg):
        archscore.rank(args.pop("candidates"), progress=False, **args)


def test_archscore_rank_callable_even_after_importing_the_module():
    import importlib
    import sys

    module = importlib.import_module("archscore.rank")
    setattr(archscore, "rank", sys.modules["archscore.rank"])  # what a plain `import archscore.rank` leaves behind
    try:
        table = archscore.rank([mlp(3)], data=(X, Y), estimator="zc:params", progress=False)
    finally:
        setattr(archscore, "rank", module.rank)
    assert table["params"].item() == 30


def test_cli_rank_from_a_python_file(tmp_path, capsys):
    (tmp_path / "models.py").write_text(
        "import torch.nn as nn\n"
        "candidates = {f'w{w}': (lambda w=w: nn.Sequential(nn.Linear(5, w), nn.ReLU(), nn.Linear(w, 3))) for w in (2, 10)}\n")
    np.savez(tmp_path / "d.npz", x=X.numpy(), y=Y.numpy())
    out = tmp_path / "r.csv"
    code = main(["rank", f"{tmp_path / 'models.py'}:candidates", "--data", str(tmp_path / "d.npz"), "--estimator", "zc:params",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    assert out.read_text().splitlines() == ["name,score,rank,params", "w10,93.0,1,93.0", "w2,21.0,2,21.0"]
    for spec, msg in [(f"{tmp_path / 'models.py'}:cands", "defines no 'cands'; its names: candidates, nn"),
                      (f"{tmp_path / 'none.py'}:candidates", "candidates file not found"),
                      (str(tmp_path / "models.py"), "expected FILE.py:NAME")]:
        capsys.readouterr()
        assert main(["rank", spec, "--data", str(tmp_path / "d.npz")]) == 2
        assert msg in capsys.readouterr().err


def test_ensemble_anchor_as_zc_ensemble(monkeypatch):
    """From 50 candidates, a proxy ranking them against flops is left out of the score; anchor=None keeps it."""
    import sys

    rank_module = sys.modules["archscore.rank"]  # the attribute archscore.rank is the function

    def fake(model, x, y, names, **kw):
        w = float(model[0].out_features)
        return {"flops": w, "params": w ** 2, "snip": -w}

    monkeypatch.setattr(rank_module, "compute", fake)
    cands = {f"w{w:02d}": mlp(w) for w in range(1, 61)}
    w = np.arange(1, 61, dtype=float)
    got = archscore.rank(cands, (X, Y), proxies=["flops", "params", "snip"], progress=False)
    expected = rank_aggregate({"flops": w, "params": w ** 2})
    np.testing.assert_allclose(got.set_index("name").loc[list(cands), "score"].to_numpy(), expected)
    off = archscore.rank(cands, (X, Y), proxies=["flops", "params", "snip"], progress=False, anchor=None)
    np.testing.assert_allclose(off.set_index("name").loc[list(cands), "score"].to_numpy(),
                               rank_aggregate({"flops": w, "params": w ** 2, "snip": -w}))
