"""``archscore bench proxies/predictors --space X`` on small synthetic NAS-Bench-Suite-Zero files (no shared data needed)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from archscore.bench.proxy_spaces import paired_difference
from archscore.bench.suite_zero import agreement_proxies, ensemble_proxies, resolve_tasks
from archscore.cli import main
from archscore.predictors.zc_ensemble import rank_aggregate
from archscore.spaces import get_space

TASKS = ("class_scene", "jigsaw")


@pytest.fixture(scope="module")
def micro_file(tmp_path_factory):
    """A TransNAS-Bench-101 micro file: 40 cells, two tasks; proxies of known relation to val_accuracy."""
    root = tmp_path_factory.mktemp("sz")
    space = get_space("tnb101_micro")
    archs = space.sample(40, seed=0)
    rng = np.random.default_rng(0)
    content = {}
    for t, task in enumerate(TASKS):
        recs = {}
        for i, a in enumerate(archs):
            y = float(sum(space.codes(a)) + rng.normal(0, 1))
            proxies = {"flops": y + rng.normal(0, 2), "nwot": y + rng.normal(0, 1), "jacov": -y + rng.normal(0, 3),
                       "snip": rng.normal(), "epe_nas": 0.0}  # epe_nas constant: left out
            recs[space.to_naslib(a)] = {"idx": str(i), "arch": space.to_naslib(a), "val_accuracy": y + t,
                                        **{k: {"score": v, "time": 0.1} for k, v in proxies.items()}}
        content[task] = recs
    path = root / "zc_transbench101_micro_dev.json"
    path.write_text(json.dumps(content))
    return path, content


def _table(content, task):
    recs = content[task]
    return pd.DataFrame({k: {p: (v["score"] if isinstance(v, dict) else v) for p, v in r.items() if p not in ("idx", "arch")}
                         for k, r in recs.items()}).T


def test_proxies_recorded_values_by_hand(micro_file, tmp_path, capsys):
    path, content = micro_file
    out = tmp_path / "out"
    status = main(["bench", "proxies", "--space", "tnb101_micro", "--zc-file", str(path), "--n-boot", "20", "--out", str(out)])
    printed = capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    assert [r["task"] for r in res["recorded"]] == list(TASKS)  # default: every task of the file
    r = res["recorded"][0]
    table = _table(content, "class_scene")
    for p in ("flops", "nwot", "jacov", "snip"):
        assert r["proxies"][p]["spearman"] == pytest.approx(spearmanr(table[p], table["val_accuracy"])[0])
    assert r["constant"] == ["epe_nas"] and "epe_nas" not in r["proxies"]
    # the fixed label-free set: nwot, jacov, flops (no synflow recorded), aggregated by log-rank
    assert r["ensemble_proxies"] == ["nwot", "jacov", "flops"]
    ens = rank_aggregate({p: table[p].to_numpy(float) for p in ("nwot", "jacov", "flops")})
    assert r["proxies"]["zc:ensemble"]["spearman"] == pytest.approx(spearmanr(ens, table["val_accuracy"])[0])
    assert r["best_single"] == "nwot"
    # jacov falls with the others' consensus: the agreement rule drops it (no labels used)
    assert r["agreement_proxies"] == agreement_proxies(table, ["flops", "nwot", "jacov", "snip"])
    assert "jacov" not in r["agreement_proxies"] and {"flops", "nwot"} <= set(r["agreement_proxies"])
    ens_check = [c for c in res["checks"] if c["check"].startswith("class_scene: zc:ensemble")][0]
    assert ens_check["passed"] == (r["proxies"]["zc:ensemble"]["spearman"] >= r["proxies"]["nwot"]["spearman"])
    assert status == (1 if any(not c["passed"] for c in res["checks"]) else 0)
    md = (out / "results.md").read_text()
    assert md.startswith("# archscore bench proxies --space tnb101_micro") and "zc:ensemble (nwot+jacov+flops)" in md
    assert "hard_network" not in md  # NB201-only options stay out of the settings
    assert res["config"]["batch_size"] == 32  # Suite-Zero's batch by default
    assert "best single proxy" in printed


def test_proxies_space_errors(micro_file, tmp_path, capsys):
    path, _ = micro_file
    base = ["bench", "proxies", "--space", "tnb101_micro", "--zc-file", str(path), "--n-boot", "10", "--out", str(tmp_path / "o")]
    assert main(base + ["--task", "normal"]) == 2
    assert "task 'normal' is not in zc_transbench101_micro_dev.json; its tasks are: class_scene, jigsaw" in capsys.readouterr().err
    assert main(base + ["--compute"]) == 2
    assert "--compute scores CIFAR-10 networks: spaces nb101, nb301, not 'tnb101_micro'" in capsys.readouterr().err
    assert main(base + ["--compute-proxies", "meco,bogus"]) == 2
    assert "unknown compute proxies ['bogus']" in capsys.readouterr().err


def test_compute_on_nb101_matches_params_exactly(tmp_path):
    """--compute: our ``params`` of the same networks as the file's ``params`` -> agreement 1 and difference 0."""
    opts = {"stem_channels": 4, "num_stacks": 1, "cells_per_stack": 1}
    space = get_space("nb101", **opts)
    archs = space.sample(8, seed=1)
    rng = np.random.default_rng(1)
    n_params = [sum(p.numel() for p in space.build(a).parameters()) for a in archs]
    recs = {space.to_naslib(a): {"params": float(n), "snip": float(rng.normal()), "val_accuracy": float(90 + n / 1000 + rng.normal())}
            for a, n in zip(archs, n_params)}
    zc = tmp_path / "zc_nasbench101_dev.json"
    zc.write_text(json.dumps({"nasbench101": {"cifar10": recs}}))
    images = tmp_path / "images.npz"
    np.savez(images, x=rng.integers(0, 256, size=(16, 32, 32, 3), dtype=np.uint8), y=rng.integers(0, 10, size=16).astype(np.uint8))
    out = tmp_path / "out"
    main(["bench", "proxies", "--space", "nb101", "--zc-file", str(zc), "--compute", "--compute-n", "6", "--images", str(images),
          "--batch-size", "4", "--space-options", "stem_channels=4,num_stacks=1,cells_per_stack=1", "--n-boot", "20",
          "--compute-proxies", "params,snip,nwot", "--out", str(out)])
    res = json.loads((out / "results.json").read_text())
    comp = res["compute"][0]
    assert comp["n"] == 6 and set(comp["proxies"]) == {"params", "snip"}  # compared: the recorded ones computed
    # ours: the proxies asked for plus zc:ensemble's own set, and the ensemble itself (all kept below 50 candidates)
    ours = comp["ours"]["proxies"]
    assert list(ours) == ["params", "snip", "nwot", "meco", "jacov", "synflow", "flops", "zc:ensemble", "oracle combination"]
    assert ours["zc:ensemble"]["proxies"] == ["meco", "jacov", "synflow", "flops"]
    assert ours["params"]["spearman"] == pytest.approx(p_ours := comp["proxies"]["params"]["ours"]["spearman"])
    best = comp["ours"]["best_single"]
    assert ours[best]["spearman"] == max(e["spearman"] for k, e in ours.items()
                                         if k not in ("zc:ensemble", "oracle combination") and e["spearman"] is not None)
    assert ours["oracle combination"]["spearman"] >= ours["zc:ensemble"]["spearman"] - 1e-12  # the ensemble's set is one of its subsets
    assert p_ours <= ours[best]["spearman"]
    p = comp["proxies"]["params"]
    assert p["agreement"] == pytest.approx(1.0) and p["difference"]["value"] == pytest.approx(0.0)
    assert p["ours"]["spearman"] == pytest.approx(p["recorded"]["spearman"])
    assert [c["passed"] for c in res["checks"] if "params computed" in c["check"]] == [True]
    assert (out / "scores.db").is_file()


def test_agreement_rule_by_hand():
    a = [1, 2, 3, 4, 5]
    table = pd.DataFrame({"a": a, "b": [1, 2, 3, 5, 4], "c": [5, 4, 3, 2, 1], "d": a, "val_accuracy": [9, 9, 9, 9, 9]})
    # mean Spearman with the others: a (0.9 - 1 + 1) / 3 > 0, b (0.9 - 0.9 + 0.9) / 3 > 0, c < 0, d = a
    assert agreement_proxies(table, ["a", "b", "c", "d"]) == ["a", "b", "d"]
    assert ensemble_proxies(["flops", "snip", "jacov"]) == ["jacov", "flops"]


def test_paired_difference_by_hand():
    y = np.arange(10.0)
    d, lo, hi = paired_difference(y, y, -y, n_boot=50, seed=0)
    assert (d, lo, hi) == pytest.approx((2.0, 2.0, 2.0))
    assert paired_difference(y, np.ones(10), y, n_boot=5, seed=0) is None  # constant score: undefined


def test_resolve_tasks(micro_file):
    path, _ = micro_file
    assert resolve_tasks(None, path) == list(TASKS) and resolve_tasks("all", path) == list(TASKS)
    assert resolve_tasks("jigsaw", path) == ["jigsaw"]
    with pytest.raises(ValueError, match="--task is empty"):
        resolve_tasks(" , ", path)


def test_predictors_space(micro_file, tmp_path, capsys):
    path, _ = micro_file
    out = tmp_path / "pred"
    assert main(["bench", "predictors", "--space", "tnb101_micro", "--zc-file", str(path), "--tasks", "jigsaw",
                 "--predictors", "xgb:zc,xgb:onehot+zc,xgb:onehot", "--sizes", "5,10", "--splits", "2", "--no-progress",
                 "--out", str(out)]) == 0
    rows = pd.read_csv(out / "results.csv")
    assert set(rows["task"]) == {"jigsaw"} and set(rows["n_train"]) == {5, 10} and set(rows["split"]) == {0, 1}
    assert len(rows) == 3 * 2 * 2
    md = (out / "results.md").read_text()
    assert md.startswith("# archscore bench predictors --space tnb101_micro")
    # the zc comparison at 100 training architectures is absent (largest size 10)
    assert "Recorded proxies as features" not in md
    assert "pool_sizes | jigsaw=40" in md


def test_predictors_space_rejects_scores(micro_file, capsys):
    path, _ = micro_file
    assert main(["bench", "predictors", "--space", "tnb101_micro", "--zc-file", str(path), "--scores", "x.csv"]) == 2
    assert "--scores is for nb201" in capsys.readouterr().err


def test_recorded_ensemble_leaves_out_a_proxy_ranking_against_flops():
    from archscore.bench.proxy_spaces import run_recorded

    rng = np.random.default_rng(0)
    n = 60
    flops = rng.normal(size=n)
    table = pd.DataFrame({"flops": flops, "nwot": flops + rng.normal(0, 0.5, n), "jacov": -flops + rng.normal(0, 0.5, n),
                          "val_accuracy": flops + rng.normal(0, 1.0, n)})
    res, checks = run_recorded(table, "t", None, n_boot=20, seed=0)
    assert res["ensemble_proxies"] == ["nwot", "flops"]
    ens = rank_aggregate({p: table[p].to_numpy(float) for p in ("nwot", "flops")})
    assert res["proxies"]["zc:ensemble"]["spearman"] == pytest.approx(spearmanr(ens, table["val_accuracy"])[0])
    # 40 architectures: too few to act on, the fixed set is kept
    res40, _ = run_recorded(table.head(40), "t", None, n_boot=20, seed=0)
    assert res40["ensemble_proxies"] == ["nwot", "jacov", "flops"]


def test_ensemble_on_our_scores_by_hand():
    """The computed zc:ensemble: default proxies, anchored on our flops, log-rank; checked against the best single proxy."""
    from archscore.bench.proxy_spaces import _ensemble_on_ours
    from archscore.predictors.zc_ensemble import ensemble_score

    rng = np.random.default_rng(3)
    y = rng.normal(size=80)
    cols = {"meco": y + rng.normal(0, 0.5, 80), "jacov": -y + rng.normal(0, 0.5, 80), "synflow": y + rng.normal(0, 1.0, 80),
            "flops": y + rng.normal(0, 0.8, 80), "nwot": y + rng.normal(0, 0.2, 80)}
    names = list(cols)
    res, checks = _ensemble_on_ours(cols, y, names, "t", n_boot=10, seed=0)
    out = res["proxies"]
    assert out["zc:ensemble"]["proxies"] == ["meco", "synflow", "flops"]  # jacov ranks against flops: left out
    members = {p: cols[p] for p in ("meco", "jacov", "synflow", "flops")}
    assert out["zc:ensemble"]["spearman"] == pytest.approx(spearmanr(ensemble_score(members), y)[0])
    assert out["zc:ensemble"]["spearman"] == pytest.approx(spearmanr(rank_aggregate({p: cols[p] for p in ("meco", "synflow", "flops")}), y)[0])
    assert res["best_single"] == "nwot"  # the least noisy, picked with the labels
    # the oracle combination: the best of every 2-4 subset's log-rank, by hand
    from itertools import combinations
    by_hand = max((spearmanr(rank_aggregate({p: cols[p] for p in c}), y)[0], c)  # all five: higher is better
                  for k in (2, 3, 4) for c in combinations(names, k))
    assert out["oracle combination"]["spearman"] == pytest.approx(by_hand[0])
    assert out["oracle combination"]["proxies"] == list(by_hand[1])
    assert "nwot" in by_hand[1] and out["oracle combination"]["spearman"] >= out["nwot"]["spearman"] - 0.05
    assert out["jacov"]["spearman"] == pytest.approx(spearmanr(cols["jacov"], y)[0])
    (c,) = checks
    assert c["check"] == "t: zc:ensemble on our scores >= best computed proxy (nwot)"
    assert c["passed"] == (out["zc:ensemble"]["spearman"] >= out["nwot"]["spearman"]) and not c["passed"]
    assert "az_nas" not in out  # AZ-NAS's proxies were not computed
    # with them: AZ-NAS's own aggregate (all four, no anchor) is reported, and is not a candidate "best single"
    cols |= {"az_expressivity": y + rng.normal(0, 0.3, 80), "az_progressivity": rng.normal(size=80),
             "az_trainability": y + rng.normal(0, 2, 80)}
    res, checks = _ensemble_on_ours(cols, y, names + ["az_expressivity"], "t", n_boot=10, seed=0)
    az = ("az_expressivity", "az_progressivity", "az_trainability", "flops")
    assert res["proxies"]["az_nas"]["spearman"] == pytest.approx(spearmanr(rank_aggregate({p: cols[p] for p in az}), y)[0])
    assert res["proxies"]["az_nas"]["proxies"] == list(az) and res["best_single"] in names + ["az_expressivity"]
