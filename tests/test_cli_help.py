"""Every command's ``--help`` works and shows every option's default; ``--help``/``--version`` stay light."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from archscore.cli import COMMANDS, build_parser, main
from archscore.bench import COMMANDS as BENCHMARKS

HEAVY = ("torch", "sklearn", "scipy")
REPO_ROOT = Path(__file__).resolve().parents[1]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (command path, parser) of the full command tree, found by introspecting the parser."""
    out = [(path, parser)]
    for name, sub in _subparsers(parser).items():
        out += walk(sub, path + (name,))
    return out


TREE = walk(build_parser())
PATHS = [path for path, _ in TREE]


def test_tree_is_the_command_tables():
    assert set(PATHS) == {()} | {(c,) for c in COMMANDS} | {("bench", b) for b in BENCHMARKS}
    assert {"info", "demo", "score", "bench"} <= set(COMMANDS) and {"proxies", "predictors", "curves"} <= set(BENCHMARKS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "archscore")
def test_every_help_exits_zero(path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*path, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: archscore" + "".join(f" {p}" for p in path))


@pytest.mark.parametrize("path, parser", TREE, ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_option_shows_its_default(path, parser):
    fmt = parser._get_formatter()  # the parser's own formatter class
    for action in parser._actions:
        if not action.option_strings or isinstance(action, (argparse._HelpAction, argparse._VersionAction)) or action.required:
            continue
        text = fmt._get_help_string(action) % {"default": action.default, "prog": "archscore"}
        assert "default" in text.lower(), f"{' '.join(path)} {action.option_strings[0]}: help does not show the default: {text!r}"


def test_bare_groups_print_help_and_exit_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
    assert main(["bench"]) == 2
    out = capsys.readouterr().out
    assert all(name in out for name in BENCHMARKS) and "usage: archscore bench" in out


def _imported(*argv: str) -> tuple[int, set[str], str]:
    """Run ``python -X importtime -m archscore ARGV`` for real; return its status, the top-level packages imported and stdout."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "archscore", *argv], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)
    mods = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return proc.returncode, mods, proc.stdout


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["bench", "--help"]])
def test_help_and_version_do_not_import_heavy_libraries(argv):
    status, mods, out = _imported(*argv)
    assert status == 0 and out
    assert "archscore" in mods  # the probe sees imports at all
    assert not mods & set(HEAVY), f"archscore {' '.join(argv)} imported {sorted(mods & set(HEAVY))}"
