"""`archscore search` and `archscore bench search` command modules on a tiny synthetic table."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from archscore import get_space
from archscore.bench import search as bench_search
from archscore.cli import search as cli_search


def _table(tmp_path, n=120):
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    v = rng.normal(85, 3, size=n).round(3)
    df = pd.DataFrame({"arch": [space.to_string(a) for a in space.sample(n, seed=1)], "valid": v, "test": v + 2,
                       "valid_12": (v - 20).round(3)})
    path = tmp_path / "table.csv"
    df.to_csv(path, index=False)
    return df, path


def _parse(module, argv):
    p = argparse.ArgumentParser()
    module.add_arguments(p)
    return p.parse_args(argv)


def test_cli_search_writes_history_plot_and_prints_best(tmp_path, capsys):
    df, path = _table(tmp_path)
    out = tmp_path / "run"
    argv = ["--strategy", "rea", "--budget", "15", "--data", str(path), "--target", "valid", "--report", "test", "--seed", "0",
            "--out", str(out), "--no-progress", "--param", "population_size=5", "--param", "tournament_size=2"]
    assert cli_search.run(_parse(cli_search, argv)) == 0
    printed = capsys.readouterr().out
    h = pd.read_csv(out / "history.csv")
    assert len(h) == 15
    best = h.loc[h["value"].idxmax()]
    assert f"valid={best['value']:.4f}" in printed and best["arch"] in printed and f"test={best['report']:.4f}" in printed
    assert (out / "best_so_far.png").stat().st_size > 0
    curve = np.loadtxt(out / "best_so_far.txt")
    assert curve[-1] == pytest.approx(best["report"])
    # rerunning the same command resumes (nothing re-queried, same history)
    assert cli_search.run(_parse(cli_search, argv)) == 0
    assert pd.read_csv(out / "history.csv").equals(h)
    meta = json.loads((out / "run.json").read_text())
    assert meta["strategy"] == "rea" and meta["strategy_params"]["population_size"] == 5


def test_cli_search_errors(tmp_path):
    df, path = _table(tmp_path)
    with pytest.raises(ValueError, match="no target column 'vald'.*did you mean 'valid'"):
        cli_search.run(_parse(cli_search, ["--budget", "5", "--data", str(path), "--target", "vald"]))
    with pytest.raises(ValueError, match="did you mean 'rea'"):
        cli_search.run(_parse(cli_search, ["--budget", "5", "--data", str(path), "--target", "valid", "--strategy", "reaa"]))
    with pytest.raises(ValueError, match="budget must be a positive integer"):
        cli_search.run(_parse(cli_search, ["--budget", "0", "--data", str(path), "--target", "valid"]))


def test_cli_search_workers_give_the_serial_history(tmp_path, capsys):
    df, path = _table(tmp_path)
    base = ["--strategy", "random", "--budget", "12", "--data", str(path), "--target", "valid", "--seed", "4", "--no-progress",
            "--param", "batch_size=4"]
    assert cli_search.run(_parse(cli_search, base + ["--out", str(tmp_path / "serial")])) == 0
    assert cli_search.run(_parse(cli_search, base + ["--out", str(tmp_path / "par"), "--workers", "2"])) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "serial" / "history.csv"), pd.read_csv(tmp_path / "par" / "history.csv"))
    with pytest.raises(ValueError, match="--workers must be >= 1, got 0"):
        cli_search.run(_parse(cli_search, base + ["--workers", "0"]))
    with pytest.raises(ValueError, match="--timeout-per-query needs --workers"):
        cli_search.run(_parse(cli_search, base + ["--timeout-per-query", "5"]))
    with pytest.raises(SystemExit):  # argparse: --workers and --dask-local exclude each other
        _parse(cli_search, base + ["--workers", "2", "--dask-local", "2"])


def test_cli_search_store_keeps_the_history_and_resumes(tmp_path, capsys):
    df, path = _table(tmp_path)
    db = tmp_path / "runs.db"
    base = ["--strategy", "rea", "--data", str(path), "--target", "valid", "--seed", "1", "--no-progress",
            "--param", "population_size=5", "--param", "tournament_size=2", "--store", str(db), "--out", str(tmp_path / "o")]
    assert cli_search.run(_parse(cli_search, base + ["--budget", "6"])) == 0
    assert cli_search.run(_parse(cli_search, base + ["--budget", "14"])) == 0
    assert "history kept in the score store" in capsys.readouterr().out
    serial = tmp_path / "serial"
    argv = [a if a != str(tmp_path / "o") else str(serial) for a in base if a not in ("--store", str(db))]
    assert cli_search.run(_parse(cli_search, argv + ["--budget", "14"])) == 0
    copy = pd.read_csv(tmp_path / "o" / "history.csv")
    pd.testing.assert_frame_equal(copy[["query", "arch", "value"]], pd.read_csv(serial / "history.csv")[["query", "arch", "value"]])
    from archscore.store import ScoreStore

    with ScoreStore(db, readonly=True) as st:
        (entry,) = st.settings()
        assert entry["queries"] == 14 and entry["settings"]["strategy"] == "rea"


def test_bench_search_summarises_runs_per_budget(tmp_path, capsys):
    df, path = _table(tmp_path)
    out = tmp_path / "bench"
    argv = ["--data", str(path), "--target", "valid", "--report", "test", "--strategies", "random,rea,sh", "--budgets", "5,10",
            "--seeds", "3", "--fidelities", "12=valid_12,200=valid", "--out", str(out)]
    assert bench_search.run(_parse(bench_search, argv)) == 0
    res = pd.read_csv(out / "results.csv")
    assert set(res["strategy"]) == {"random", "rea", "sh"} and set(res["budget"]) == {5, 10}
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    # random/rea run once per seed at the largest budget; sh (budget-aware) once per budget
    assert sum(r["strategy"] == "random" for r in runs) == 3 and sum(r["strategy"] == "sh" for r in runs) == 6
    # the summary's mean at budget 5 is the mean over seeds of the best-so-far test at query 5
    rnd = [r for r in runs if r["strategy"] == "random"]
    expect = np.mean([r["best_report"][4] for r in rnd])
    got = res[(res.strategy == "random") & (res.budget == 5)]["mean_test"].iat[0]
    assert got == pytest.approx(expect)
    optimum = df["test"].max()
    frac = np.mean([r["best_report"][9] >= optimum - 1e-9 for r in rnd])
    assert res[(res.strategy == "random") & (res.budget == 10)]["frac_optimum"].iat[0] == pytest.approx(frac)
    assert "| random | 5 | 3 |" in (out / "results.md").read_text()
    assert (out / "search.png").stat().st_size > 0
    # rerun: every run is already recorded, nothing is recomputed
    assert bench_search.run(_parse(bench_search, argv)) == 0
    assert len((out / "runs.jsonl").read_text().splitlines()) == len(runs)


def test_bench_search_space_option(tmp_path):
    df, path = _table(tmp_path)
    with pytest.raises(ValueError, match="--space must be nb201 or nbgraph:DATASET"):
        bench_search.run(_parse(bench_search, ["--data", str(path), "--space", "nbgraph", "--out", str(tmp_path / "o")]))
    out = tmp_path / "b"
    argv = ["--data", str(path), "--target", "valid", "--report", "test", "--strategies", "random", "--budgets", "5",
            "--seeds", "2", "--fidelities", "", "--out", str(out)]
    assert bench_search.run(_parse(bench_search, argv)) == 0
    text = (out / "results.md").read_text()
    best = df.loc[df["valid"].idxmax(), "test"]
    assert text.startswith("# Search on NAS-Bench-201 CIFAR-10") and f"whole table: {best:.2f})" in text


def test_bench_search_pool_note_says_whether_the_scored_set_holds_the_best(tmp_path):
    df, path = _table(tmp_path)
    rng = np.random.default_rng(3)
    best = df.loc[df["valid"].idxmax(), "arch"]
    for holds, archs in (("holds", [best] + list(df["arch"].drop(df["valid"].idxmax())[:29])),
                         ("does not hold", list(df["arch"].drop(df["valid"].idxmax())[:30]))):
        scores = pd.DataFrame({"arch": archs, **{p: rng.normal(size=30) for p in ("meco", "jacov", "synflow", "flops")}})
        sp = tmp_path / f"{holds}.csv"
        scores.to_csv(sp, index=False)
        out = tmp_path / holds
        argv = ["--data", str(path), "--target", "valid", "--report", "test", "--strategies", "random+pool", "--budgets", "5",
                "--seeds", "2", "--fidelities", "", "--scores", str(sp), "--pool-size", "10", "--plot", "p.png", "--out", str(out)]
        assert bench_search.run(_parse(bench_search, argv)) == 0
        text = (out / "results.md").read_text()
        assert "each seed ranks 10 architectures drawn from the 30 scored" in text
        assert f"the scored set {holds} the best-by-`valid`" in text
        assert "![test accuracy vs queries](p.png)" in text and (out / "p.png").stat().st_size > 0
    # --pool-without-best drops it from the scored set: no seed's pool holds it
    out = tmp_path / "without"
    argv = ["--data", str(path), "--target", "valid", "--report", "test", "--strategies", "random+pool", "--budgets", "5",
            "--seeds", "2", "--fidelities", "", "--scores", str(tmp_path / "holds.csv"), "--pool-without-best", "--out", str(out)]
    assert bench_search.run(_parse(bench_search, argv)) == 0
    text = (out / "results.md").read_text()
    assert "drawn from the 29 scored" in text and "does not hold the best-by-`valid` architecture of the table (left out" in text


def test_bench_search_states_the_proxy_cost_in_training_runs(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "cifar10").mkdir()
    np.savez(tmp_path / "cifar10" / "train5k.npz", x=rng.integers(0, 256, (300, 32, 32, 3), dtype=np.uint8),
             y=rng.integers(0, 10, 300).astype(np.uint8))
    disconnected = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    cell = "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|skip_connect~0|avg_pool_3x3~1|none~2|"
    scores = pd.DataFrame({"params": [1.0, 2.0]}, index=[disconnected, cell])
    args = argparse.Namespace(space="nb201", data=tmp_path, cost_cells=1, pool_size=1000)
    lines, tab = bench_search._proxy_vs_training(args, scores, ["params", "synflow"])
    (row,) = tab.rows  # the disconnected cell is skipped
    assert row[0] == cell
    proxy_s, step_s, per_step, per_run = float(row[1]), float(row[2]), float(row[3]), float(row[4])
    assert proxy_s > 0 and step_s > 0
    assert per_step == pytest.approx(proxy_s / step_s, rel=0.05, abs=0.01)
    assert per_run == pytest.approx(proxy_s / (step_s * 200 * 98), rel=0.1)
    assert "200 x 98 such steps" in lines[0] and "a pool of 1000 cells costs" in lines[1]


def test_bench_search_counts_cells_ranked_beyond_the_pool_up_to_each_budget():
    rec = {"pool_beyond_at": [[10, 22], [11, 42], [19, 61]]}
    # ranked after query 10 (for query 11 on): not part of the first 10 queries' cost
    assert [bench_search._beyond_at(rec, b) for b in (10, 11, 12, 19, 20, 50)] == [0, 22, 42, 42, 61, 61]
    assert bench_search._beyond_at({}, 50) == 0  # runs recorded before the column existed
