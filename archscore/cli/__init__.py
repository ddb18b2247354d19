"""The ``archscore`` command line.

Commands are listed in :data:`COMMANDS` (name -> module and one-line help);
a command module exposes ``add_arguments(parser)`` and ``run(args) -> int``,
or a ``COMMANDS`` table of its own (name -> ``(module, help)``) for a group
of subcommands, like ``archscore.bench``.
Adding a command is one line in the table. Only the module of the command
being run is imported, so ``archscore --help`` and ``archscore --version``
load neither torch nor scikit-learn.

Exit status: 0 success, 1 a benchmark whose checks failed, 2 a usage or user
error (one line ``archscore: error: ...`` on stderr, never a traceback; ``-vv``
logs it), 130 interrupted (Ctrl-C), 141 output pipe closed (``| head``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shlex
import sys
from typing import Mapping, NamedTuple, Sequence

import archscore


class Command(NamedTuple):
    """One entry of a command table: the module implementing it and its one-line help."""

    module: str
    help: str


#: ``archscore <name>`` -> implementing module. A module with its own ``COMMANDS`` is a group.
COMMANDS: dict[str, Command] = {
    "info": Command("archscore.cli.info", "list spaces, proxies, estimators (with their modules) and benchmarks"),
    "demo": Command("archscore.cli.demo", "score and rank a pool of NB201 candidates"),
    "rank": Command("archscore.cli.rank", "rank your own candidate models (a Python file's list or dict) with zero-cost proxies"),
    "score": Command("archscore.cli.score", "score many architectures with zero-cost proxies into a resumable score store (and CSV)"),
    "search": Command("archscore.cli.search", "run a search strategy (BANANAS, REA, ...) against a table or your own evaluator"),
    "store": Command("archscore.cli.store", "inspect, export (CSV/Parquet) and verify a score store"),
    "bench": Command("archscore.bench", "run a benchmark against ground truth"),
}

logger = logging.getLogger("archscore")

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps docstring layout in descriptions and shows every option's default.

    A help text that already says its default (it contains "default") is left as it is.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower():
            return text
        return super()._get_help_string(action) or ""


def _help_line(text: str) -> str:
    """Escape ``%`` so that argparse's %-formatting of help strings cannot fail."""
    return text.replace("%", "%%")


def _selected(argv: Sequence[str] | None, table: Mapping[str, tuple[str, str]]) -> tuple[str | None, list[str] | None]:
    """The command named first in ``argv`` (skipping options) and the arguments after it."""
    if argv is None:
        return None, None
    for i, token in enumerate(argv):
        if token == "--":
            break
        if not token.startswith("-"):
            return (token, list(argv[i + 1:])) if token in table else (None, [])
    return None, []


def add_commands(parser: argparse.ArgumentParser, table: Mapping[str, tuple[str, str]], argv: Sequence[str] | None,
                 prog: str, dest: str = "command") -> None:
    """Add ``table``'s commands to ``parser``; import only the one named in ``argv`` (all when ``argv`` is None)."""
    sub = parser.add_subparsers(dest=dest, metavar="COMMAND")
    chosen, rest = _selected(argv, table)
    for name, (module_name, help_text) in table.items():
        p = sub.add_parser(name, help=_help_line(help_text), formatter_class=HelpFormatter)
        if argv is not None and name != chosen:
            continue  # listed in the parent's help, never imported
        module = importlib.import_module(module_name)
        p.description = module.__doc__
        group = getattr(module, "COMMANDS", None)
        if group is not None:
            add_commands(p, group, rest, f"{prog} {name}", dest=f"{dest}_{name}")
            p.set_defaults(func=_group_help(p))
        else:
            module.add_arguments(p)
            p.set_defaults(func=module.run)


def _group_help(parser: argparse.ArgumentParser):
    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return EXIT_USER_ERROR

    return show


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``argv`` only the named command is imported and filled in.

    ``build_parser()`` (no ``argv``) builds every command and subcommand, for tests and docs.
    """
    parser = argparse.ArgumentParser(prog="archscore", description="Estimate neural architecture quality without full training.",
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"archscore {archscore.__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug and tracebacks)")
    add_commands(parser, COMMANDS, argv, "archscore")
    return parser


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (it may be swapped, e.g. by pytest's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _configure_logging(verbose: int) -> None:
    """One handler on the ``archscore`` logger; repeated ``main()`` calls do not stack handlers."""
    for h in [h for h in logger.handlers if isinstance(h, _CurrentStderrHandler)]:
        logger.removeHandler(h)
    handler = _CurrentStderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(max(logging.WARNING - 10 * min(verbose, 2), logging.DEBUG))


def _message(exc: BaseException) -> str:
    """One line for the user: a KeyError's message without repr quotes, the exception type when it says nothing."""
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]
    else:
        text = str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError) and exc.filename and str(exc.filename) not in text:
        text = f"{text}: {exc.filename}"
    text = " ".join(text.split()) or type(exc).__name__
    if isinstance(exc, NotImplementedError):
        text = f"not supported: {text}"
    return text


def _error(text: str) -> None:
    try:
        print(f"archscore: error: {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr itself gone: nothing left to tell
        pass


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (e.g. captured in tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``archscore`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        _configure_logging(args.verbose)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USER_ERROR
        args.command_line = "archscore " + shlex.join(argv)
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, inside the handlers below
        return status
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        logger.debug("interrupted", exc_info=True)
        _error("interrupted")
        return EXIT_INTERRUPTED
    except (ValueError, KeyError, NotImplementedError, OSError) as exc:
        # User errors (bad option values, unknown names, unsupported spaces, unreadable paths): one line, no traceback.
        logger.debug("command failed", exc_info=True)
        _error(_message(exc))
        return EXIT_USER_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
