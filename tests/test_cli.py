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


def test_demo_runs_offline(capsys, monkeypatch):
    monkeypatch.delenv("ARCHSCORE_DATA", raising=False)
    assert main(["demo", "--n", "3"]) == 0
    out = capsys.readouterr().out
    assert "Sampled 3 NB201 cells" in out


def test_user_error_is_one_line(capsys, tmp_path):
    assert main(["demo", "--n", "3", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archscore: error:") and "Traceback" not in err
