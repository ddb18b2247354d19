"""Rank your own candidate models with zero-cost proxies (``archscore rank``).

    archscore rank mymodels.py:candidates --data batch.npz --out ranking.csv

``FILE.py:NAME`` names a Python file and a variable in it holding the
candidates: a list or dict (name -> model) of ``torch.nn.Module`` objects or
zero-argument factories (see :func:`archscore.rank`). The file is run as a
module, so it may import anything installed.

``--data`` is one of:

* an ``.npz`` with arrays ``x`` and ``y`` (any shapes: features, token ids,
  images; ``uint8`` arrays of shape (N, H, W, 3) are taken as RGB images and
  normalised with CIFAR-10's statistics), of which ``--batch-size`` rows are
  drawn with ``numpy.random.default_rng(--batch-seed).permutation``;
* a ``.pt`` file holding ``(x, y)`` or ``{"x": ..., "y": ...}``, used the same way;
* the CIFAR-10 JPEG tarball or a data folder (as in ``archscore score``).

The table (``name, score, rank`` and one column per proxy, best first) is
printed and, with ``--out``, written as CSV.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np

import archscore
from archscore.data import load_batch, resolve_image_source, to_tensor


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("candidates", help="FILE.py:NAME, a variable holding a list or dict of models or factories")
    p.add_argument("--data", type=Path, required=True, help="minibatch source: .npz (x, y), .pt, image tarball or data folder")
    p.add_argument("--estimator", default="zc:ensemble", help="zc:ensemble or zc:<proxy>")
    p.add_argument("--proxies", default=None, help="comma-separated proxies of zc:ensemble (default: its own set)")
    p.add_argument("--out", type=Path, default=None, help="CSV to write the ranking to")
    p.add_argument("--batch-size", type=int, default=64, help="rows of the minibatch")
    p.add_argument("--batch-seed", type=int, default=0, help="which rows: default_rng(seed).permutation(N)[:batch-size]")
    p.add_argument("--seed", type=int, default=0, help="seed of the proxies and of the factories' initialisation")
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default: the models' device)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def load_object(spec: str) -> Any:
    """The object ``NAME`` defined in the Python file ``FILE.py`` of ``spec = "FILE.py:NAME"``."""
    path_text, sep, attr = str(spec).rpartition(":")
    if not sep or not path_text or not attr:
        raise ValueError(f"expected FILE.py:NAME (a Python file and the variable holding the candidates), got {spec!r}")
    path = Path(path_text)
    if path.suffix != ".py":
        raise ValueError(f"{path_text!r} is not a .py file; expected FILE.py:NAME")
    if not path.is_file():
        raise FileNotFoundError(f"candidates file not found: {path}")
    module_name = f"_archscore_user_{uuid.uuid4().hex}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any error in the user's file becomes one user-facing line
        sys.modules.pop(module_name, None)
        raise ValueError(f"running {path} failed: {type(exc).__name__}: {exc}") from exc
    if not hasattr(module, attr):
        names = sorted(n for n in vars(module) if not n.startswith("_"))
        raise ValueError(f"{path} defines no {attr!r}; its names: {', '.join(names) or '(none)'}")
    return getattr(module, attr)


def _rows(n: int, batch_size: int, seed: int) -> np.ndarray:
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    return np.random.default_rng(seed).permutation(n)[:batch_size]


def load_data(path: Path, batch_size: int, seed: int) -> tuple[Any, Any, str]:
    """``(inputs, targets, description)`` from ``--data`` (see the module docstring)."""
    import torch

    name = path.name.lower()
    if name.endswith((".npz", ".pt")):
        if not path.is_file():
            raise FileNotFoundError(f"--data file not found: {path}")
        if name.endswith(".npz"):
            with np.load(path) as d:
                if not {"x", "y"} <= set(d.files):
                    raise ValueError(f"{path} must hold arrays 'x' and 'y', it holds {sorted(d.files)}")
                x, y = d["x"], d["y"]
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(obj, dict) and {"x", "y"} <= set(obj):
                x, y = obj["x"], obj["y"]
            elif isinstance(obj, (tuple, list)) and len(obj) == 2:
                x, y = obj
            else:
                raise ValueError(f"{path} must hold (x, y) or {{'x': ..., 'y': ...}}")
            x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"{path}: x has {len(x)} rows but y has {len(y)}")
        rows = _rows(len(x), batch_size, seed)
        xb, yb = x[rows], y[rows]
        if xb.dtype == np.uint8 and xb.ndim == 4 and xb.shape[-1] == 3:
            inputs = to_tensor(xb)
        else:
            inputs = torch.from_numpy(np.ascontiguousarray(xb))
        return inputs, torch.from_numpy(np.ascontiguousarray(yb)), f"{len(rows)} rows of {path}"
    return load_batch(resolve_image_source(path), batch_size, seed)


def run(args: argparse.Namespace) -> int:
    candidates = load_object(args.candidates)
    inputs, targets, desc = load_data(args.data, args.batch_size, args.batch_seed)
    proxies = None if args.proxies is None else [p.strip() for p in args.proxies.split(",") if p.strip()]
    table = archscore.rank(candidates, data=(inputs, targets), estimator=args.estimator, proxies=proxies, seed=args.seed,
                           device=args.device, progress=not args.no_progress)
    print(f"ranked {len(table)} candidates with {args.estimator} on {desc}")
    print(table.to_string(index=False))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    return 0
