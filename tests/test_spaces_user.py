"""User-declared spaces: ChoiceSpace, CellSpace, register_space(instance) and load_space."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch import nn

import archscore
from archscore.search import EstimatorEvaluator, search
from archscore.search.strategies import RegularizedEvolution
from archscore.spaces import SPACES, CellSpace, ChoiceSpace, get_space, load_space, register_space

CHOICES = {"width": [16, 32], "depth": [1, 2, 3], "act": ["relu", "gelu"]}


def build_mlp(cfg, num_classes=10):
    act = nn.GELU if cfg["act"] == "gelu" else nn.ReLU
    layers = [nn.Flatten(), nn.Linear(3 * 8 * 8, cfg["width"]), act()]
    for _ in range(cfg["depth"] - 1):
        layers += [nn.Linear(cfg["width"], cfg["width"]), act()]
    return nn.Sequential(*layers, nn.Linear(cfg["width"], num_classes))


@pytest.fixture
def space():
    return ChoiceSpace("test-mlps", CHOICES, build=build_mlp)


class Zero(nn.Module):
    def forward(self, x):
        return x * 0.0


def build_op(op, c):
    if op == "none":
        return Zero()
    if op == "skip":
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.GELU())


@pytest.fixture
def cells():
    return CellSpace("test-cells", ops=["none", "skip", "conv"], n_nodes=4, build_op=build_op, C=4)


# ------------------------------------------------------------------ ChoiceSpace
def test_choice_space_chain_arch_and_strings(space):
    assert space.size == len(space) == 12
    assert space.ops == ("width=16", "width=32", "depth=1", "depth=2", "depth=3", "act=relu", "act=gelu")
    arch = space.from_string("act=gelu, width=32,depth=2")  # any order, spaces tolerated
    assert arch.ops == ("input", "width=32", "depth=2", "act=gelu", "output")
    assert sorted(arch.graph.edges) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert space.to_string(arch) == "width=32,depth=2,act=gelu"
    assert space.config(arch) == {"width": 32, "depth": 2, "act": "gelu"}  # the declared values, ints stay ints
    assert space.from_config({"width": 32, "depth": 2, "act": "gelu"}) == arch


def test_choice_space_enumerate_index_and_sample(space):
    every = list(space.enumerate())
    assert len(every) == len(set(every)) == 12
    assert space.to_string(every[0]) == "width=16,depth=1,act=relu"
    assert space.to_string(every[1]) == "width=16,depth=1,act=gelu"  # last choice varies fastest
    assert all(space.from_index(i) == a for i, a in enumerate(every))
    drawn = space.sample(12, seed=3)
    assert len(set(drawn)) == 12 and space.sample(5, seed=3) == space.sample(5, seed=3)
    with pytest.raises(ValueError, match="cannot sample 13 distinct"):
        space.sample(13)


def test_choice_space_neighbours_and_mutate_change_exactly_one_choice(space):
    arch = space.from_string("width=32,depth=2,act=gelu")
    base = space.config(arch)
    nbrs = space.neighbours(arch)
    assert len(nbrs) == 1 + 2 + 1  # (2-1) + (3-1) + (2-1)
    for child in nbrs + [space.mutate(arch, s) for s in range(20)]:
        diff = [k for k, v in space.config(child).items() if v != base[k]]
        assert len(diff) == 1
    assert {space.to_string(space.mutate(arch, s)) for s in range(50)} == {space.to_string(a) for a in nbrs}


@pytest.mark.parametrize("bad, msg", [
    ("width=32,depth=2", "missing \\['act'\\]"),
    ("width=32,depth=2,act=tanh", "unknown value of choice 'act' 'tanh'"),
    ("width=32,depth=2,act=gelu,width=16", "choice 'width' given twice"),
    ("width=32,depth=2,colour=red", "unknown choice of space 'test-mlps' 'colour'"),
    ("width32,depth=2,act=gelu", "malformed item 'width32'"),
])
def test_choice_space_bad_strings(space, bad, msg):
    with pytest.raises(ValueError, match=msg):
        space.from_string(bad)


@pytest.mark.parametrize("choices, msg", [
    ({}, "non-empty mapping"),
    ({"w": []}, "non-empty list"),
    ({"w": "abc"}, "non-empty list"),
    ({"w": [1, "1"]}, "distinct string forms"),
    ({"w": ["a,b"]}, "without ',' or '='"),
    ({"a=b": [1]}, "choice names"),
])
def test_choice_space_bad_declarations(choices, msg):
    with pytest.raises(ValueError, match=msg):
        ChoiceSpace("x", choices)


def test_choice_space_build_passes_num_classes_only_when_accepted(space):
    arch = space.from_string("width=16,depth=3,act=relu")
    model = space.build(arch, num_classes=4)
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 4)
    assert sum(isinstance(m, nn.Linear) for m in model) == 4  # depth 3 + classifier
    fixed = ChoiceSpace("fixed", {"w": [2, 3]}, build=lambda cfg: nn.Linear(5, cfg["w"]))
    assert fixed.build(fixed.from_string("w=3"), num_classes=7).out_features == 3
    with pytest.raises(NotImplementedError, match="declared without build="):
        ChoiceSpace("nob", {"w": [1]}).build(ChoiceSpace("nob", {"w": [1]}).from_string("w=1"))


def test_encodings_surrogate_and_search_run_on_a_choice_space(space):
    archs = list(space.enumerate())
    X = archscore.encodings.get_encoding("onehot").fit(archs).transform(archs)
    assert len({tuple(r) for r in X}) == 12  # the encoding tells every configuration apart
    # a target that depends on width and depth only: a forest must rank the extremes right
    truth = {a: 50 + space.config(a)["width"] / 2 + 5 * space.config(a)["depth"] for a in archs}
    est = archscore.create_estimator("rf", n_estimators=50, seed=0).fit(archs, [truth[a] for a in archs])
    pred = est.predict(archs)
    assert np.argmax(pred) == int(np.argmax([truth[a] for a in archs]))
    result = search(space, RegularizedEvolution(population_size=4, tournament_size=2), EstimatorEvaluator(est), budget=12, seed=0)
    assert len(result.history) == 12 and result.history["arch"].map(lambda s: space.from_string(s).space == "test-mlps").all()
    # all 12 configurations queried: the best by the forest's estimate is the true best
    assert result.best.arch == "width=32,depth=3,act=relu"


def test_zc_estimators_and_registry_with_a_registered_instance(space):
    register_space(space, overwrite=True)
    try:
        assert get_space("test-mlps") is space and "test-mlps" in archscore.list_spaces()
        with pytest.raises(TypeError, match="takes no options"):
            get_space("test-mlps", C=3)
        archs = [space.from_string(s) for s in ("width=16,depth=1,act=relu", "width=32,depth=3,act=gelu")]
        x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
        params = archscore.create_estimator("zc:params").predict(archs, data=(x, y))
        # (192*16+16) + (16*10+10) = 3258 and (192*32+32) + 2*(32*32+32) + (32*10+10) = 8618
        assert params.tolist() == [3258.0, 8618.0]
    finally:
        SPACES._entries.pop("test-mlps", None)


# -------------------------------------------------------------------- CellSpace
def test_cell_space_strings_template_and_enumeration(cells):
    assert cells.size == 3 ** 6 and cells.edges == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    s = "|conv~0|+|skip~0|none~1|+|conv~0|none~1|skip~2|"
    arch = cells.from_string(s)
    assert cells.to_string(arch) == s and cells.cell_ops(arch) == ["conv", "skip", "none", "conv", "none", "skip"]
    # same wiring as NB201's op-on-node template
    nb = get_space("nb201").from_string(s.replace("conv", "nor_conv_3x3").replace("skip", "skip_connect"))
    assert sorted(arch.graph.edges) == sorted(nb.graph.edges)
    assert arch.key == nb.key.replace("nor_conv_3x3", "conv")  # skip and none keep their identity/zero meaning
    assert cells.to_string(cells.from_index(1)) == "|none~0|+|none~0|none~1|+|none~0|none~1|skip~2|"
    two = CellSpace("two", ops=["a", "b"], n_nodes=3)
    assert [two.to_string(a) for a in two.enumerate()][:2] == ["|a~0|+|a~0|a~1|", "|a~0|+|a~0|b~1|"]
    assert len(set(two.enumerate())) == 8
    with pytest.raises(ValueError, match="malformed edge 'conv~01'"):
        cells.from_string("|conv~0|+|skip~0|conv~01|+|conv~0|none~1|skip~2|")
    with pytest.raises(ValueError, match="unknown op of space 'test-cells' 'pool'"):
        cells.from_string("|pool~0|+|skip~0|none~1|+|conv~0|none~1|skip~2|")


def test_cell_space_builds_and_mutates(cells):
    arch = cells.from_string("|conv~0|+|skip~0|conv~1|+|none~0|skip~1|conv~2|")
    model = cells.build(arch, num_classes=5)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 5)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) and m.in_channels == m.out_channels]
    assert len(convs) == 3 * 3 + 2  # three conv edges in each of 3 stages + the channel-keeping 3x3 conv of each of 2 reductions
    child = cells.mutate(arch, 0)
    assert sum(a != b for a, b in zip(cells.cell_ops(child), cells.cell_ops(arch))) == 1
    assert len(cells.neighbours(arch)) == 6 * 2
    bad = CellSpace("bad", ops=["x", "y"], build_op=lambda op, c: 3)
    with pytest.raises(TypeError, match=r"build_op\('x', 16\) returned a int"):
        bad.build(bad.from_index(0))


# ------------------------------------------------------------------ load_space
def test_load_space_by_module_path(tmp_path, monkeypatch):
    (tmp_path / "my_spaces_mod.py").write_text(
        "from archscore.spaces import ChoiceSpace\n"
        "space = ChoiceSpace('loaded-space', {'k': [3, 5]})\n"
        "def make(n=2):\n    return ChoiceSpace('made-space', {'k': list(range(n))})\n"
        "not_a_space = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        sp = load_space("my_spaces_mod:space")
        assert sp.name == "loaded-space" and get_space("loaded-space") is sp
        assert len(load_space("my_spaces_mod:make", n=4)) == 4
        assert load_space("nb201", C=4).C == 4
        with pytest.raises(ValueError, match="has no attribute 'nope'"):
            load_space("my_spaces_mod:nope")
        with pytest.raises(ValueError, match="is a int, not a search space"):
            load_space("my_spaces_mod:not_a_space")
        with pytest.raises(ValueError, match="cannot import module 'no_such_mod_xyz'"):
            load_space("no_such_mod_xyz:space")
    finally:
        for name in ("loaded-space", "made-space"):
            SPACES._entries.pop(name, None)
        sys.modules.pop("my_spaces_mod", None)


@pytest.mark.parametrize("seed", ["abc", 1.5, -1, True])
def test_bad_seeds_are_clear_errors(space, cells, seed):
    arch = space.from_index(0)
    for call in (lambda: space.sample(2, seed=seed), lambda: space.mutate(arch, seed),
                 lambda: cells.sample(2, seed=seed), lambda: cells.mutate(cells.from_index(0), seed)):
        with pytest.raises(ValueError, match="seed must be a non-negative integer or None"):
            call()
    assert space.mutate(arch, np.random.default_rng(0)) in space.neighbours(arch)  # a Generator is accepted
