"""Weight-sharing supernets over cell spaces, and the training helpers one-shot methods share.

A supernet holds every op of every edge of a cell space once; an
architecture is a *path* through it (one op index per edge), so all the
architectures that put the same op on the same edge of the same cell share
its weights. The same module also evaluates a continuous mixture of the ops
(DARTS): ``forward(x, weights=...)`` with one row of op weights per edge.

Spaces opt in through :func:`register_supernet`; :func:`make_supernet` raises
a clear error for a space that has no weight-sharing builder (NAS-Bench-Graph,
for example, only has tabular results). This module also holds the data
handling both one-shot methods use (loading, resizing, stratified splits,
fingerprints) so that it lives in one place.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from archscore.arch import Arch
from archscore.spaces import get_space
from archscore.spaces.base import SearchSpace
from archscore.spaces.nb201 import NB201_EDGES, NB201_OPS, NB201Network, NB201Space, _make_op

logger = logging.getLogger(__name__)

#: space name -> factory(space, num_classes) returning a supernet module.
_SUPERNETS: dict[str, Callable[[SearchSpace, int], "CellSupernet"]] = {}


def register_supernet(space_name: str, factory: Callable[[SearchSpace, int], "CellSupernet"]) -> None:
    """Declare that ``space_name`` can be made into a weight-sharing supernet by ``factory(space, num_classes)``."""
    _SUPERNETS[space_name] = factory


def supernet_spaces() -> list[str]:
    """Names of the spaces with a registered supernet builder."""
    return sorted(_SUPERNETS)


def make_supernet(space: str | SearchSpace, num_classes: int = 10, **space_options: Any) -> "CellSupernet":
    """A freshly initialised supernet for ``space`` (a name or a :class:`SearchSpace`).

    Raises
    ------
    ValueError
        If the space has no weight-sharing builder.
    """
    sp = get_space(space, **space_options) if isinstance(space, str) else space
    factory = _SUPERNETS.get(sp.name)
    if factory is None:
        raise ValueError(
            f"space {sp.name!r} cannot share weights: it has no supernet builder "
            f"(spaces with one: {', '.join(supernet_spaces()) or 'none'}); register one with "
            "archscore.oneshot.register_supernet(name, factory)"
        )
    return factory(sp, int(num_classes))


class CellSupernet(nn.Module):
    """Interface of a cell-space supernet.

    Attributes
    ----------
    space : SearchSpace
    n_edges : int
        Edges per cell (rows of a path or of a weight matrix).
    ops : tuple of str
        The op vocabulary (columns).
    """

    space: SearchSpace
    n_edges: int
    ops: tuple[str, ...]

    def path(self, arch: Arch) -> tuple[int, ...]:
        """The op index on each edge for ``arch``."""
        raise NotImplementedError

    def arch(self, path: tuple[int, ...] | list[int]) -> Arch:
        """The architecture a path designates."""
        raise NotImplementedError


# ------------------------------------------------------------------- NB201
class MixedEdge(nn.Module):
    """All ops of one edge; runs one of them (a path) or their weighted sum (DARTS)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(_make_op(op, c) for op in NB201_OPS)

    def forward(self, x: torch.Tensor, choice: int | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
        if choice is not None:
            return self.candidates[choice](x)
        return sum(w * op(x) for w, op in zip(weights, self.candidates))


class NB201SuperCell(nn.Module):
    """A cell whose six edges are :class:`MixedEdge` modules (the ``ops`` argument is ignored)."""

    def __init__(self, ops: list[str], c: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedEdge(c) for _ in NB201_EDGES)

    def forward(self, x: torch.Tensor, path=None, weights=None, aux_skip: float = 0.0) -> torch.Tensor:
        nodes = [x]
        for node in (1, 2, 3):
            total = 0
            for k, (src, dst) in enumerate(NB201_EDGES):
                if dst != node:
                    continue
                if path is not None:
                    out = self.edges[k](nodes[src], choice=path[k])
                else:
                    out = self.edges[k](nodes[src], weights=weights[k])
                if aux_skip:  # DARTS-: an auxiliary skip with a decaying weight on every edge
                    out = out + aux_skip * nodes[src]
                total = total + out
            nodes.append(total)
        return nodes[3]


class NB201Supernet(NB201Network, CellSupernet):
    """The NB201 skeleton (stem, three stages, residual reductions, classifier) with super-cells.

    ``forward(x, path=(i0..i5))`` runs the single-path network of the cell
    whose edge ``k`` has op ``NB201_OPS[path[k]]``; ``forward(x, weights=W)``
    with ``W`` of shape (6, 5) runs the DARTS mixture.
    """

    cell_type = NB201SuperCell

    def __init__(self, space: NB201Space, num_classes: int = 10) -> None:
        super().__init__(list(NB201_OPS[:1]) * len(NB201_EDGES), C=space.C, N=space.N, num_classes=num_classes)
        self.space = space
        self.n_edges = len(NB201_EDGES)
        self.ops = tuple(NB201_OPS)

    def forward(self, x: torch.Tensor, path=None, weights=None, aux_skip: float = 0.0) -> torch.Tensor:
        if (path is None) == (weights is None):
            raise ValueError("pass exactly one of path= (a single path) or weights= (a DARTS mixture)")
        x = self.stem(x)
        for layer in self.cells:
            x = layer(x, path=path, weights=weights, aux_skip=aux_skip) if isinstance(layer, NB201SuperCell) else layer(x)
        x = self.lastact(x)
        return self.classifier(torch.flatten(self.global_pooling(x), 1))

    def path(self, arch: Arch) -> tuple[int, ...]:
        return tuple(NB201_OPS.index(op) for op in self.space.cell_ops(arch))

    def arch(self, path) -> Arch:
        return self.space.from_ops([NB201_OPS[int(i)] for i in path])


register_supernet("nb201", NB201Supernet)


# ------------------------------------------------------------------ helpers
def resolve_device(device: str | None) -> torch.device:
    """``"auto"``/None: CUDA when available, else CPU; anything else is passed to torch."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_data(data_path: str | None, data: Any, *, limit: int | None, resolution: int | None, seed: int):
    """Images as ``(x float NCHW normalised, y int64)`` from ``data_path`` (or ``"digits"``) or a ``data=(x, y)`` pair."""
    from archscore.data import load_digits_images, load_images, to_tensor

    if data_path is not None:
        if data_path == "digits":
            x, y = load_digits_images()
        else:
            x, y = load_images(data_path, "train")
    elif data is not None:
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ValueError("data= must be a pair (inputs, targets)")
        x, y = data
    else:
        raise ValueError("one-shot estimators need images: pass data_path=... or the context keyword data=(inputs, targets)")
    if isinstance(x, np.ndarray) and x.dtype == np.uint8:
        x = to_tensor(x)
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if x.ndim != 4 or x.shape[0] != y.shape[0]:
        raise ValueError(f"data inputs must be (N, C, H, W) with N targets, got {tuple(x.shape)} and {tuple(y.shape)}")
    if limit is not None and limit < len(x):
        keep = np.sort(np.random.default_rng(seed).permutation(len(x))[: int(limit)])
        x, y = x[keep], y[keep]
    if resolution is not None and x.shape[-1] != resolution:
        x = F.interpolate(x, size=(int(resolution), int(resolution)), mode="bilinear", align_corners=False, antialias=True)
    return x.contiguous(), y


def stratified_split(y: torch.Tensor, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, valid)``: every class present in ``y`` lands in both parts.

    Each class keeps ``round(valid_fraction * n_c)`` images for validation,
    clipped to ``[1, n_c - 1]``, so no class is missing from the validation
    set (its accuracy would otherwise be silently undefined).

    Raises
    ------
    ValueError
        If ``valid_fraction`` is outside (0, 1) or a class has fewer than 2 images.
    """
    if not 0 < valid_fraction < 1:
        raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction!r}")
    labels = np.asarray(y)
    rng = np.random.default_rng(seed)
    train, valid = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if len(idx) < 2:
            raise ValueError(
                f"class {int(c)} has {len(idx)} image(s); the train/validation split needs at least 2 per class "
                "so that the validation set contains every class (use more images or drop the class)"
            )
        k = int(np.clip(round(valid_fraction * len(idx)), 1, len(idx) - 1))
        valid.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.asarray(train)), np.sort(np.asarray(valid))


def fingerprint(*tensors: torch.Tensor) -> str:
    """A short SHA-1 of tensors' bytes (to tie a saved supernet to its data)."""
    h = hashlib.sha1()
    for t in tensors:
        h.update(np.ascontiguousarray(t.detach().cpu().numpy()).tobytes())
    return h.hexdigest()[:16]


def cosine_factor(progress: float) -> float:
    """Cosine annealing factor for progress in [0, 1]."""
    return 0.5 * (1.0 + float(np.cos(np.pi * min(max(progress, 0.0), 1.0))))



def augment_batch(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding ``pad``, scaled down for small images) and horizontal flip, per sample."""
    n, _, h, w = x.shape
    pad = max(1, min(pad, h // 8)) if h < 32 else pad
    padded = F.pad(x, (pad, pad, pad, pad))
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen).tolist()
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen).tolist()
    flip = (torch.rand(n, generator=gen) < 0.5).tolist()
    out = torch.stack([padded[i, :, dy[i]: dy[i] + h, dx[i]: dx[i] + w] for i in range(n)])
    if any(flip):
        idx = torch.tensor([i for i, f in enumerate(flip) if f])
        out[idx] = out[idx].flip(-1)
    return out

__all__ = [
    "CellSupernet", "MixedEdge", "NB201SuperCell", "NB201Supernet", "make_supernet", "register_supernet",
    "supernet_spaces", "stratified_split", "load_data", "resolve_device", "fingerprint", "cosine_factor",
    "augment_batch",
]
