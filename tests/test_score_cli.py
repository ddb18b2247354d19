"""``archscore score``: proxy scores of many architectures into a resumable CSV."""

import numpy as np
import pandas as pd
import pytest

import archscore
from archscore.cli import main
from archscore.data import reference_batch
from archscore.proxies import score_archs
from archscore.cli.score import parse_shard, sample_benchmark_cells
from archscore.store import ScoreStore

CELLS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|",
]


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "imgs.npz"
    np.savez(path, x=rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), y=rng.integers(0, 10, 20, dtype=np.uint8))
    return path


def _archs_file(tmp_path, cells, name="archs.txt"):
    path = tmp_path / name
    path.write_text("# cells to score\n" + "\n".join(cells) + "\n\n")
    return path


def _score(out, images, archs, *extra):
    return main(["score", "--data", str(images), "--archs", str(archs), "--out", str(out), "--proxies", "params,synflow",
                 "--batch-size", "8", "--no-progress", "--workers", "1", *extra])


def test_score_writes_what_score_archs_computes(tmp_path, images):
    out = tmp_path / "s.csv"
    assert _score(out, images, _archs_file(tmp_path, CELLS[:3])) == 0
    got = pd.read_csv(out, index_col="arch")
    assert list(got.columns) == ["params", "synflow"] and list(got.index) == CELLS[:3]
    space = archscore.get_space("nb201")
    x, y = reference_batch(images, batch_size=8, seed=0)
    want = score_archs([space.from_string(c) for c in CELLS[:3]], x, y, ["params", "synflow"], seed=42, init_seed=42,
                       progress=False)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    assert got.loc[CELLS[0], "params"] > got.loc[CELLS[2], "params"]
    assert got.loc[CELLS[2], "synflow"] == 0.0  # all-none cell: no path, synflow vanishes


def test_score_resumes_and_skips_done_rows(tmp_path, images, capsys):
    out = tmp_path / "s.csv"
    assert _score(out, images, _archs_file(tmp_path, CELLS[:2], "a.txt")) == 0
    first = pd.read_csv(out, index_col="arch")
    capsys.readouterr()
    assert _score(out, images, _archs_file(tmp_path, CELLS, "b.txt"), "--chunk", "1") == 0
    assert "2 already in" in capsys.readouterr().out
    both = pd.read_csv(out, index_col="arch")
    assert list(both.index) == CELLS  # the two new rows added once, no duplicates
    pd.testing.assert_frame_equal(both.loc[CELLS[:2]], first)
    store = ScoreStore(tmp_path / "s.csv.store.db", readonly=True)
    assert len(list(store.rows())) == 4 * 2  # 4 archs x 2 proxies, each once


def test_other_settings_do_not_reuse_cached_scores(tmp_path, images, capsys):
    """The cache is keyed by settings too: another batch seed rescores every cell."""
    out = tmp_path / "s.csv"
    archs = _archs_file(tmp_path, CELLS[:2])
    assert _score(out, images, archs) == 0
    first = pd.read_csv(out, index_col="arch")
    capsys.readouterr()
    assert _score(out, images, archs, "--batch-seed", "1") == 0
    assert "0 already in" in capsys.readouterr().out
    assert _score(out, images, archs) == 0  # the first settings again: all cached, same CSV
    assert "2 already in" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(out, index_col="arch"), first)


def test_shards_partition_the_list(tmp_path, images):
    archs = _archs_file(tmp_path, CELLS)
    for k in (0, 1):
        assert _score(tmp_path / f"s{k}.csv", images, archs, "--shard", f"{k}/2", "--proxies", "params") == 0
    s0, s1 = (list(pd.read_csv(tmp_path / f"s{k}.csv")["arch"]) for k in (0, 1))
    assert s0 == CELLS[0::2] and s1 == CELLS[1::2]


@pytest.mark.parametrize("text, ok", [("0/1", (0, 1)), ("2/3", (2, 3)), ("3/3", None), ("-1/2", None), ("1", None), ("a/b", None)])
def test_parse_shard(text, ok):
    if ok is None:
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(text)
    else:
        assert parse_shard(text) == ok


def test_bad_inputs_give_one_clear_line(tmp_path, images, capsys):
    bad = _archs_file(tmp_path, [CELLS[0], "|nor_conv_3x3~0|+|bogus~0|none~1|"], "bad.txt")
    assert _score(tmp_path / "x.csv", images, bad) == 2
    assert "bad.txt:3" in capsys.readouterr().err  # line 1 is the comment
    assert _score(tmp_path / "x.csv", images, _archs_file(tmp_path, CELLS[:1]), "--proxies", "synflo") == 2
    assert "unknown proxies ['synflo']" in capsys.readouterr().err
    other = tmp_path / "other.csv"
    pd.DataFrame({"arch": [CELLS[0]], "meco": [1.0]}).to_csv(other, index=False)
    assert _score(other, images, _archs_file(tmp_path, CELLS[:1])) == 2  # never overwrites a file it did not write
    assert "other.csv exists without its score store" in capsys.readouterr().err
    assert list(pd.read_csv(other).columns) == ["arch", "meco"]
    assert main(["score", "--data", str(images), "--sample", "3", "--out", str(tmp_path / "y.csv")]) == 2
    assert "needs --data to be a data folder" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.csv").exists()


def test_sample_benchmark_cells_is_seeded_and_respects_connectivity():
    space = archscore.get_space("nb201")
    pool = [space.from_string(c) for c in CELLS]
    a = sample_benchmark_cells(pool, 3, seed=5, connected_only=True)
    assert a == sample_benchmark_cells(pool, 3, seed=5, connected_only=True)
    assert all(x.is_connected() for x in a) and len(set(a)) == 3
    rows = np.random.default_rng(5).choice(3, size=3, replace=False)
    assert a == [[p for p in pool if p.is_connected()][i] for i in rows]
    with pytest.raises(ValueError, match=r"--sample must be in \[1, 3\]"):
        sample_benchmark_cells(pool, 4, seed=0, connected_only=True)


def test_sample_from_shared_table(data_dir, tmp_path):
    out = tmp_path / "s.csv"
    argv = ["score", "--data", str(data_dir), "--sample", "40", "--seed", "3", "--connected-only", "--shard", "0/20",
            "--proxies", "params", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    got = list(pd.read_csv(out)["arch"])
    assert len(got) == 2
    space = archscore.get_space("nb201")
    assert all(space.is_connected(space.from_string(c)) for c in got)


def test_store_resumes_only_missing_proxies_and_export_matches(tmp_path, images, capsys):
    """--store: a new proxy on the same settings computes only that proxy; export writes arch x proxies."""
    store = tmp_path / "s.db"
    archs = _archs_file(tmp_path, CELLS[:2])
    base = ["score", "--data", str(images), "--archs", str(archs), "--batch-size", "8", "--no-progress", "--workers", "1",
            "--store", str(store)]
    assert main(base + ["--proxies", "params"]) == 0
    first = {r[1]: r[10] for r in ScoreStore(store, readonly=True).rows()}  # arch -> creation time of params
    assert main(base + ["--proxies", "params,synflow"]) == 0
    rows = list(ScoreStore(store, readonly=True).rows())
    assert sorted((r[1], r[2]) for r in rows) == sorted((c, p) for c in CELLS[:2] for p in ("params", "synflow"))
    assert {r[1]: r[10] for r in rows if r[2] == "params"} == first  # params not recomputed
    capsys.readouterr()
    assert main(["store", "export", str(store), "--out", str(tmp_path / "e.csv")]) == 0
    got = pd.read_csv(tmp_path / "e.csv")
    assert list(got.columns) == ["arch", "params", "synflow"] and list(got["arch"]) == CELLS[:2]
    assert main(base + ["--proxies", "params", "--init-seed", "1"]) == 0  # second settings in the same store
    capsys.readouterr()
    assert main(["store", "export", str(store), "--out", str(tmp_path / "f.csv")]) == 2
    assert "holds 2 settings; pick one with --settings" in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()
    assert main(["store", "export", str(store), "--out", str(tmp_path / "f.csv"), "--settings", "init_seed=1"]) == 0
    assert list(pd.read_csv(tmp_path / "f.csv").columns) == ["arch", "params"]


def test_duplicate_and_malformed_lines_are_reported_by_line(tmp_path, images, capsys):
    archs = tmp_path / "dup.txt"
    archs.write_text(f"{CELLS[0]}\n{CELLS[1]}\n{CELLS[0]}\nnot-a-cell\n")
    assert _score(tmp_path / "d.csv", images, archs) == 2
    assert "dup.txt:3: duplicate of line 1" in capsys.readouterr().err
    assert _score(tmp_path / "d.csv", images, archs, "--bad-lines", "skip") == 0
    err = capsys.readouterr().err
    assert "skipped 2 line(s): 3 (duplicate of line 1); 4 (" in err
    assert list(pd.read_csv(tmp_path / "d.csv")["arch"]) == CELLS[:2]


def test_failures_are_recorded_summarised_and_retried(tmp_path, images, capsys):
    """A per-arch time limit no architecture meets: every one is a recorded failure, the run ends rc 0."""
    store = tmp_path / "s.db"
    argv = ["score", "--data", str(images), "--archs", str(_archs_file(tmp_path, CELLS[:2])), "--batch-size", "8",
            "--no-progress", "--workers", "1", "--store", str(store), "--proxies", "params,synflow"]
    assert main(argv + ["--timeout-per-arch", "0.001"]) == 0
    out, err = capsys.readouterr()
    fails = ScoreStore(store, readonly=True).failures(1)
    assert sorted((a, p) for a, p, _ in fails) == sorted((c, p) for c in CELLS[:2] for p in ("params", "synflow"))
    assert all("exceeded the time limit of 0.001 s" in e for _, _, e in fails)
    assert "0 of 2 architectures fully scored" in out and "2 architectures have failures" in err
    assert "--retry-failed" in err
    assert main(argv) == 0 and "scoring 0 with" in capsys.readouterr().out  # failures count as done...
    assert main(argv + ["--retry-failed"]) == 0  # ...unless retried
    assert "scoring 2 with" in capsys.readouterr().out
    assert ScoreStore(store, readonly=True).failures(1) == []
    assert main(["store", "verify", str(store)]) == 0
