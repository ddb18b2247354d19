"""Surrogate predictors: sklearn contract details, uncertainty, small data, bad input; bench plumbing."""

import json

import numpy as np
import pytest

import archscore
import archscore.predictors.surrogate
from sklearn.base import clone

from archscore import Arch, create_estimator, get_space
from archscore.encodings import get_encoding
from archscore.metrics import kendall
from archscore.testing import make_contract_inputs

FAST = {
    "xgb": {"n_estimators": 30},
    "rf": {"n_estimators": 30},
    "gp": {"n_restarts_optimizer": 0},
    # graph_features: 10 binary path vectors are too few for an MLP to find a count signal
    "mlp_ensemble": {"n_models": 2, "epochs": 30, "n_layers": 3, "encoding": "graph_features"},
    "gnn": {"epochs": 30, "hidden": 16},
    "surrogate": {"n_estimators": 30},
}


@pytest.fixture(scope="module")
def toy_data():
    """40 distinct connected NB201 cells; target = 3x3 convs on live paths + noise (learnable from the graph)."""
    space = get_space("nb201")
    archs = list({a.key: a for a in space.sample(200, seed=5) if a.is_connected()}.values())[:40]
    enc = get_encoding("graph_features").fit(archs)
    f = dict(zip(enc.get_feature_names_out(), enc.transform(archs).T))
    y = 70 + 4 * f["live_count[nor_conv_3x3]"] + 2 * f["live_count[nor_conv_1x1]"] + np.random.default_rng(0).normal(0, 0.5, len(archs))
    return archs, y


@pytest.mark.parametrize("name", sorted(FAST))
def test_learns_from_ten_archs(name, toy_data):
    archs, y = toy_data
    est = create_estimator(name, seed=0, **FAST[name]).fit(archs[:10], y[:10])
    pred = est.predict(archs[10:])
    assert pred.shape == (30,) and np.all(np.isfinite(pred))
    assert kendall(y[10:], pred) > 0.3, f"{name} did not learn a simple monotone signal"


@pytest.mark.parametrize("name", ["rf", "gp", "mlp_ensemble", "surrogate"])
def test_return_std(name, toy_data):
    archs, y = toy_data
    est = create_estimator(name, **FAST[name]).fit(archs[:20], y[:20])
    mean, std = est.predict(archs[20:], return_std=True)
    np.testing.assert_allclose(mean, est.predict(archs[20:]), rtol=1e-6)
    assert std.shape == (20,) and np.all(std >= 0) and np.any(std > 0)


def test_nested_encoding_params_and_clone():
    est = create_estimator("xgb", encoding=get_encoding("path", max_length=2), n_estimators=10)
    params = est.get_params(deep=True)
    assert params["encoding__max_length"] == 2
    est.set_params(encoding__max_length=1)
    assert est.encoding.max_length == 1
    c = clone(est)
    assert c.get_params()["encoding__max_length"] == 1 and c.encoding is not est.encoding
    archs, y, _ = make_contract_inputs()
    est.fit(archs, y)
    assert est.encoding_.n_features_out_ == 6  # (), and the 5 single ops
    assert not hasattr(est.encoding, "n_features_out_")  # the caller's encoding object is not fitted in place


def test_tags_read_the_encoding_without_building_it(monkeypatch):
    from archscore.encodings import ENCODINGS

    def no_build(*args, **kwargs):
        raise AssertionError("get_tags built an encoding")

    monkeypatch.setattr(ENCODINGS, "create", no_build)
    monkeypatch.setattr(archscore.predictors.surrogate, "get_encoding", no_build)
    assert create_estimator("xgb", encoding="path+zc").get_tags().input.needs_scores
    assert not create_estimator("surrogate").get_tags().input.needs_scores


def test_predictions_are_in_the_targets_units_whatever_the_transform(toy_data):
    archs, y = toy_data
    for name, params in [("rf", {}), ("rf", {"target_transform": "rank"}), ("rf", {"target_transform": "log_error"}),
                         ("surrogate", {})]:
        est = create_estimator(name, n_estimators=30, **params)
        assert est.get_tags().output.units == "accuracy"
        pred = est.fit(archs[:20], y[:20]).predict(archs[20:])
        # inside the training targets' range, up to the forest's averaging (log_error's cap c is above it)
        assert y[:20].min() - 1 <= pred.min() and pred.max() <= y[:20].max() + 0.1 * np.ptp(y[:20]), (name, params, pred)
    # the transform is monotone: the same ranking as the transformed-scale model
    a = create_estimator("rf", n_estimators=30, target_transform="log_error").fit(archs[:20], y[:20])
    X = a.encoding_.transform(archs[20:])
    np.testing.assert_allclose(a.predict(archs[20:]), a.target_map_.c - np.exp(-a.model_.predict(X)), rtol=1e-12)


def test_target_map_inverts_by_hand():
    from archscore.predictors.surrogate import TargetMap

    y = np.array([50.0, 70.0, 90.0])
    m = TargetMap.fit(y, "log_error")
    assert m.c == pytest.approx(94.0)  # 90 + 0.1 * 40
    np.testing.assert_allclose(m.forward(y), -np.log([44.0, 24.0, 4.0]))
    np.testing.assert_allclose(m.inverse(m.forward(y)), y)
    # delta method: dy/dt = exp(-t) = c - y
    np.testing.assert_allclose(m.inverse_std(m.forward(y), np.ones(3)), [44.0, 24.0, 4.0])
    # far extrapolation down is clipped at lo = 50 - 10 * 40 = -350 (exp(1e4) would overflow to -inf), std at the clip point
    with np.errstate(over="raise"):
        np.testing.assert_allclose(m.inverse([-1e4, -np.log(444.0), -np.log(500.0)]), [-350.0, -350.0, -350.0])
        np.testing.assert_allclose(m.inverse_std([-1e4], [1.0]), [444.0])
    assert m.inverse([-np.log(443.0)])[0] == pytest.approx(-349.0)  # just above lo: unclipped
    r = TargetMap.fit(y, "rank")
    np.testing.assert_allclose(r.forward(y), [1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(r.inverse([1 / 3, 0.5, 1.0, 2.0, 0.0]), [50.0, 60.0, 90.0, 90.0, 50.0])  # clipped at the ends
    np.testing.assert_allclose(r.inverse_std([0.5], [0.1]), [60.0 * 0.1], rtol=1e-5)  # slope 20 / (1/3)
    with pytest.raises(ValueError, match="target_transform must be one of"):
        TargetMap.fit(y, "sqrt")


def test_surrogate_return_std_and_empty_predict(toy_data):
    archs, y = toy_data
    for n in (20, 30):  # rf+ridge and, with small_n=25, xgb+rf
        est = create_estimator("surrogate", n_estimators=30, small_n=25).fit(archs[:n], y[:n])
        assert est.get_tags().output.supports_std
        mean, std = est.predict(archs[30:], return_std=True)
        np.testing.assert_allclose(mean, est.predict(archs[30:]), rtol=1e-12)
        assert std.shape == (10,) and np.all(std > 0) and np.all(std < np.ptp(y))
        empty = est.predict([])
        assert empty.shape == (0,)
        m0, s0 = est.predict([], return_std=True)
        assert m0.shape == s0.shape == (0,)
    for name in ("rf", "gnn"):
        assert create_estimator(name, **FAST[name]).fit(archs[:10], y[:10]).predict([]).shape == (0,)


def test_surrogate_prior_columns_come_from_the_zc_part():
    from archscore.predictors.surrogate import proxy_columns

    archs, y, ctx = make_contract_inputs()
    enc = get_encoding("zc+path").fit(archs, scores=ctx["scores"])
    np.testing.assert_array_equal(proxy_columns(enc), [0, 1])
    np.testing.assert_array_equal(proxy_columns(get_encoding("zc").fit(archs, scores=ctx["scores"])), [0, 1])
    assert proxy_columns(get_encoding("path").fit(archs)).size == 0


def test_needs_scores_follows_encoding():
    archs, y, ctx = make_contract_inputs()
    est = create_estimator("rf", encoding="graph_features+zc", n_estimators=10)
    assert est.get_tags().input.needs_scores and not create_estimator("rf").get_tags().input.needs_scores
    with pytest.raises(ValueError, match="scores="):
        est.fit(archs, y)
    est.fit(archs[:8], y[:8], scores=ctx["scores"])
    assert est.predict(archs[8:], scores=ctx["scores"]).shape == (4,)
    missing = {k: v for k, v in ctx["scores"].items() if k != archs[9].key}
    with pytest.raises(ValueError, match=r"no entry for archs\[1\]"):
        est.predict(archs[8:], scores=missing)


@pytest.mark.parametrize("name", sorted(FAST))
def test_bad_input(name):
    archs, y, _ = make_contract_inputs()
    est = create_estimator(name, **FAST[name])
    with pytest.raises(ValueError, match="at least 2"):
        clone(est).fit(archs[:1], y[:1])
    with pytest.raises(ValueError, match="non-finite"):
        clone(est).fit(archs, np.r_[y[:-1], np.nan])
    fitted = clone(est).fit(archs, y)
    other = get_space("nbgraph").sample(3, seed=0)
    with pytest.raises(ValueError, match="space 'nbgraph'"):
        fitted.predict(other)
    g = archs[0].graph.copy()
    g.nodes[1]["op"] = "dil_conv_5x5"
    with pytest.raises(ValueError, match="dil_conv_5x5"):
        fitted.predict([Arch(g, "nb201")])


def test_surrogate_modes_and_nbgraph():
    archs = get_space("nbgraph").sample(80, seed=2)
    y = np.array([sum(op in ("gcn", "gat") for op in a.ops) for a in archs], dtype=float)
    small = create_estimator("surrogate", n_estimators=20).fit(archs[:10], y[:10])
    big = create_estimator("surrogate", n_estimators=20).fit(archs[:60], y[:60])
    assert small.mode_ == "rf+ridge" and big.mode_ == "xgb+rf"
    assert kendall(y[60:], big.predict(archs[60:])) > 0.5


def _toy_scores(archs, y):
    """Proxy 'good' = the target (tau 1), 'bad' = minus the target (tau -1), 'noise' unrelated."""
    rng = np.random.default_rng(1)
    return {a.key: {"good": float(v), "bad": float(-v), "noise": float(rng.normal())} for a, v in zip(archs, y)}


def test_surrogate_zero_cost_prior_weights_and_blend(toy_data):
    archs, y = toy_data
    scores = _toy_scores(archs, y)
    est = create_estimator("surrogate", encoding="graph_features+zc", n_estimators=20).fit(archs[:10], y[:10], scores=scores)
    w = est.prior_weights_
    assert w["zc/zc:good"] > w["zc/zc:noise"] and w["zc/zc:bad"] == 0.0
    assert sum(w.values()) == pytest.approx(1.0)
    assert est.prior_share_ == pytest.approx(10 / 20)
    # the prediction is exactly (1 - lam) * model + lam * prior
    off = clone(est).set_params(prior_weight=0).fit(archs[:10], y[:10], scores=scores)
    assert off.prior_weights_ is None and off.prior_share_ == 0.0
    X = est.encoding_.transform(archs[10:], scores=scores)
    p = est.prior_
    prior = p["slope"] * (((X[:, p["cols"]] - p["mean"]) / p["scale"]) @ p["weights"]) + p["intercept"]
    # on the regression scale (predictions come back in accuracy units through the log_error map)
    to_t = est.target_map_.forward
    np.testing.assert_allclose(to_t(est.predict(archs[10:], scores=scores)),
                               0.5 * to_t(off.predict(archs[10:], scores=scores)) + 0.5 * prior, rtol=1e-8)
    # a perfect proxy in the prior lifts a 10-architecture fit
    assert kendall(y[10:], est.predict(archs[10:], scores=scores)) > kendall(y[10:], off.predict(archs[10:], scores=scores))


def test_surrogate_prior_only_with_agreeing_zc_features(toy_data):
    archs, y = toy_data
    assert create_estimator("surrogate", n_estimators=20).fit(archs[:10], y[:10]).prior_weights_ is None
    anti = {a.key: {"bad": float(-v)} for a, v in zip(archs, y)}
    est = create_estimator("surrogate", encoding="graph_features+zc", n_estimators=20).fit(archs[:10], y[:10], scores=anti)
    assert est.prior_weights_ is None and est.prior_share_ == 0.0  # no proxy agrees with the labels: no prior
    scores = _toy_scores(archs, y)
    big = create_estimator("surrogate", encoding="graph_features+zc", n_estimators=20, small_n=8)
    assert big.fit(archs[:10], y[:10], scores=scores).prior_weights_ is None  # large-data regime: model only
    with pytest.raises(ValueError, match="prior_weight must be a finite number >= 0"):
        create_estimator("surrogate", encoding="zc", prior_weight=-1).fit(archs[:10], y[:10], scores=anti)


def test_bench_protocol(tmp_path):
    from archscore.bench import predictors as bp

    archs, y = [a for a in get_space("nb201").sample(80, seed=1)], np.arange(80.0)
    res = bp.run_protocol(archs, y, [("xgb", "onehot"), ("rf", None)], sizes=[10, 20], splits=2, test_size=30, progress=False, task="toy")
    assert len(res) == 2 * 2 * 2 and set(res["encoding"]) == {"onehot", "graph_features"}
    summary = bp.summarize(res)
    assert (summary["splits"] == 2).all()
    md = bp.to_markdown(summary)
    assert "| xgb | onehot |" in md and "toy: Kendall" in md
    with pytest.raises(ValueError, match="fewer than test size"):
        bp.run_protocol(archs, y, [("xgb", None)], sizes=[60], splits=1, test_size=30, progress=False)
    pytest.importorskip("matplotlib")
    bp.plot(summary, tmp_path / "k.png")
    assert (tmp_path / "k.png").stat().st_size > 1000


def test_suite_zero_loader(tmp_path):
    from archscore.benchmarks import load_nasbench_suite_zero

    doc = {
        "cifar10": {
            "(4, 0, 3, 1, 4, 3)": {"synflow": {"score": 12.5, "time": 0.3}, "jacov": {"score": -60.0, "time": 0.1}, "val_accuracy": 81.5},
            "(2, 2, 2, 2, 2, 2)": {"synflow": {"score": 40.0, "time": 0.3}, "jacov": {"score": -55.0, "time": 0.1}, "val_accuracy": 90.0},
        },
        "cifar100": {},
    }
    path = tmp_path / "zc_nasbench201.json"
    path.write_text(json.dumps(doc))
    data = load_nasbench_suite_zero(path, dataset="cifar10")
    space = get_space("nb201")
    s0 = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|"
    assert space.to_string(data.archs[0]) == s0
    assert space.to_string(data.archs[1]) == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert data.scores[s0] == {"synflow": 12.5, "jacov": -60.0}
    np.testing.assert_array_equal(data.accuracies, [81.5, 90.0])
    assert data.table.loc[s0, "suite_zero_key"] == "(4, 0, 3, 1, 4, 3)"
    # the scores plug straight into the zc encoding
    X = get_encoding("zc", signed_log=False).fit(data.archs, scores=data.scores).transform(data.archs, scores=data.scores)
    np.testing.assert_array_equal(X, [[-60.0, 12.5], [-55.0, 40.0]])
    with pytest.raises(ValueError, match="no dataset 'imagenet'"):
        load_nasbench_suite_zero(path, dataset="imagenet")
    with pytest.raises(ValueError, match="unknown NAS-Bench-Suite-Zero space"):
        load_nasbench_suite_zero(path, space="darts")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"cifar10": {"(4, 0, 3, 1, 4)": {"val_accuracy": 1.0}}}))
    with pytest.raises(ValueError, match="malformed NAS-Bench-Suite-Zero NB201 key"):
        load_nasbench_suite_zero(bad)
    with pytest.raises(FileNotFoundError):
        load_nasbench_suite_zero(tmp_path / "none.json")


def test_missing_xgboost_says_how_to_install_it(monkeypatch, toy_data):
    import sys

    archs, y = toy_data
    monkeypatch.setitem(sys.modules, "xgboost", None)  # import xgboost -> ImportError
    with pytest.raises(ImportError, match=r"pip install xgboost .*pip install xgboost-cpu"):
        create_estimator("xgb", n_estimators=5).fit(archs[:10], y[:10])
    with pytest.raises(ImportError, match="needs XGBoost"):
        create_estimator("surrogate", n_estimators=5, small_n=5).fit(archs[:10], y[:10])
    # the small-data surrogate (random forest + ridge) needs no XGBoost
    assert create_estimator("surrogate", n_estimators=5).fit(archs[:10], y[:10]).mode_ == "rf+ridge"


def test_split_indices_keep_duplicate_networks_on_one_side():
    from archscore.bench.predictors import split_indices

    plain_train, plain_test = split_indices(10, 4, 3, seed=5)
    perm = np.random.default_rng(5).permutation(10)
    assert plain_test.tolist() == perm[:4].tolist() and plain_train.tolist() == perm[4:7].tolist()
    groups = ["a", "a", "b", "c", "c", "c", "d", "e", "e", "f"]
    for seed in range(20):
        train, test = split_indices(10, 100, 4, seed, groups)
        assert len(train) >= 4 and len(set(train) | set(test)) == len(train) + len(test)
        assert not {groups[i] for i in train} & {groups[i] for i in test}
        assert {groups[i] for i in train} | {groups[i] for i in test} == set(groups)  # nothing else left out
        assert all(groups[i] == groups[train[-1]] for i in train[4:])  # only the last group's rest overshoots
    assert split_indices(10, 2, 4, 0, groups)[1].size <= 2
    with pytest.raises(ValueError, match="no architecture left to test"):
        split_indices(10, 100, 10, 0, groups)
    with pytest.raises(ValueError, match="3 labels for 10"):
        split_indices(10, 5, 3, 0, ["a", "b", "c"])
