"""The applications' scatter plotter: one PNG per score column against a target (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np


def scatter_plots(folder: Path, prefix: str, y: np.ndarray, cols: Mapping[str, np.ndarray], *, xlabel: str,
                  spearman: Mapping[str, float | None] | None = None) -> dict[str, Path]:
    """Write ``folder/<prefix>_<name>.png`` for each column: its scores (y axis) against ``y`` (x axis).

    Non-finite scores are drawn as red crosses at the lowest finite score;
    a column spanning many orders of magnitude gets a symlog axis. The title
    shows ``spearman[name]`` when given.

    Returns
    -------
    dict of str to Path
        The file written for each column.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    y = np.asarray(y, dtype=float)
    spearman = spearman or {}
    paths = {}
    for name, s in cols.items():
        s = np.asarray(s, dtype=float)
        fig, ax = plt.subplots(figsize=(4.2, 3.4), dpi=100)
        ok = np.isfinite(s)
        ax.scatter(y[ok], s[ok], s=10, alpha=0.7)
        if (~ok).any():
            ax.scatter(y[~ok], np.full((~ok).sum(), s[ok].min() if ok.any() else 0.0), s=10, marker="x", color="red",
                       label=f"{(~ok).sum()} non-finite (drawn at min)")
            ax.legend(fontsize=7)
        finite = s[ok]
        if finite.size and np.max(np.abs(finite)) > 1e4 * max(float(np.median(np.abs(finite))), 1e-300):
            ax.set_yscale("symlog")
        rho = spearman.get(name)
        ax.set_title(f"{name} ({prefix}): Spearman {rho:+.3f}" if rho is not None else f"{name} ({prefix})", fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(name)
        fig.tight_layout()
        path = folder / f"{prefix}_{name.replace(':', '_')}.png"
        fig.savefig(path)
        plt.close(fig)
        paths[name] = path
    return paths
