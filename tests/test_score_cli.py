"""``archscore score``: proxy scores of many architectures into a resumable CSV."""

import numpy as np
import pandas as pd
import pytest

import archscore
from archscore.cli import main
from archscore.data import reference_batch
from archscore.proxies import score_archs
from archscore.cli.score import parse_shard, sample_benchmark_cells

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
                 "--batch-size", "8", "--no-progress", *extra])


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
    cache = [line for line in (tmp_path / "s.csv.cache.jsonl").read_text().splitlines() if line]
    assert len(cache) == 4


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
    assert "other.csv exists without its score cache" in capsys.readouterr().err
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
