"""The one renderer of benchmark results: the console text and ``OUT/results.md``.

A benchmark builds a :class:`Report` (title, the exact command line, the
settings, then sections of text lines and one table each) and hands it to
:func:`render_text` (printed) and :func:`write_markdown` (the Markdown file the
documentation's results pages are made of). Both walk the same sections in the
same order, so the two can never disagree.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from archscore.data import DATA_ENV, default_data_dir


@dataclass
class Table:
    """A table of already formatted cells; the first ``left`` columns are left-aligned, the others right-aligned."""

    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    left: int = 1

    def add(self, *cells: Any) -> None:
        """Append one row (cells are converted with ``str``; None becomes an empty cell)."""
        if len(cells) != len(self.columns):
            raise ValueError(f"row has {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(["" if c is None else str(c) for c in cells])


@dataclass
class Section:
    """A titled block: lines of text, then an optional table."""

    title: str
    lines: list[str] = field(default_factory=list)
    table: Table | None = None


@dataclass
class Report:
    """Everything a benchmark reports, in the order it is shown."""

    title: str
    command: str
    settings: dict[str, Any]
    sections: list[Section] = field(default_factory=list)

    def section(self, title: str, *lines: str, table: Table | None = None) -> Section:
        """Add and return a new section."""
        sec = Section(title, list(lines), table)
        self.sections.append(sec)
        return sec


def settings_from_args(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    """The command's options (``func`` and ``command_line`` left out) plus ``extra`` resolved values."""
    skip = {"func", "command_line", "verbose"}
    out = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in skip and not k.startswith("command")}
    if out.get("data", "") is None:  # say which folder the default was
        try:
            folder = default_data_dir()
        except FileNotFoundError:
            folder = None
        out["data"] = f"${DATA_ENV} = {folder}" if folder is not None else None
    out.update(extra)
    return out


def command_line(args: argparse.Namespace, fallback: str) -> str:
    """The exact command line recorded by :func:`archscore.cli.main` (``fallback`` when called otherwise)."""
    return getattr(args, "command_line", None) or fallback


def _fmt_setting(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "{}"
    return str(value)


def render_text(report: Report) -> str:
    """Console form: sections with aligned tables."""
    out = [report.title, f"command: {report.command}",
           "settings: " + "; ".join(f"{k}={_fmt_setting(v)}" for k, v in report.settings.items())]
    for sec in report.sections:
        out.append("")
        out.append(sec.title)
        out.extend(f"  {line}" for line in sec.lines)
        if sec.table is not None and sec.table.rows:
            out.extend(_text_table(sec.table))
    return "\n".join(out) + "\n"


def _text_table(table: Table) -> list[str]:
    widths = [max(len(r[i]) for r in [table.columns, *table.rows]) for i in range(len(table.columns))]

    def line(cells: Sequence[str]) -> str:
        parts = [c.ljust(w) if i < table.left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  " + "  ".join(parts).rstrip()

    return [line(table.columns)] + [line(r) for r in table.rows]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|") if text else " "


def render_markdown(report: Report, *, header: bool = True) -> str:
    """Markdown form: the same sections as :func:`render_text`, in the same order.

    ``header=False`` leaves out the title, command line and settings (tables only, e.g. to embed them elsewhere).
    """
    out = []
    if header:
        out = [f"# {report.title}", "", "Produced by:", "", "```", report.command, "```", "", "| setting | value |", "| --- | --- |"]
        out += [f"| {k} | {_md_cell(_fmt_setting(v))} |" for k, v in report.settings.items()]
    for sec in report.sections:
        out += ["", f"## {sec.title}", ""]
        if sec.lines:
            out += [f"- {line}" for line in sec.lines] + [""]
        if sec.table is not None and sec.table.rows:
            out.append("| " + " | ".join(_md_cell(c) for c in sec.table.columns) + " |")
            out.append("| " + " | ".join("---" if i < sec.table.left else "---:" for i in range(len(sec.table.columns))) + " |")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in sec.table.rows]
    return "\n".join(out).strip() + "\n"


def write_markdown(report: Report, folder: Path, name: str = "results.md") -> Path:
    """Write :func:`render_markdown` to ``folder/name`` (folder created) and return the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(render_markdown(report))
    return path


def publish(report: Report, folder: Path | None, print_fn: Any = print) -> Path | None:
    """Print the report and, when ``folder`` is given, write ``folder/results.md``."""
    print_fn(render_text(report), end="")
    return write_markdown(report, folder) if folder is not None else None


def json_safe(obj: Any) -> Any:
    """``obj`` with numpy scalars as Python numbers, non-finite floats as None and dict keys as strings (for ``json.dumps``)."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def publish_results(results: dict[str, Any], report: Report, folder: Path) -> int:
    """Write ``folder/results.json`` (:func:`json_safe`) and the report, print both paths; exit status 1 if a check failed."""
    import json

    out_json = Path(folder) / "results.json"
    out_json.write_text(json.dumps(json_safe(results), indent=2))
    md = publish(report, folder)
    print(f"\nWrote {out_json} and {md} ({results['seconds']:.0f} s)")
    return 1 if any(not c["passed"] for c in results["checks"]) else 0


def add_checks(report: Report, checks: Sequence[Mapping[str, Any]]) -> None:
    """Append the "Checks: N passed, M failed" section (nothing when there are no checks)."""
    if checks:
        failed = sum(not c["passed"] for c in checks)
        report.section(f"Checks: {len(checks) - failed} passed, {failed} failed", table=check_lines(checks))


def check(name: str, value: float | None, threshold: float, *, higher: bool = True, strict: bool = False,
           within: float | None = None, note: str = "") -> dict:
    """One pass/fail line: ``value >= threshold`` (or ``<=``, or ``|value - threshold| <= within``)."""
    if value is None:
        passed = False
    elif within is not None:
        passed = abs(value - threshold) <= within
    elif higher:
        passed = value > threshold if strict else value >= threshold
    else:
        passed = value < threshold if strict else value <= threshold
    direction = f"within {within} of" if within is not None else ((">" if strict else ">=") if higher else ("<" if strict else "<="))
    return {"check": name, "value": value, "threshold": threshold, "direction": direction, "passed": bool(passed), "note": note}


def check_lines(checks: Sequence[Mapping[str, Any]]) -> Table:
    """The pass/fail table of a benchmark's checks."""
    table = Table(["check", "value", "target", "result"])
    for c in checks:
        v = "n/a" if c["value"] is None else f"{c['value']:.3f}"
        table.add(c["check"], v, f"{c['direction']} {c['threshold']:.3f}", "pass" if c["passed"] else "FAIL")
    return table
