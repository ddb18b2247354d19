"""Multi-objective search: crowding distance, nsga2 / rea-mo, objectives, res.front, hypervolume on tiny known tables."""

import argparse
import math

import numpy as np
import pandas as pd
import pytest

from archscore import get_space
from archscore.cli import search as cli_search
from archscore.hardware import hypervolume
from archscore.search import TabularEvaluator, list_strategies, search
from archscore.search.multiobjective import crowding_distance, rank_and_crowding

OBJ = {"acc": "max", "lat": "min"}


def known_table():
    """8 cells with a hand-made front F, A, B, C (acc max, lat min); D, E, G, H are dominated."""
    space = get_space("nb201")
    strings = [space.to_string(a) for a in space.sample(8, seed=5)]
    acc = [90, 85, 80, 84, 70, 91, 60, 85]
    lat = [5, 3, 1, 4, 2, 9, 10, 3.5]
    return pd.DataFrame({"arch": strings, "acc": acc, "lat": lat, "name": list("ABCDEFGH")})


def test_crowding_distance_hand_computed():
    d = crowding_distance(np.array([[0, 4], [1, 2], [3, 1], [4, 0]], float))
    # objective 0 (span 4): p1 (3-0)/4, p2 (4-1)/4; objective 1 (span 4): p1 (4-1)/4, p2 (2-0)/4
    assert math.isinf(d[0]) and math.isinf(d[3])
    assert d[1] == pytest.approx(0.75 + 0.75) and d[2] == pytest.approx(0.75 + 0.5)
    assert np.isinf(crowding_distance(np.array([[0, 1], [1, 0]], float))).all()
    rank, crowd = rank_and_crowding(np.array([[90, 5], [85, 3], [84, 4], [70, 6]], float), [True, False])
    assert list(rank) == [0, 0, 1, 2]


def test_registered():
    assert {"nsga2", "rea-mo"} <= set(list_strategies())


@pytest.mark.parametrize("strategy", ["random", "nsga2", "rea-mo"])
def test_front_of_a_fully_queried_table_is_the_known_front(strategy):
    df = known_table()
    ev = TabularEvaluator(df, target="acc", space="nb201", extra=["lat"])
    params = {"population_size": 4, "tournament_size": 2} if strategy != "random" else {}
    res = search("nb201", strategy, ev, budget=8, seed=0, objectives=OBJ, strategy_params=params)
    assert len(res.history) == 8 and "lat" in res.history.columns
    names = dict(zip(df["arch"], df["name"]))
    front = res.front
    assert list(front.columns) == ["query", "arch", "acc", "lat"]
    assert [names[a] for a in front["arch"]] == ["F", "A", "B", "C"]  # sorted by the first objective (acc, descending)
    # hypervolume with reference (acc 50, lat 10): slices of lat [1,3) 30*2 + [3,5) 35*2 + [5,9) 40*4 + [9,10) 41*1
    hv = hypervolume(front[["acc", "lat"]].to_numpy(), ref=[50, 10], maximize=[True, False])
    assert hv == pytest.approx(60 + 70 + 160 + 41)


def synthetic_space_table(n=3000, seed=0):
    """Cells whose accuracy grows with 3x3 convs and whose latency grows with every conv: a real trade-off."""
    space = get_space("nb201")
    archs = space.sample(n, seed=seed)
    strings = [space.to_string(a) for a in archs]
    acc, lat = [], []
    for s in strings:
        ops = [t.split("~")[0] for t in s.split("|") if "~" in t]
        acc.append(70 + 4 * ops.count("nor_conv_3x3") + 2 * ops.count("nor_conv_1x1") + ops.count("skip_connect")
                   - 3 * ops.count("none"))
        lat.append(1 + 2 * ops.count("nor_conv_3x3") + ops.count("nor_conv_1x1") + 0.2 * ops.count("avg_pool_3x3"))
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"arch": strings, "acc": np.array(acc) + rng.normal(0, 0.3, n), "lat": lat})


def test_nsga2_beats_random_in_hypervolume_on_a_synthetic_trade_off():
    df = synthetic_space_table()
    ev = TabularEvaluator(df, target="acc", space="nb201", extra=["lat"])
    ref = [df["acc"].min(), df["lat"].max()]

    def hv(strategy, seed):
        res = search("nb201", strategy, ev, budget=60, seed=seed, objectives=OBJ)
        # the front is non-dominated within the history (brute force check)
        h = res.history
        for _, r in res.front.iterrows():
            assert not ((h["acc"] >= r["acc"]) & (h["lat"] <= r["lat"]) & ((h["acc"] > r["acc"]) | (h["lat"] < r["lat"]))).any()
        return hypervolume(res.front[["acc", "lat"]].to_numpy(), ref, maximize=[True, False])

    nsga = np.mean([hv("nsga2", s) for s in range(5)])
    rnd = np.mean([hv("random", s) for s in range(5)])
    assert nsga > rnd


def test_objective_known_before_the_query_and_errors():
    df = known_table()
    ev = TabularEvaluator(df, target="acc", space="nb201")  # lat not reported: looked up as a cost, like a constraint
    res = search("nb201", "nsga2", ev, budget=8, seed=0, objectives=OBJ, strategy_params={"population_size": 4})
    lat = dict(zip(df["arch"], df["lat"]))
    assert list(res.history["lat"]) == [lat[a] for a in res.history["arch"]]
    assert len(res.front) == 4
    with pytest.raises(ValueError, match="strategy 'nsga2' is multi-objective: pass objectives="):
        search("nb201", "nsga2", ev, budget=3)
    with pytest.raises(ValueError, match="direction must be 'min' or 'max'"):
        search("nb201", "nsga2", ev, budget=3, objectives={"acc": "up"})
    with pytest.raises(ValueError, match="objective 'latt' is neither reported.*did you mean 'lat'"):
        search("nb201", "nsga2", ev, budget=3, objectives={"acc": "max", "latt": "min"})
    with pytest.raises(ValueError, match="no extra column 'lt'"):
        TabularEvaluator(df, target="acc", space="nb201", extra=["lt"])


def test_nsga2_resume_replays_reported_extras(tmp_path):
    df = synthetic_space_table(n=500, seed=1)
    ev = TabularEvaluator(df, target="acc", space="nb201", extra=["lat"])
    full = search("nb201", "nsga2", ev, budget=30, seed=2, objectives=OBJ)
    search("nb201", "nsga2", ev, budget=15, seed=2, objectives=OBJ, out=tmp_path / "r")
    resumed = search("nb201", "nsga2", ev, budget=30, seed=2, objectives=OBJ, out=tmp_path / "r")
    assert resumed.history.equals(full.history)
    with pytest.raises(ValueError, match="objectives differs"):
        search("nb201", "nsga2", ev, budget=30, seed=2, objectives={"acc": "max", "lat": "max"}, out=tmp_path / "r")


def test_cli_objectives_write_the_front(tmp_path, capsys):
    df = known_table()
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    p = argparse.ArgumentParser()
    cli_search.add_arguments(p)
    args = p.parse_args(["--strategy", "nsga2", "--budget", "8", "--data", str(path), "--target", "acc", "--objective", "acc=max",
                         "--objective", "lat=min", "--param", "population_size=4", "--out", str(tmp_path / "run"), "--no-progress"])
    assert cli_search.run(args) == 0
    front = pd.read_csv(tmp_path / "run" / "front.csv")
    assert sorted(front["lat"]) == [1, 3, 5, 9]
    assert "Pareto front of acc (max), lat (min): 4 architectures" in capsys.readouterr().out
    with pytest.raises(ValueError, match="--objective needs NAME=max or NAME=min"):
        cli_search.run(p.parse_args(["--budget", "3", "--data", str(path), "--target", "acc", "--objective", "lat"]))


def test_bench_multiobjective_on_a_small_joined_table(tmp_path):
    from archscore.bench import multiobjective as bench

    df = synthetic_space_table(n=80, seed=3)
    (tmp_path / "nb201").mkdir()
    (tmp_path / "hwnasbench").mkdir()
    nb = pd.DataFrame({"arch": df["arch"], "valid_acc_200ep": df["acc"], "test_acc_200ep": df["acc"] + 0.5})
    nb.to_csv(tmp_path / "nb201" / "nb201_cifar10.csv", index=False)
    hw = pd.DataFrame({"arch": df["arch"][::-1], "edgegpu_latency": df["lat"][::-1], "raspi4_latency": 2 * df["lat"][::-1]})
    hw.to_csv(tmp_path / "hwnasbench" / "hwnasbench_nb201_cifar10_dev.csv", index=False)
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args(["--data", str(tmp_path), "--devices", "edgegpu_latency,raspi4_latency", "--strategies", "rea-mo,random",
                         "--budget", "15", "--seeds", "2", "--out", str(tmp_path / "out")])
    bench.run(args)
    runs = pd.read_csv(tmp_path / "out" / "runs.csv")
    assert len(runs) == 2 * 2 * 2 and (runs["queries"] == 15).all()
    assert (runs["hv_ratio"] <= 1 + 1e-12).all() and (runs["hv_ratio"] > 0).all()  # no front beats the whole table's
    # HV* of the true front (brute force over all rows) with the documented reference point
    joined = nb.merge(hw, on="arch")
    ref = [joined["test_acc_200ep"].min(), joined["edgegpu_latency"].max()]
    hv_true = hypervolume(joined[["test_acc_200ep", "edgegpu_latency"]].to_numpy(), ref, maximize=[True, False])
    r = runs[runs.device == "edgegpu_latency"].iloc[0]
    assert r["hv"] / r["hv_ratio"] == pytest.approx(hv_true)
    md = (tmp_path / "out" / "results.md").read_text()
    assert f"{hv_true:.2f}" in md and "Reference point per device" in md
