import pytest

from archscore import get_space
from archscore.benchmarks import load_nasbench_graph, load_nb201


def test_load_nb201_covers_enumeration(nb201_csv):
    bench = load_nb201(nb201_csv)
    space = get_space("nb201")
    assert len(bench.archs) == len(bench.table) == 15625
    assert set(bench.archs) == set(space.enumerate())
    assert bench.table.index.name == "index" and list(bench.table.index[:3]) == [0, 1, 2]
    assert int((~bench.table["connected"]).sum()) == 341
    # every disconnected cell scores chance accuracy after 200 epochs
    assert bench.table.loc[~bench.table["connected"], "valid_acc_200ep"].max() < 11
    # loading by folder finds the same file
    assert len(load_nb201(nb201_csv.parent.parent).archs) == 15625


def test_load_nb201_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="NB201 table not found: no .*nb201_cifar10.csv"):
        load_nb201(tmp_path)


def test_load_nasbench_graph():
    pytest.importorskip("nas_bench_graph", reason="nas-bench-graph is not installed (pip install 'archscore[bench]')")
    bench = load_nasbench_graph("cora")
    assert len(bench.archs) == len(bench.table) == 26206
    assert {"valid_perf", "perf", "latency", "para"} <= set(bench.table.columns)
    space = get_space("nbgraph")
    assert all(a.space == "nbgraph" for a in bench.archs[:100])
    assert [space.from_string(s) for s in bench.table["arch"][:100]] == bench.archs[:100]
    with pytest.raises(ValueError, match="unknown NAS-Bench-Graph dataset 'coraa'"):
        load_nasbench_graph("coraa")
