"""Differentiable architecture search (DARTS, Liu et al., ICLR 2019) over a cell space, with collapse fixes.

Every edge of the supernet computes ``sum_o softmax(alpha_e)_o * o(x)``; the
network weights ``w`` are trained on one half of the images and the
architecture weights ``alpha`` (one row per edge) on the other half, in
alternating steps. ``order=1`` is first-order DARTS (the gradient of the
validation loss w.r.t. ``alpha`` at the current ``w``); ``order=2`` is the
unrolled approximation (one virtual SGD step on ``w`` without momentum, the
Hessian-vector product by central finite differences).

After each epoch the cell is discretised by taking the arg-max op of every
edge over all ops, ``none`` included, as NAS-Bench-201's own DARTS baseline
does; the number of ``skip_connect`` edges is recorded because DARTS is known
to collapse onto them (NB201 CIFAR-10: 54.30% test accuracy).

Fixes (``fix=``):

``"darts-"``
    DARTS- (Chu et al., ICLR 2021): an auxiliary skip connection on every
    edge, weighted by ``beta`` decaying linearly from 1 to 0 over the epochs,
    takes the residual role skip connections would otherwise win in ``alpha``.
``"early_stop"``
    DARTS+-style early stopping (Liang et al., 2019): stop once the
    discretised cell has ``skip_limit`` or more skip connections and return
    the last cell that had fewer (or the first epoch's cell if none did).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archscore.arch import Arch

logger = logging.getLogger(__name__)

FIXES = (None, "darts-", "early_stop")


@dataclass
class DartsResult:
    """What a DARTS run found.

    Attributes
    ----------
    arch : Arch
        The returned cell (the last epoch's, or with ``fix="early_stop"`` the last one under the skip limit).
    genotypes : list of Arch
        The discretised cell after each epoch.
    skip_counts : list of int
        Skip connections in each epoch's discretised cell.
    alphas : list of ndarray (n_edges, n_ops)
        Architecture weights after each epoch.
    train_losses : list of float
        Mean training loss of each epoch.
    seconds : float
        Wall-clock search time.
    stopped_epoch : int or None
        1-based epoch at which early stopping fired.
    settings : dict
        The arguments of the run.
    """

    arch: Arch
    genotypes: list[Arch] = field(default_factory=list)
    skip_counts: list[int] = field(default_factory=list)
    alphas: list[np.ndarray] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stopped_epoch: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def _check_positive_int(label: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{label} must be a positive integer, got {v!r}")
    return int(v)


def darts_search(
    space: str = "nb201",
    *,
    data_path: str | None = None,
    data: Any = None,
    space_options: dict | None = None,
    limit: int | None = None,
    resolution: int | None = None,
    valid_fraction: float = 0.5,
    epochs: int = 50,
    steps_per_epoch: int | None = None,
    order: int = 1,
    fix: str | None = None,
    skip_limit: int = 2,
    batch_size: int = 64,
    w_lr: float = 0.025,
    w_lr_min: float = 0.001,
    w_momentum: float = 0.9,
    w_weight_decay: float = 3e-4,
    alpha_lr: float = 3e-4,
    alpha_weight_decay: float = 1e-3,
    grad_clip: float = 5.0,
    device: str = "auto",
    num_threads: int | None = None,
    seed: int = 0,
) -> DartsResult:
    """Run DARTS over ``space`` and return the discretised cells and skip counts per epoch.

    Parameters
    ----------
    space : str
        A cell space with a supernet builder (``"nb201"``).
    data_path, data
        Images: a path (or ``"digits"``), or an ``(inputs, targets)`` pair.
    space_options : dict, optional
        Supernet size, e.g. ``{"C": 16, "N": 5}`` (NB201's search setting).
    limit, resolution
        Random subset of images, resized to ``resolution``.
    valid_fraction : float, default=0.5
        Per-class fraction of the images used for the ``alpha`` updates.
    epochs : int, default=50
        Search epochs (NB201's DARTS baseline uses 50).
    steps_per_epoch : int, optional
        Cap the alternating steps per epoch (default: one pass over the smaller split).
    order : {1, 2}
        First- or second-order DARTS.
    fix : {None, "darts-", "early_stop"}
        Collapse fix (see the module docstring).
    skip_limit : int, default=2
        Skip-connection count that triggers ``fix="early_stop"``.
    batch_size, w_lr, w_lr_min, w_momentum, w_weight_decay, grad_clip
        Weight optimiser: SGD, cosine from ``w_lr`` to ``w_lr_min`` over the epochs.
    alpha_lr, alpha_weight_decay
        Architecture optimiser: Adam (betas 0.5, 0.999).
    device : str, default="auto"
    num_threads : int, optional
        Torch CPU threads for the run (restored afterwards).
    seed : int, default=0

    Returns
    -------
    DartsResult
    """
    import torch

    from archscore.oneshot.supernet import make_supernet

    epochs = _check_positive_int("epochs", epochs)
    if steps_per_epoch is not None:
        steps_per_epoch = _check_positive_int("steps_per_epoch", steps_per_epoch)
    batch_size = _check_positive_int("batch_size", batch_size)
    skip_limit = _check_positive_int("skip_limit", skip_limit)
    if order not in (1, 2):
        raise ValueError(f"order must be 1 (first-order DARTS) or 2 (second-order), got {order!r}")
    if fix not in FIXES:
        raise ValueError(f"fix must be one of {FIXES}, got {fix!r}")
    settings = dict(space=space, space_options=space_options, data_path=data_path, limit=limit, resolution=resolution,
                    valid_fraction=valid_fraction, epochs=epochs, steps_per_epoch=steps_per_epoch, order=order, fix=fix,
                    skip_limit=skip_limit, batch_size=batch_size, w_lr=w_lr, alpha_lr=alpha_lr, seed=seed)
    old_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    try:
        torch.manual_seed(int(seed))
        probe = make_supernet(space, 10, **(space_options or {}))  # fails fast for a space that cannot share weights
        del probe
        return _search(settings, data, w_lr_min, w_momentum, w_weight_decay, alpha_weight_decay, grad_clip, device)
    finally:
        torch.set_num_threads(old_threads)


def _search(st: dict, data, w_lr_min, w_momentum, w_weight_decay, alpha_weight_decay, grad_clip, device) -> DartsResult:
    import torch
    import torch.nn.functional as F

    from archscore.oneshot.supernet import cosine_factor, load_data, make_supernet, resolve_device, stratified_split

    seed = int(st["seed"])
    x, y = load_data(st["data_path"], data, limit=st["limit"], resolution=st["resolution"], seed=seed)
    ti, vi = stratified_split(y, float(st["valid_fraction"]), seed)
    num_classes = int(y.max()) + 1
    dev = resolve_device(device)
    torch.manual_seed(seed)
    net = make_supernet(st["space"], num_classes, **(st["space_options"] or {})).to(dev)
    n_edges, n_ops = net.n_edges, len(net.ops)
    skip = net.ops.index("skip_connect")
    alpha = (1e-3 * torch.randn(n_edges, n_ops, generator=torch.Generator().manual_seed(seed))).to(dev).requires_grad_(True)
    w_params = list(net.parameters())
    w_opt = torch.optim.SGD(w_params, lr=st["w_lr"], momentum=w_momentum, weight_decay=w_weight_decay)
    a_opt = torch.optim.Adam([alpha], lr=st["alpha_lr"], betas=(0.5, 0.999), weight_decay=alpha_weight_decay)
    gen = torch.Generator().manual_seed(seed)
    bs = min(st["batch_size"], len(ti), len(vi))
    n_steps = max(1, min(len(ti), len(vi)) // bs)
    if st["steps_per_epoch"] is not None:
        n_steps = min(n_steps, st["steps_per_epoch"])
    epochs = st["epochs"]
    result = DartsResult(arch=None, settings=dict(st))  # type: ignore[arg-type]
    last_ok: Arch | None = None
    t0 = time.perf_counter()
    for epoch in range(epochs):
        lr = w_lr_min + (st["w_lr"] - w_lr_min) * cosine_factor(epoch / epochs)
        for g in w_opt.param_groups:
            g["lr"] = lr
        beta = (1.0 - epoch / epochs) if st["fix"] == "darts-" else 0.0  # DARTS-: linear decay 1 -> 0
        tperm = ti[torch.randperm(len(ti), generator=gen).numpy()]
        vperm = vi[torch.randperm(len(vi), generator=gen).numpy()]
        net.train()
        losses = []
        for s in range(n_steps):
            xt, yt = x[tperm[s * bs: (s + 1) * bs]].to(dev), y[tperm[s * bs: (s + 1) * bs]].to(dev)
            xv, yv = x[vperm[s * bs: (s + 1) * bs]].to(dev), y[vperm[s * bs: (s + 1) * bs]].to(dev)
            # architecture step on the validation half
            a_opt.zero_grad(set_to_none=True)
            if st["order"] == 1:
                F.cross_entropy(net(xv, weights=F.softmax(alpha, dim=-1), aux_skip=beta), yv).backward(inputs=[alpha])
            else:
                alpha.grad = _unrolled_alpha_grad(net, w_params, alpha, xt, yt, xv, yv, lr, w_weight_decay, beta)
            a_opt.step()
            # weight step on the training half
            w_opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(xt, weights=F.softmax(alpha, dim=-1).detach(), aux_skip=beta), yt)
            loss.backward(inputs=w_params)
            torch.nn.utils.clip_grad_norm_(w_params, grad_clip)
            w_opt.step()
            losses.append(float(loss.detach()))
        a = alpha.detach().cpu().numpy().copy()
        path = tuple(int(i) for i in a.argmax(axis=1))
        cell = net.arch(path)
        n_skip = sum(i == skip for i in path)
        result.alphas.append(a)
        result.genotypes.append(cell)
        result.skip_counts.append(n_skip)
        result.train_losses.append(float(np.mean(losses)))
        logger.info("DARTS epoch %d/%d: loss %.3f, %d skip(s), cell %s", epoch + 1, epochs, result.train_losses[-1], n_skip,
                    net.space.to_string(cell))
        if st["fix"] == "early_stop" and n_skip >= st["skip_limit"]:
            result.stopped_epoch = epoch + 1
            break
        last_ok = cell
    result.seconds = time.perf_counter() - t0
    if st["fix"] == "early_stop" and result.stopped_epoch is not None:
        result.arch = last_ok if last_ok is not None else result.genotypes[0]
    else:
        result.arch = result.genotypes[-1]
    return result


def _unrolled_alpha_grad(net, w_params, alpha, xt, yt, xv, yv, xi: float, wd: float, beta: float):
    """Second-order DARTS gradient of the validation loss w.r.t. ``alpha`` (finite-difference Hessian-vector product)."""
    import torch
    import torch.nn.functional as F

    def train_loss():
        return F.cross_entropy(net(xt, weights=F.softmax(alpha, dim=-1), aux_skip=beta), yt)

    backup = [p.detach().clone() for p in w_params]
    grads = torch.autograd.grad(train_loss(), w_params, allow_unused=True)
    with torch.no_grad():  # virtual step w' = w - xi * (dL_train/dw + wd * w)
        for p, g in zip(w_params, grads):
            p.sub_(xi * ((g if g is not None else 0.0) + wd * p))
    loss_v = F.cross_entropy(net(xv, weights=F.softmax(alpha, dim=-1), aux_skip=beta), yv)
    g_alpha, *dw = torch.autograd.grad(loss_v, [alpha] + w_params, allow_unused=True)
    g_alpha = torch.zeros_like(alpha) if g_alpha is None else g_alpha
    dw = [torch.zeros_like(p) if d is None else d for p, d in zip(w_params, dw)]
    norm = torch.sqrt(sum((d * d).sum() for d in dw))
    eps = 0.01 / float(norm.clamp_min(1e-12))
    hess = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            for p, b, d in zip(w_params, backup, dw):
                p.copy_(b + sign * eps * d)
        g = torch.autograd.grad(train_loss(), [alpha], allow_unused=True)[0]
        hess.append(torch.zeros_like(alpha) if g is None else g)
    with torch.no_grad():
        for p, b in zip(w_params, backup):
            p.copy_(b)
    return g_alpha - xi * (hess[0] - hess[1]) / (2 * eps)


__all__ = ["DartsResult", "darts_search", "FIXES"]
