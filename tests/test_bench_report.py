"""The one report renderer: console text and Markdown show the same sections in the same order."""

import argparse
from pathlib import Path

import pytest

from archscore.bench.report import Report, Table, render_markdown, render_text, settings_from_args, write_markdown


def _report():
    r = Report("bench x", "archscore bench x --n 3", {"n": 3, "sizes": [1, 2]})
    t = Table(["name", "value"])
    t.add("a|b", "1.000")
    t.add("longer", None)
    r.section("First", "a note", table=t)
    r.section("Second", table=Table(["only"], [["z"]]))
    return r


def test_text_and_markdown_agree(tmp_path):
    text = render_text(_report())
    assert text.splitlines()[:3] == ["bench x", "command: archscore bench x --n 3", "settings: n=3; sizes=1,2"]
    assert "  name    value\n  a|b     1.000\n  longer\n" in text  # aligned, empty cell trimmed
    path = write_markdown(_report(), tmp_path / "out")
    md = path.read_text()
    assert path == tmp_path / "out" / "results.md" and md == render_markdown(_report())
    assert "```\narchscore bench x --n 3\n```" in md and "| sizes | 1,2 |" in md
    assert "| a\\|b | 1.000 |" in md and "| longer |   |" in md  # pipes escaped
    assert [ln[3:] for ln in md.splitlines() if ln.startswith("## ")] == ["First", "Second"]
    assert text.index("First") < text.index("Second")


def test_row_width_is_checked():
    with pytest.raises(ValueError, match="2 cells for 1 columns"):
        Table(["a"]).add(1, 2)


def test_settings_leave_out_plumbing(monkeypatch, tmp_path):
    monkeypatch.setenv("ARCHSCORE_DATA", str(tmp_path))
    args = argparse.Namespace(n=3, out=Path("o"), data=None, func=print, command_line="x", command="bench", verbose=1)
    assert settings_from_args(args, extra=1) == {"n": 3, "out": "o", "data": f"$ARCHSCORE_DATA = {tmp_path}", "extra": 1}
