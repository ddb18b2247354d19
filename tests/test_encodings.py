"""Encodings: exact vectors on a hand-drawn DAG, any-DAG behaviour, registry, errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from archscore import Arch, get_space
from archscore.encodings import (
    ConcatEncoding,
    Encoding,
    get_encoding,
    list_encodings,
    register_encoding,
)

# input(0) -> conv(1) -> output(3); input -> skip(2) -> output; conv -> skip
TOY_EDGES = [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]


def toy(op1="conv", op2="skip", space="toy"):
    return Arch.from_ops_and_edges(["input", op1, op2, "output"], TOY_EDGES, space)


def test_registry():
    assert {"onehot", "path", "graph_features", "zc"} <= set(list_encodings())
    with pytest.raises(KeyError, match="did you mean 'path'"):
        get_encoding("pth")
    with pytest.raises(ValueError, match="must not contain"):
        register_encoding("a+b", Encoding)
    with pytest.raises(ValueError, match="malformed encoding name"):
        get_encoding("path+")


def test_onehot_exact():
    enc = get_encoding("onehot").fit([toy()])
    x = enc.transform([toy()])[0]
    adj = [1, 1, 0, 1, 1, 1]  # (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    # labels: input, output, conv, skip
    ops = [1, 0, 0, 0] + [0, 0, 1, 0] + [0, 0, 0, 1] + [0, 1, 0, 0]
    np.testing.assert_array_equal(x, adj + ops)
    assert list(enc.get_feature_names_out()[:2]) == ["adj[0,1]", "adj[0,2]"]


def test_onehot_pads_smaller_graphs():
    small = Arch.from_ops_and_edges(["input", "conv", "output"], [(0, 1), (1, 2)], "toy")
    enc = get_encoding("onehot").fit([toy(), small])
    x = enc.transform([small])[0]
    assert x.shape == (6 + 16,)
    np.testing.assert_array_equal(x[:6], [1, 0, 0, 1, 0, 0])  # (0,1) and (1,2); position 3 is padding
    np.testing.assert_array_equal(x[6 + 12 :], [0, 0, 0, 0])  # padded position: no op


def test_path_exact():
    enc = get_encoding("path").fit([toy()])
    # vocabulary (conv, skip), longest path 2: (), c, s, cc, cs, sc, ss
    assert enc.n_features_out_ == 7
    np.testing.assert_array_equal(enc.transform([toy()])[0], [0, 1, 1, 0, 1, 0, 0])
    # presence only: two different paths reading 'conv' still give 1
    np.testing.assert_array_equal(enc.transform([toy("conv", "conv")])[0], [0, 1, 0, 1, 0, 0, 0])
    names = list(enc.get_feature_names_out())
    assert names[0] == "path:<direct>" and names[4] == "path:conv->skip"


def test_path_counts_distinct_paths():
    enc = get_encoding("path", counts=True).fit([toy()])
    x = enc.transform([toy("conv", "conv")])[0]
    # paths 0-1-3 and 0-2-3 both read 'conv'; 0-1-2-3 reads conv->conv
    np.testing.assert_array_equal(x, [0, 2, 0, 1, 0, 0, 0])


def test_path_truncation():
    arch = toy()
    by_len = get_encoding("path", max_features=3).fit([arch])
    assert by_len.truncated_ and by_len.paths_ == ((), ("conv",), ("skip",))
    by_freq = get_encoding("path", max_features=2, truncation="frequency").fit([arch, toy("conv", "conv")])
    # seen: conv x3 (2 archs), skip x1, conv->skip x1, conv->conv x1 -> conv first, then shortest
    assert by_freq.paths_[0] == ("conv",) and by_freq.paths_[1] == ("skip",)
    assert get_encoding("path", max_length=1).fit([arch]).n_features_out_ == 3


def test_graph_features_exact():
    enc = get_encoding("graph_features").fit([toy()])
    f = dict(zip(enc.get_feature_names_out(), enc.transform([toy()])[0]))
    expected = {
        "count[conv]": 1, "count[skip]": 1, "live_count[conv]": 1, "live_count[skip]": 1,
        "n_paths": 3, "n_live_paths": 3, "connected": 1, "min_len": 1, "max_len": 2, "mean_len": 4 / 3,
        "min_depth": 0, "max_depth": 1,  # the skip-only path has no non-identity op
        "paths_through[conv]": 2, "paths_through[skip]": 2,
        "min_on_path[conv]": 0, "max_on_path[conv]": 1, "min_on_path[skip]": 0, "max_on_path[skip]": 1,
        "in_degree[conv]": 1, "in_degree[skip]": 2, "out_degree[conv]": 2, "out_degree[skip]": 1,
        "input_out_degree": 2, "output_in_degree": 2,
        "{conv}:n_paths": 1, "{conv}:min_len": 1, "{conv}:max_len": 1,
        "{skip}:n_paths": 1, "{skip}:min_len": 1, "{skip}:max_len": 1,
        "{conv,skip}:n_paths": 3, "{conv,skip}:min_len": 1, "{conv,skip}:max_len": 2,
    }
    assert set(f) == set(expected)
    for k, v in expected.items():
        assert f[k] == pytest.approx(v), k


def test_graph_features_zero_ops_cut_paths():
    arch = toy("conv", "none")
    enc = get_encoding("graph_features").fit([arch])
    f = dict(zip(enc.get_feature_names_out(), enc.transform([arch])[0]))
    assert f["n_paths"] == 3 and f["n_live_paths"] == 1  # only input->conv->output avoids 'none'
    assert f["live_count[none]"] == 0 and f["count[none]"] == 1
    assert f["min_len"] == f["max_len"] == 1 and f["in_degree[conv]"] == 1 and f["out_degree[conv]"] == 1
    assert f["{none}:n_paths"] == 1 and f["{conv}:min_len"] == 1 and f["{none}:max_len"] == 1
    dead = Arch.from_ops_and_edges(["input", "none", "output"], [(0, 1), (1, 2)], "toy")
    g = dict(zip(enc.get_feature_names_out(), get_encoding("graph_features", ops=["conv", "none"]).fit([dead]).transform([dead])[0]))
    assert g["connected"] == 0 and g["{conv}:min_len"] == -1 and g["input_out_degree"] == 0


def test_any_dag_nb201_and_nbgraph():
    nb = get_space("nb201").sample(20, seed=1)
    ng = get_space("nbgraph").sample(20, seed=1)
    for name in ("onehot", "path", "graph_features"):
        for archs, n_ops in ((nb, 5), (ng, 9)):
            enc = get_encoding(name).fit(archs[:5])
            X = enc.transform(archs)
            assert X.shape[0] == 20 and np.all(np.isfinite(X))
            assert len(enc.ops_) == n_ops  # "auto" adds the registered space's vocabulary
        # a fitted encoding refuses another space
        with pytest.raises(ValueError, match="space 'nbgraph' but .* fitted on space\\(s\\) \\['nb201'\\]"):
            get_encoding(name).fit(nb).transform(ng)
    # nbgraph vocabulary has 9 ops -> subsets up to size 2: 9 + 36
    assert len(get_encoding("graph_features").fit(ng).subsets_) == 45
    # NB201 path encoding: 1 + 5 + 25 + 125 sequences of length <= 3
    assert get_encoding("path").fit(nb).n_features_out_ == 156


def test_unknown_op_at_transform():
    enc = get_encoding("graph_features", ops="fit").fit([toy()])
    with pytest.raises(ValueError, match=r"op\(s\) \['pool'\] unknown"):
        enc.transform([toy("conv", "pool")])
    with pytest.raises(ValueError, match="not in ops="):
        get_encoding("path", ops=["conv"]).fit([toy()])


def test_not_fitted_and_bad_input():
    with pytest.raises(ValueError, match="not fitted"):
        get_encoding("path").transform([toy()])
    with pytest.raises(TypeError, match="wrap a single Arch"):
        get_encoding("path").fit(toy())
    with pytest.raises(TypeError, match="unknown context keyword 'score'"):
        get_encoding("path").fit([toy()], score={})
    with pytest.raises(ValueError, match="at least one"):
        get_encoding("path").fit([])


def _scores(archs, values):
    return {a.key: {"synflow": float(v), "jacov": float(-v)} for a, v in zip(archs, values)}


def test_zc_encoding():
    archs = [a for a in get_space("nb201").sample(30, seed=0) if a.is_connected()]
    archs = list({a.key: a for a in archs}.values())[:6]
    scores = _scores(archs, range(6))
    enc = get_encoding("zc", signed_log=False).fit(archs, scores=scores)
    assert enc.proxies_ == ("jacov", "synflow")
    np.testing.assert_array_equal(enc.transform(archs, scores=scores), np.c_[-np.arange(6), np.arange(6)])
    # a DataFrame indexed by the space string works too
    space = get_space("nb201")
    df = pd.DataFrame({"synflow": np.arange(6.0)}, index=[space.to_string(a) for a in archs])
    np.testing.assert_array_equal(get_encoding("zc", signed_log=False).fit(archs, scores=df).transform(archs, scores=df)[:, 0], np.arange(6))
    # missing scores= entirely, a missing arch, a missing proxy
    with pytest.raises(ValueError, match="scores="):
        get_encoding("zc").fit(archs)
    with pytest.raises(ValueError, match=r"no entry for archs\[0\]"):
        enc.transform(archs, scores=_scores(archs[1:], range(5)))
    partial = dict(scores)
    partial[archs[2].key] = {"synflow": 1.0}
    with pytest.raises(ValueError, match="no finite value for proxy 'jacov'"):
        enc.transform(archs, scores=partial)
    # documented imputation: the fit median
    imp = get_encoding("zc", impute="median", signed_log=False).fit(archs, scores=scores)
    x = imp.transform(archs[:2], scores=_scores(archs[1:2], [7.0]))
    np.testing.assert_array_equal(x, [[-2.5, 2.5], [-7.0, 7.0]])
    logged = get_encoding("zc").fit(archs, scores=scores).transform(archs[3:4], scores=scores)
    np.testing.assert_allclose(logged, [[-np.log1p(3), np.log1p(3)]])


def test_concat_and_nested_params():
    archs = get_space("nb201").sample(10, seed=3)
    scores = _scores(archs, range(10))
    enc = get_encoding("graph_features+zc")
    assert isinstance(enc, ConcatEncoding) and enc.needs_scores
    X = enc.fit_transform(archs, scores=scores)
    gf = get_encoding("graph_features").fit(archs).transform(archs)
    np.testing.assert_array_equal(X[:, : gf.shape[1]], gf)
    np.testing.assert_allclose(X[:, -1], np.log1p(np.arange(10)))  # zc/zc:synflow last, signed log
    # each part's columns, by name, without parsing feature names
    d = gf.shape[1]
    zc = get_encoding("zc").fit(archs, scores=scores).transform(archs, scores=scores)
    assert enc.part_slices_ == {"graph_features": slice(0, d), "zc": slice(d, d + zc.shape[1])}
    np.testing.assert_array_equal(X[:, enc.part_slices_["graph_features"]], gf)
    np.testing.assert_array_equal(X[:, enc.part_slices_["zc"]], zc)
    params = enc.get_params(deep=True)
    assert params["zc__impute"] is None and "graph_features__max_subset_size" in params
    enc.set_params(zc__impute="median", graph_features__max_subset_size=1)
    assert enc.get_params()["zc__impute"] == "median"
    assert clone(enc).get_params()["graph_features__max_subset_size"] == 1
    assert get_encoding("path+zc", zc__proxies=["synflow"]).fit(archs, scores=scores).n_features_out_ == 156 + 1
    with pytest.raises(ValueError, match="invalid parameter"):
        enc.set_params(nope__x=1)
    assert not get_encoding("onehot+path").needs_scores
