import pytest

import archscore
from archscore.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert archscore.__version__ in capsys.readouterr().out


def test_info_lists_spaces_and_estimators(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "nb201" in out and "random" in out


def test_demo_runs_offline(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("ARCHSCORE_DATA", raising=False)
    assert main(["demo", "--n", "3", "--batch-size", "8", "--out", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert "Sampled 3 NB201 cells" in out
    assert "scikit-learn handwritten digits (offline fallback" in out
    assert "ground-truth check and plots skipped" in out
    table = out.split("  cell\n")[1].split("\n\n")[0].splitlines()
    assert [int(line.split()[0]) for line in table] == [1, 2, 3]
    ensemble = [float(line.split()[1]) for line in table]
    assert ensemble == sorted(ensemble, reverse=True)
    assert not (tmp_path / "plots").exists()


def test_demo_with_shared_data(data_dir, capsys, tmp_path):
    assert main(["demo", "--n", "4", "--batch-size", "8", "--data", str(data_dir), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "CIFAR-10 training images" in out and "Against NAS-Bench-201 valid_acc_200ep" in out
    assert (tmp_path / "demo_zc_ensemble.png").stat().st_size > 0


def test_user_error_is_one_line(capsys, tmp_path):
    assert main(["demo", "--n", "3", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archscore: error:") and "Traceback" not in err


def test_info_says_where_each_estimator_lives(capsys):
    from archscore.base import ESTIMATORS, list_estimators

    assert main(["info", "--family", "proxy"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.split("(", 1)[1].splitlines()[1:] if line.startswith("  ")]
    names = [r[0] for r in rows]
    assert names == list_estimators(family="proxy") and "zc:ensemble" in names and "random" not in names
    assert all(r[1] == ESTIMATORS.entry(r[0]).module for r in rows)
    assert dict((r[0], r[1]) for r in rows)["zc:ensemble"] == "archscore.predictors.zc_ensemble"
    assert "Search spaces" not in out  # --family lists estimators only


def test_info_unknown_family_lists_the_known_ones(capsys):
    assert main(["info", "--family", "proxies"]) == 2
    err = capsys.readouterr().err
    assert "no estimator of family 'proxies'" in err and "proxy" in err and "surrogate" in err
