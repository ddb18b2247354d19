"""Constraints checked before a query is spent: parsing, units, estimators, table columns, refusals, resume, CLI."""

import argparse

import numpy as np
import pandas as pd
import pytest

from archscore import get_space
from archscore.cli import search as cli_search
from archscore.search import TabularEvaluator, parse_constraint, search
from archscore.search.constraints import Constraint, as_constraints


def small_table(n=40, seed=0):
    """``n`` NB201 cells; ``lat`` = 1..n in a shuffled order so the refused set is known exactly."""
    space = get_space("nb201")
    strings = [space.to_string(a) for a in space.sample(n, seed=seed)]
    rng = np.random.default_rng(seed)
    lat = rng.permutation(np.arange(1, n + 1)).astype(float)
    value = rng.normal(80, 5, size=n).round(4)
    return pd.DataFrame({"arch": strings, "valid": value, "lat": lat})


@pytest.mark.parametrize("text, name, op, bound", [
    ("hw:latency<=5ms", "hw:latency", "<=", 5.0),
    ("hw:latency <= 0.005s", "hw:latency", "<=", 5.0),
    ("latency<250us", "hw:latency", "<", 0.25),
    ("params<=1.5M", "hw:params", "<=", 1.5e6),
    ("params<=1.5e6", "hw:params", "<=", 1.5e6),
    ("hw:macs<=200k", "hw:macs", "<=", 2e5),
    ("hw:peak_memory<2MiB", "hw:peak_memory", "<", 2 * 1024**2),
    ("hw:peak_sram<=3KB", "hw:peak_sram", "<=", 3000.0),
    ("edgegpu_latency>=3", "edgegpu_latency", ">=", 3.0),
])
def test_parse_constraint_units(text, name, op, bound):
    c = parse_constraint(text)
    assert (c.name, c.op) == (name, op) and c.bound == pytest.approx(bound)


@pytest.mark.parametrize("text, match", [
    ("latency=<5", "malformed constraint 'latency=<5': expected NAME OP NUMBER"),
    ("<=5ms", "malformed constraint"),
    ("hw:latency<=fast", "malformed constraint"),
    ("hw:latency<=5mss", "unknown unit 'mss'.*did you mean 'ms'"),
])
def test_malformed_constraints_name_the_expected_form(text, match):
    with pytest.raises(ValueError, match=match):
        parse_constraint(text)


def test_mapping_form_is_one_case_of_the_general_mechanism():
    cons, checks = as_constraints({"max_params": 1e6, "max_latency": "5ms", "max_memory": "2MB"})
    assert [c.describe() for c in cons] == ["hw:params<=1e+06", "hw:latency<=5", "hw:peak_memory<=2e+06"] and checks == []
    with pytest.raises(ValueError, match="unknown constraint 'max_param'; did you mean 'max_params'"):
        as_constraints({"max_param": 1})
    with pytest.raises(ValueError, match="must be a positive number"):
        as_constraints({"max_params": -3})
    with pytest.raises(ValueError, match="operator must be one of"):
        Constraint("lat", "==", 3)


def test_table_column_constraint_refuses_before_spending_queries():
    df = small_table()
    ev = TabularEvaluator(df, target="valid", space="nb201")
    lat = dict(zip(df["arch"], df["lat"]))
    res = search("nb201", "random", ev, budget=10, seed=0, constraints="lat<=20")
    h = res.history
    assert len(h) == 10 and res.spent == 10  # refusals cost nothing
    assert all(lat[a] <= 20 for a in h["arch"])
    assert res.n_refused > 0 and len(res.refused) > 0
    assert all(lat[a] > 20 for a in res.refused["arch"])
    assert set(res.refused["arch"]).isdisjoint(h["arch"])
    r = res.refused.iloc[0]
    assert r["reason"] == f"lat = {lat[r['arch']]:g}, not <= 20" and r["lat"] == lat[r["arch"]]
    # exhaustion: with budget > allowed, every allowed cell is queried exactly once and every other one refused
    res = search("nb201", "random", ev, budget=40, seed=1, constraints=["lat<=20"])
    assert sorted(lat[a] for a in res.history["arch"]) == list(range(1, 21))
    assert sorted(lat[a] for a in res.refused["arch"]) == list(range(21, 41))


def test_every_strategy_respects_a_constraint():
    df = small_table(n=120, seed=2)
    ev = TabularEvaluator(df, target="valid", space="nb201")
    lat = dict(zip(df["arch"], df["lat"]))
    for strat, params in [("rea", {"population_size": 5, "tournament_size": 2}), ("local", {}), ("reinforce", {}),
                          ("bananas", {"surrogate": "rf", "n_candidates": 20})]:
        res = search("nb201", strat, ev, budget=8, seed=0, constraints="lat<60.5", strategy_params=params)
        assert len(res.history) == 8, strat
        assert all(lat[a] < 60.5 for a in res.history["arch"]), strat


def test_callable_and_estimator_tuple_forms_and_params_alias(tmp_path):
    tiny = get_space("nb201", C=4, N=1)
    df = small_table(n=30, seed=3)
    ev = TabularEvaluator(df, target="valid", space=tiny)
    n_params = {s: sum(p.numel() for p in tiny.build(tiny.from_string(s)).parameters()) for s in df["arch"]}
    limit = float(np.median(list(n_params.values())))
    # "params<=N" (hw:params on the search's own space) and the old max_params mapping give the same run
    a = search(tiny, "random", ev, budget=8, seed=0, constraints=f"params<={limit}")
    b = search(tiny, "random", ev, budget=8, seed=0, constraints={"max_params": limit})
    assert a.history.equals(b.history) and all(n_params[s] <= limit for s in a.history["arch"])
    import archscore

    est = archscore.create_estimator("hw:params", space_options={"C": 4, "N": 1})
    c = search(tiny, "random", ev, budget=8, seed=0, constraints=[(est, "<=", limit)])
    assert c.history.equals(a.history)
    lat = dict(zip(df["arch"], df["lat"]))
    d = search(tiny, "random", ev, budget=5, seed=0, constraints=[(lambda arch: lat[tiny.to_string(arch)], "<", 10)])
    assert all(lat[s] < 10 for s in d.history["arch"]) and len(d.history) == 5


def test_unknown_metric_and_unit_mismatch_errors():
    df = small_table()
    ev = TabularEvaluator(df, target="valid", space="nb201")
    with pytest.raises(ValueError, match="unknown constraint metric 'latt'; did you mean 'lat'"):
        search("nb201", "random", ev, budget=2, constraints="latt<=3")
    with pytest.raises(ValueError, match="unknown constraint metric 'hw:latncy'.*did you mean 'hw:latency'"):
        search("nb201", "random", ev, budget=2, constraints="hw:latncy<=3ms")
    with pytest.raises(ValueError, match="a time unit was given for 'hw:params', whose values are in 'params'"):
        search("nb201", "random", ev, budget=2, constraints="hw:params<=5ms")
    with pytest.raises(ValueError, match="ranks architectures within one predict call"):
        search("nb201", "random", ev, budget=2, constraints="zc:ensemble>=0")


def test_noisy_metric_values_are_logged_and_replayed_on_resume(tmp_path):
    df = small_table(n=60, seed=4)
    ev = TabularEvaluator(df, target="valid", space="nb201")
    noise = np.random.default_rng(123)

    def noisy(arch):  # like a measured latency: another value at every call
        return float(noise.random())

    cons = [(noisy, "<", 0.5)]
    first = search("nb201", "rea", ev, budget=12, seed=0, constraints=cons, out=tmp_path / "run",
                   strategy_params={"population_size": 5, "tournament_size": 2})
    logged = pd.read_csv(tmp_path / "run" / "constraint_values.csv")
    assert len(logged) == len(first.history) + len(first.refused) and (logged["metric"] == "c0:test_noisy_metric_values_are_logged_and_replayed_on_resume.<locals>.noisy").all()
    # a longer run resumes: the first 12 decisions replay from the logged values (otherwise the refusals would differ)
    longer = search("nb201", "rea", ev, budget=20, seed=0, constraints=cons, out=tmp_path / "run",
                    strategy_params={"population_size": 5, "tournament_size": 2})
    assert longer.history.iloc[:12].equals(first.history)
    assert len(longer.history) == 20


def _parse(argv):
    p = argparse.ArgumentParser()
    cli_search.add_arguments(p)
    return p.parse_args(argv)


def test_cli_constraint(tmp_path, capsys):
    df = small_table()
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "run"
    argv = ["--strategy", "random", "--budget", "6", "--data", str(path), "--target", "valid", "--out", str(out), "--no-progress",
            "--constraint", "lat<=10", "--constraint", "lat>=2"]
    assert cli_search.run(_parse(argv)) == 0
    h = pd.read_csv(out / "history.csv")
    lat = dict(zip(df["arch"], df["lat"]))
    assert len(h) == 6 and all(2 <= lat[a] <= 10 for a in h["arch"])
    refused = pd.read_csv(out / "refused.csv")
    assert all(lat[a] > 10 or lat[a] < 2 for a in refused["arch"])
    assert "refused before any query" in capsys.readouterr().out
    with pytest.raises(ValueError, match="malformed constraint 'lat<<3': expected NAME OP NUMBER"):
        cli_search.run(_parse(["--budget", "3", "--data", str(path), "--target", "valid", "--constraint", "lat<<3"]))
    with pytest.raises(ValueError, match="did you mean 'lat'"):
        cli_search.run(_parse(["--budget", "3", "--data", str(path), "--target", "valid", "--constraint", "lta<=3"]))
