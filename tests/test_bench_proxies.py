"""``archscore bench proxies`` end to end on a tiny synthetic setup (narrow nets, a dozen cells, 8 images).

No shared data needed: the NB201 table, the reference CSV and the images are
small files written to tmp_path in the shared data's formats.
"""

import json

import numpy as np
import pandas as pd
import pytest

import archscore
from archscore.cli import main
from archscore import metrics
from archscore.bench import proxies as bench_proxies
from archscore.bench.proxy_protocols import check as bench_check
from archscore.bench.proxy_targets import REF_COLUMNS, REF_CSV
from archscore.bench.ranking import rank_scores
from archscore.predictors.zc_ensemble import DEFAULT_PROXIES, rank_aggregate
from archscore.store import ScoreStore

PROXIES = ["synflow", "params", "grad_norm", "snip"]



@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    space = archscore.get_space("nb201")
    rng = np.random.default_rng(0)
    archs = space.sample(11, seed=3) + [space.from_ops(["none"] * 6)]
    n_conv = np.array([sum(op.startswith("nor_conv") for op in a.ops) for a in archs], dtype=float)
    table = pd.DataFrame({
        "index": np.arange(100, 112),
        "arch": [space.to_string(a) for a in archs],
        "valid_acc_200ep": 80 + 2 * n_conv + rng.normal(0, 1, 12),
        "test_acc_200ep": 81 + 2 * n_conv + rng.normal(0, 1, 12),
    })
    table.loc[11, ["valid_acc_200ep", "test_acc_200ep"]] = 10.0
    table.to_csv(root / "nb201.csv", index=False)
    conn = table[[a.is_connected() for a in archs]].head(6)
    ref = conn[["index", "arch"]].copy()
    for col in REF_COLUMNS.values():
        ref[col] = rng.normal(size=len(ref))
    ref["ref_ms_grad_norm"] = [600.0, 700.0, 650.0, 620.0, 610.0, 640.0][: len(ref)]
    ref.to_csv(root / "ref.csv", index=False)
    x = rng.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=20).astype(np.uint8)
    np.savez(root / "images.npz", x=x, y=y)
    return root, table, ref


def _argv(root, out, *extra):
    return ["bench", "proxies", "--table", str(root / "nb201.csv"), "--ref", str(root / "ref.csv"),
            "--images", str(root / "images.npz"), "--n", "10", "--cost-n", "2", "--batch-size", "8",
            "--space-options", "C=4,N=1", "--proxies", ",".join(PROXIES), "--n-boot", "20", "--out", str(out),
            "--no-progress", *extra]


def test_bench_tiny_run_schema_and_values(tiny_setup, tmp_path, capsys, monkeypatch):
    root, table, ref = tiny_setup
    out = tmp_path / "out"
    status = main(_argv(root, out))
    printed = capsys.readouterr().out
    assert "Full space: 10 of 10 planned cells" in printed and "Hard case: 6 of the 6 connected" in printed and "x fwd+bwd" in printed
    res = json.loads((out / "results.json").read_text())
    assert set(res) == {"command", "config", "environment", "protocols", "checks", "seconds"}
    assert set(res["protocols"]) == {"full", "hard", "cost"}
    computed = PROXIES + [p for p in DEFAULT_PROXIES if p not in PROXIES]
    assert res["config"]["computed"] == computed and res["config"]["batch_size"] == 8

    full = res["protocols"]["full"]
    assert full["n"] == 10 and full["targets"] == ["valid_acc_200ep", "test_acc_200ep"]
    rows = np.random.default_rng(0).choice(12, size=10, replace=False)
    assert full["indices"] == [int(i) for i in table["index"].to_numpy()[rows]]
    assert list(full["proxies"]) == PROXIES + ["zc:ensemble"]
    for name, entry in full["proxies"].items():
        for t in full["targets"]:
            stat = entry[t]
            assert set(stat) == {"n", "n_nan", "spearman", "spearman_ci", "kendall", "kendall_ci"}
            if stat["spearman"] is not None:
                lo, hi = stat["spearman_ci"]
                assert -1 <= lo <= hi <= 1
    assert full["proxies"]["synflow"]["published"]["spearman"] == 0.74

    # values recomputed from the cache agree exactly with the report
    cache = {}  # (network, arch) -> scores, from the score store
    for _, arch, proxy, _, value, state, _, _, extra, _, _ in ScoreStore(out / "scores.db", readonly=True).rows():
        cache.setdefault((json.loads(extra)["network"], arch), {})[proxy] = value if state == "ok" else float("nan")
    by_arch = {a: s for (net, a), s in cache.items() if net == "NB201Space"}
    by_arch_ref = {a: s for (net, a), s in cache.items() if net == "ReferenceNB201Space"}
    # each cell scored once per network: full on the benchmark build, hard on the reference build
    assert len(cache) == len(by_arch) + len(by_arch_ref) and len(by_arch_ref) == 6
    cells = table["arch"].to_numpy()[rows]
    synflow = np.array([by_arch[c]["synflow"] for c in cells])
    y = table["valid_acc_200ep"].to_numpy()[rows]
    assert full["proxies"]["synflow"]["valid_acc_200ep"]["spearman"] == pytest.approx(metrics.spearman(y, rank_scores(synflow)))
    space = archscore.get_space("nb201")
    valid = [space.from_string(c).is_connected() for c in cells]
    ens = rank_aggregate({p: [by_arch[c][p] for c in cells] for p in DEFAULT_PROXIES},
                         {p: archscore.proxies.proxy_info(p)["higher_is_better"] for p in DEFAULT_PROXIES}, valid=valid)
    assert full["proxies"]["zc:ensemble"]["valid_acc_200ep"]["spearman"] == pytest.approx(metrics.spearman(y, ens))

    hard = res["protocols"]["hard"]
    assert hard["n"] == 6 and hard["target"] == "valid_acc_200ep"
    g = hard["proxies"]["grad_norm"]
    assert hard["network"] == "reference"
    ours = np.array([by_arch_ref[c]["grad_norm"] for c in ref["arch"]])
    assert g["agreement"] == pytest.approx(metrics.spearman(ref["ref_grad_norm"], ours))
    y_hard = table.set_index("index").loc[ref["index"], "valid_acc_200ep"].to_numpy()
    assert g["reference"]["spearman"] == pytest.approx(metrics.spearman(y_hard, ref["ref_grad_norm"]))
    assert g["reference"]["ms_median"] == pytest.approx(np.median(ref["ref_ms_grad_norm"]))
    assert "agreement" not in hard["proxies"]["params"]

    cost = res["protocols"]["cost"]
    assert cost["n"] == 2 and cost["proxies_in_suite"] == computed
    assert set(cost["per_proxy_ms_median"]) == set(computed) | {"zc:ensemble"}
    assert cost["fwd_bwd_ms_median"] > 0 and cost["ratio_suite_over_fwd_bwd"] > 0
    names = [c["check"] for c in res["checks"]]
    assert "hard: grad_norm agreement with ref_grad_norm" in names and "cost: suite <= 8.0x fwd+bwd" in names
    for c in res["checks"]:
        assert set(c) == {"check", "value", "threshold", "direction", "passed", "note"}
    # a failed check makes the command fail (tiny nets and random reference scores fail some)
    failed = [c for c in res["checks"] if not c["passed"]]
    assert status == (1 if failed else 0) and failed
    assert f"{len(failed)} failed" in printed
    md = (out / "results.md").read_text()
    assert md.startswith("# archscore bench proxies") and "| zc:ensemble |" in md and "| sum of single-proxy calls |" in md
    assert "archscore bench proxies --table" in md and "| n_boot | 20 |" in md
    # the printed report and the Markdown file show the same sections in the same order
    printed_titles = [line for line in printed.splitlines() if line.split(":")[0] in ("Hard case", "Full space", "Cost", "Checks")]
    md_titles = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert printed_titles == md_titles and len(md_titles) == 4
    assert (out / "plots" / "full_synflow.png").stat().st_size > 0
    assert (out / "plots" / "hard_zc_ensemble.png").is_file()

    # a second run resumes from the cache: no proxy computation at all
    def boom(*a, **k):
        raise AssertionError("compute() called although every cell is cached")

    monkeypatch.setattr(archscore.proxies, "compute", boom)
    assert main(_argv(root, out, "--protocol", "full,hard", "--no-plots")) in (0, 1)
    res2 = json.loads((out / "results.json").read_text())
    assert res2["protocols"]["full"]["proxies"]["synflow"] == full["proxies"]["synflow"]


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--protocol", "fast"], "unknown protocol"),
        (["--proxies", "synflw"], "unknown proxies"),
        (["--space-options", "C4"], "key=integer"),
        (["--target", "acc"], "target column 'acc'"),
        (["--n", "50"], "exceeds the 12 cells"),
    ],
)
def test_bench_user_errors(tiny_setup, tmp_path, capsys, extra, match):
    root, _, _ = tiny_setup
    assert main(_argv(root, tmp_path / "o", *extra)) == 2
    assert match in capsys.readouterr().err


def test_bench_missing_data_names_the_option(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ARCHSCORE_DATA", raising=False)
    assert main(["bench", "proxies", "--out", str(tmp_path)]) == 2
    assert "--data" in capsys.readouterr().err


def test_bench_on_shared_data_reference_batch(data_dir):
    """With the shared data present, the default batch is the reference protocol's (skips cleanly otherwise)."""
    from archscore.data import reference_batch

    x, y = reference_batch(data_dir / "cifar10" / "train5k.npz", batch_size=64)
    assert tuple(x.shape) == (64, 3, 32, 32) and y.shape == (64,)
    ref = pd.read_csv(data_dir / REF_CSV)
    assert len(ref) == 200 and set(REF_COLUMNS.values()) <= set(ref.columns)


def test_check_rules():
    check = bench_check
    assert check("a", 0.40, 0.36, within=0.05)["passed"] and not check("a", 0.42, 0.36, within=0.05)["passed"]
    assert not check("a", 0.30, 0.36, within=0.05)["passed"]
    assert check("b", 0.88, 0.88)["passed"] and not check("b", 0.879, 0.88)["passed"]
    assert check("c", 5.6, 8.0, higher=False)["passed"] and not check("c", 8.0, 8.0, higher=False, strict=True)["passed"]
    assert not check("d", None, 0.5)["passed"]


def test_cost_model_ratios_side_by_side_and_check(monkeypatch):
    """cost-resnet: one ratio per repetition (suite / fwd+bwd of the same repetition), median checked against the target."""
    import torch
    from archscore.bench import proxy_protocols

    clock = iter(np.arange(0.0, 1000.0, 0.5))  # every perf_counter call advances 0.5 s: each timed span is 0.5 s
    monkeypatch.setattr(proxy_protocols.time, "perf_counter", lambda: float(next(clock)))
    calls = []
    monkeypatch.setattr(proxy_protocols.archscore.proxies, "compute", lambda model, x, y, proxies, **kw: calls.append(list(proxies)))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    x, y = torch.randn(4, 3, 2, 2), torch.tensor([0, 1, 2, 0])
    res, checks = proxy_protocols.run_cost_model(model, x, y, ["params", "snip"], reps=3, seed=0, device="cpu", label="tiny",
                                                 target=1.0)
    assert calls == [["params", "snip"]] * 3
    assert res["fwd_bwd_ms"] == [500.0] * 3 and res["suite_ms"] == [500.0] * 3
    assert res["ratios"] == [1.0] * 3 and res["ratio_median"] == 1.0 and res["params"] == 39 and res["batch"] == [4, 3, 2, 2]
    assert checks[0]["passed"] and "median suite <= 1x fwd+bwd" in checks[0]["check"]
    with pytest.raises(ValueError, match="at least one repetition"):
        proxy_protocols.run_cost_model(model, x, y, ["params"], reps=0, seed=0, device="cpu", label="tiny")


def test_cifar_resnet18_is_resnet18_sized():
    from archscore.bench.proxy_protocols import CifarResNet18

    m = CifarResNet18(10)
    assert sum(p.numel() for p in m.parameters()) == 11_173_962  # the usual CIFAR ResNet-18 count
    import torch
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_bench_cost_resnet_protocol_wiring(tiny_setup, tmp_path, capsys, monkeypatch):
    """--protocol cost-resnet times the requested suite on a ResNet-18 and reports the repetitions."""
    root, _, _ = tiny_setup
    seen = {}

    def fake(model, inputs, targets, proxies, *, reps, seed, device, label, progress=False):
        seen.update(model=type(model).__name__, n=len(inputs), proxies=list(proxies), reps=reps)
        res = {"model": label, "params": 1, "batch": list(inputs.shape), "reps": reps, "proxies_in_suite": list(proxies),
               "fwd_bwd_ms": [10.0, 10.0], "suite_ms": [50.0, 70.0], "ratios": [5.0, 7.0], "ratio_median": 6.0, "first_ratio": 5.0}
        return res, [bench_check("cost (x): median suite <= 6x fwd+bwd", 6.0, 6.0, higher=False)]

    monkeypatch.setattr(bench_proxies, "run_cost_model", fake)
    out = tmp_path / "o"
    assert main(_argv(root, out, "--protocol", "cost-resnet", "--cost-reps", "2")) == 0
    assert seen == {"model": "CifarResNet18", "n": 8, "proxies": PROXIES, "reps": 2}
    printed = capsys.readouterr().out
    assert "Cost on an ordinary model" in printed and "median 6.00x one forward+backward" in printed
    assert json.loads((out / "results.json").read_text())["protocols"]["cost-resnet"]["ratios"] == [5.0, 7.0]
