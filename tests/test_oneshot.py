"""One-shot estimators: the NB201 supernet, SPOS/FairNAS training, checkpoints, DARTS (tiny: C=4, N=1, 8x8 images)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import archscore.oneshot as oneshot
from archscore.base import create_estimator
from archscore.oneshot.supernet import NB201Supernet, make_supernet, stratified_split
from archscore.spaces import get_space
from archscore.spaces.nb201 import NB201_OPS
from archscore.testing import check_estimator

TINY = dict(space_options={"C": 4, "N": 1}, data_path="digits", limit=80, resolution=8, steps=3, epochs=None,
            batch_size=16, bn_batches=1, num_threads=1)


@pytest.fixture(scope="module")
def space():
    return get_space("nb201", C=4, N=1)


@pytest.fixture(scope="module")
def fitted():
    return create_estimator("oneshot:spos", **TINY).fit()


def _copy_into_network(sup: NB201Supernet, net: torch.nn.Module, path) -> None:
    """Load the supernet's weights for ``path`` into a stand-alone NB201 network."""
    sd = sup.state_dict()
    mapped = {}
    for name in net.state_dict():
        m = re.match(r"cells\.(\d+)\.edges\.(\d+)\.(.*)", name)
        mapped[name] = sd[f"cells.{m[1]}.edges.{m[2]}.candidates.{path[int(m[2])]}.{m[3]}"] if m else sd[name]
    net.load_state_dict(mapped)


def test_single_path_equals_the_stand_alone_network(space):
    torch.manual_seed(0)
    sup = make_supernet(space, num_classes=10)
    x = torch.randn(3, 3, 8, 8)
    for s in ("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
              "|skip_connect~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|skip_connect~2|"):
        arch = space.from_string(s)
        net = space.build(arch)
        path = sup.path(arch)
        assert [NB201_OPS[i] for i in path] == space.cell_ops(arch)
        _copy_into_network(sup, net, path)
        sup.eval(), net.eval()
        with torch.no_grad():
            torch.testing.assert_close(sup(x, path=path), net(x), rtol=0, atol=1e-6)
            # a one-hot DARTS mixture is the same single path
            onehot = torch.nn.functional.one_hot(torch.tensor(path), len(NB201_OPS)).float()
            torch.testing.assert_close(sup(x, weights=onehot), net(x), rtol=0, atol=1e-6)
        assert sup.arch(path) == arch


def test_supernet_shares_one_module_per_op_and_edge(space):
    sup = make_supernet(space)
    n_cells = 3 * space.N
    # every (cell, edge) holds all five ops once; conv ops carry weights
    assert sum(1 for n, _ in sup.named_parameters() if ".candidates.3.1.weight" in n) == n_cells * 6
    with pytest.raises(ValueError, match="exactly one of path= .* or weights="):
        sup(torch.randn(1, 3, 8, 8))


def test_space_without_weight_sharing_is_rejected():
    with pytest.raises(ValueError, match="space 'nbgraph' cannot share weights.*nb201"):
        make_supernet("nbgraph")
    with pytest.raises(ValueError, match="cannot share weights"):
        create_estimator("oneshot:spos", **{**TINY, "space": "nbgraph", "space_options": {}}).fit()
    with pytest.raises(ValueError, match="cannot share weights"):
        oneshot.darts_search("nbgraph", data_path="digits", epochs=1)


def test_stratified_split_keeps_every_class_in_validation():
    y = torch.tensor([0] * 10 + [1] * 3 + [2] * 2)
    tr, va = stratified_split(y, 0.2, seed=0)
    assert sorted(set(y[va].tolist())) == [0, 1, 2] and sorted(set(y[tr].tolist())) == [0, 1, 2]
    assert len(va) == 2 + 1 + 1 and sorted(np.concatenate([tr, va]).tolist()) == list(range(15))
    with pytest.raises(ValueError, match="class 2 has 1 image"):
        stratified_split(torch.tensor([0, 0, 1, 1, 2]), 0.5, seed=0)


def test_validation_set_missing_a_class_is_an_error():
    x = torch.randn(9, 3, 8, 8)
    y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 3])  # class 3 could not be in both parts
    est = create_estimator("oneshot:spos", **{**TINY, "data_path": None, "limit": None})
    with pytest.raises(ValueError, match="class 3 has 1 image"):
        est.fit(data=(x, y))


def test_fair_sampling_uses_every_op_once_per_edge():
    est = create_estimator("oneshot:spos", sampling="fair")
    paths = est._sample_paths(np.random.default_rng(0), 6, 5, None)
    assert len(paths) == 5
    for e in range(6):
        assert sorted(p[e] for p in paths) == [0, 1, 2, 3, 4]


def test_predict_is_deterministic_and_changes_nothing(fitted, space):
    archs = get_space("nb201").sample(6, seed=3)
    before = {k: v.clone() for k, v in fitted.supernet_.state_dict().items()}
    p1 = fitted.predict(archs)
    p2 = fitted.predict(archs)
    np.testing.assert_array_equal(p1, p2)
    after = fitted.supernet_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN buffers included
    # a fresh clone trained the same way scores the same
    np.testing.assert_allclose(clone(fitted).fit().predict(archs), p1)
    # accuracy on the held-out part is a multiple of 100 / n_valid
    n_valid = len(fitted.valid_data_[1])
    np.testing.assert_allclose(np.round(p1 * n_valid / 100), p1 * n_valid / 100, atol=1e-9)
    neg = clone(fitted).set_params(metric="neg_loss")
    neg.__dict__.update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
    np.testing.assert_allclose(neg.predict(archs), -fitted.evaluate(archs)["loss"])
    # identical cells score identically
    assert fitted.predict([archs[0], archs[0]])[0] == fitted.predict([archs[0], archs[0]])[1]


def test_fit_trains_the_requested_number_of_steps(fitted):
    assert fitted.history_["steps"] == 3 and len(fitted.history_["losses"]) == 3
    assert not fitted.loaded_from_checkpoint_
    fair = create_estimator("oneshot:spos", **{**TINY, "sampling": "fair", "steps": 2}).fit()
    assert fair.history_["steps"] == 2


def test_predict_before_fit_and_bad_train_on():
    est = create_estimator("oneshot:spos", **TINY)
    with pytest.raises(NotFittedError, match="fit"):
        est.predict(get_space("nb201").sample(2))
    with pytest.raises(ValueError, match="train_on='archs'.*archs=None"):
        create_estimator("oneshot:spos", **{**TINY, "train_on": "archs"}).fit()
    with pytest.raises(ValueError, match="sampling='fair' needs every op"):
        create_estimator("oneshot:spos", **{**TINY, "train_on": "archs", "sampling": "fair"}).fit(get_space("nb201").sample(2))


def test_train_on_archs_only_samples_their_paths():
    archs = get_space("nb201").sample(2, seed=5)
    est = create_estimator("oneshot:spos", **{**TINY, "train_on": "archs"}).fit(archs)
    sup = est.supernet_
    paths = sorted({sup.path(a) for a in archs})
    assert est.settings_["train_paths"] == [list(p) for p in paths]
    assert est._sample_paths(np.random.default_rng(0), 6, 5, paths)[0] in paths


@pytest.mark.parametrize("params, message", [
    ({"steps": 0}, "steps must be a positive integer.*too small to train one step"),
    ({"steps": None, "epochs": 0}, "epochs must be a positive integer.*too small to train one step"),
    ({"time_budget": 0}, "time_budget must be a positive number"),
    ({"steps": None, "time_budget": 1e-9}, "too small to train one step"),
    ({"steps": None, "epochs": None}, "set a training budget"),
    ({"sampling": "fairnas"}, "sampling must be one of"),
])
def test_bad_budgets_are_clear_errors(params, message):
    with pytest.raises(ValueError, match=message):
        create_estimator("oneshot:spos", **{**TINY, **params}).fit()


def test_checkpoint_reload_mismatch_and_retrain(tmp_path):
    path = tmp_path / "sup.pt"
    archs = get_space("nb201").sample(4, seed=7)
    a = create_estimator("oneshot:spos", **TINY, checkpoint=str(path)).fit()
    assert path.is_file() and not a.loaded_from_checkpoint_
    # same training settings (a scoring-only change too): loaded, not retrained
    b = create_estimator("oneshot:spos", **{**TINY, "bn_batches": 2}, checkpoint=str(path)).fit()
    assert b.loaded_from_checkpoint_ and b.history_["losses"] == a.history_["losses"]
    np.testing.assert_allclose(b.set_params(bn_batches=1).fit().predict(archs), a.predict(archs))
    # other settings: a clear error naming the difference ...
    with pytest.raises(ValueError, match=r"other settings \(lr: saved 0.05, now 0.1\).*on_mismatch='retrain'"):
        create_estimator("oneshot:spos", **TINY, checkpoint=str(path), lr=0.1).fit()
    # ... or a retrain that overwrites the file
    c = create_estimator("oneshot:spos", **TINY, checkpoint=str(path), lr=0.1, on_mismatch="retrain").fit()
    assert not c.loaded_from_checkpoint_
    assert torch.load(path, weights_only=True)["settings"]["lr"] == 0.1
    bad = tmp_path / "bad.pt"
    torch.save({"x": 1}, bad)
    with pytest.raises(ValueError, match="not an archscore SPOS supernet checkpoint"):
        create_estimator("oneshot:spos", **TINY, checkpoint=str(bad)).fit()


def test_data_context_must_match_at_predict():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 3, 8, 8, generator=g), torch.arange(40) % 4
    est = create_estimator("oneshot:spos", **{**TINY, "data_path": None, "limit": None})
    assert est.get_tags().input.needs_data
    with pytest.raises(ValueError, match="data="):
        est.fit()
    est.fit(data=(x, y))
    archs = get_space("nb201").sample(2)
    est.predict(archs, data=(x, y))
    with pytest.raises(ValueError, match="different data="):
        est.predict(archs, data=(x + 1, y))


def test_contract():
    check_estimator("oneshot:spos")


DARTS_TINY = dict(data_path="digits", space_options={"C": 4, "N": 1}, limit=80, resolution=8, epochs=2, batch_size=16,
                  steps_per_epoch=2, num_threads=1)


@pytest.mark.parametrize("order, fix", [(1, None), (2, "darts-"), (1, "early_stop")])
def test_darts_records_cells_and_skip_counts(order, fix):
    sp = get_space("nb201")
    r = oneshot.darts_search(order=order, fix=fix, seed=1, **DARTS_TINY)
    n = len(r.genotypes)
    assert 1 <= n <= 2 and len(r.skip_counts) == len(r.alphas) == len(r.train_losses) == n
    for cell, skips, alpha in zip(r.genotypes, r.skip_counts, r.alphas):
        ops = sp.cell_ops(cell)
        assert skips == ops.count("skip_connect")
        assert ops == [NB201_OPS[i] for i in alpha.argmax(axis=1)]  # discretised by arg-max per edge
    if fix != "early_stop":
        assert r.arch == r.genotypes[-1] and r.stopped_epoch is None
    again = oneshot.darts_search(order=order, fix=fix, seed=1, **DARTS_TINY)
    np.testing.assert_allclose(again.alphas[-1], r.alphas[-1])


def test_darts_early_stop_returns_the_last_cell_under_the_limit():
    # skip_limit=1 with a skip-heavy init is hard to force; instead check the rule on the recorded run
    r = oneshot.darts_search(fix="early_stop", skip_limit=1, seed=0, **{**DARTS_TINY, "epochs": 3})
    if r.stopped_epoch is None:
        assert all(s < 1 for s in r.skip_counts) and r.arch == r.genotypes[-1]
    else:
        assert r.skip_counts[-1] >= 1 and len(r.genotypes) == r.stopped_epoch
        assert r.arch == (r.genotypes[-2] if r.stopped_epoch > 1 else r.genotypes[0])


@pytest.mark.parametrize("kwargs, message", [
    ({"order": 3}, "order must be 1"),
    ({"fix": "gdas"}, "fix must be one of"),
    ({"fix": "drnas", "order": 2}, "first-order only"),
    ({"fix": "drnas", "drnas_reg": -1.0}, "drnas_reg must be a non-negative"),
    ({"epochs": 0}, "epochs must be a positive integer"),
])
def test_darts_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        oneshot.darts_search(**{**DARTS_TINY, **kwargs})


# ------------------------------------------------------------------ DrNAS
def test_drnas_kl_regulariser_matches_the_closed_form():
    run = oneshot.DartsRun(fix="drnas", drnas_reg=1.0, seed=0, **DARTS_TINY)
    with torch.no_grad():
        run.alpha.zero_()
    assert float(run._drnas_kl().detach()) == 0.0  # concentration elu(0) + 1 = 1 on every op: the uniform anchor itself
    with torch.no_grad():
        run.alpha[2, 0] = 1.0  # concentration (2, 1, 1, 1, 1) on one edge
    # KL(Dir(2,1,1,1,1) || Dir(1,1,1,1,1)) = ln G(6) - ln G(2) - ln G(5) + (psi(2) - psi(6)) = ln 5 - (1/2 + 1/3 + 1/4 + 1/5)
    assert float(run._drnas_kl().detach()) == pytest.approx(np.log(5) - (1 / 2 + 1 / 3 + 1 / 4 + 1 / 5), rel=1e-5)


def test_drnas_mixture_is_a_reparameterised_dirichlet_sample():
    run = oneshot.DartsRun(fix="drnas", seed=0, **DARTS_TINY)
    torch.manual_seed(0)
    w1, w2 = run._mixture(detach=False), run._mixture(detach=False)
    assert w1.shape == (6, len(NB201_OPS)) and bool((w1 >= 0).all())
    np.testing.assert_allclose(w1.sum(dim=1).detach().numpy(), 1.0, rtol=1e-5)
    assert not torch.equal(w1, w2)  # stochastic, unlike DARTS's softmax
    w1[:, 0].sum().backward()
    assert run.alpha.grad is not None and float(run.alpha.grad.abs().sum()) > 0  # pathwise gradient reaches alpha
    plain = oneshot.DartsRun(seed=0, **DARTS_TINY)
    assert torch.equal(plain._mixture(detach=True), torch.softmax(plain.alpha.detach(), dim=-1))


def test_drnas_run_owns_its_random_state():
    a = oneshot.DartsRun(fix="drnas", seed=2, **DARTS_TINY)
    b = oneshot.DartsRun(fix="drnas", seed=2, **DARTS_TINY)
    while a.step() is not None:
        pass
    while b.step() is not None:
        torch.rand(1000)  # other code drawing from torch's global generator between epochs
    assert b.step() is None and len(b.epochs_done) == DARTS_TINY["epochs"]
    np.testing.assert_array_equal(a.result().alphas[-1], b.result().alphas[-1])
    assert a.result().settings["drnas_reg"] == 1e-3


def test_eval_rows_samples_every_class_in_proportion():
    from archscore.oneshot.spos import eval_rows

    y = np.repeat(np.arange(10), 1000)  # grouped by class, as stratified_split leaves the held-out rows
    rows = eval_rows(y, 2000, seed=0)
    assert len(rows) == 2000 and np.all(np.diff(rows) > 0)
    assert np.bincount(y[rows]).tolist() == [200] * 10  # the first 2,000 rows would be classes 0 and 1 only
    np.testing.assert_array_equal(rows, eval_rows(y, 2000, seed=0))
    assert not np.array_equal(rows, eval_rows(y, 2000, seed=1))
    # shares 5:3:2 of 5 rows: floor gives 2, 1, 1; the one left goes to the largest remainder (0.5, a tie: the first class)
    y2 = np.array([0] * 5 + [1] * 3 + [2] * 2)
    assert np.bincount(y2[eval_rows(y2, 5, seed=0)]).tolist() == [3, 1, 1]


def test_eval_size_scores_a_sample_of_every_class(fitted, monkeypatch):
    from archscore.oneshot import spos

    n_valid = len(fitted.valid_data_[1])
    est = clone(fitted).set_params(eval_size=n_valid // 2)
    est.__dict__.update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
    seen = []
    real = spos.eval_rows
    monkeypatch.setattr(spos, "eval_rows", lambda y, n, seed: seen.append((len(y), n, seed)) or real(y, n, seed))
    acc = est.predict(get_space("nb201").sample(2, seed=3))
    assert seen == [(n_valid, n_valid // 2, fitted.seed)]
    # accuracy over the n_valid // 2 rows scored: a multiple of 100 / (n_valid // 2)
    np.testing.assert_allclose(np.round(acc * (n_valid // 2) / 100), acc * (n_valid // 2) / 100, atol=1e-9)
