"""Cheap-training estimators: train each architecture briefly, observe its curve, extrapolate.

``create_estimator("train:nb201")`` trains the network a space builds for
each architecture with the NAS-Bench-201 recipe (Dong & Yang, ICLR 2020):
SGD with Nesterov momentum 0.9, learning rate 0.1 annealed by a cosine
schedule, weight decay 5e-4, batch 256, random crop (padding 4) and
horizontal flip, cross-entropy. It records the validation accuracy (percent)
after every epoch, and the mean training loss, and returns the last observed
accuracy or, with ``extrapolator=``, an extrapolation of the curve.
``train:short`` is the same estimator with cheaper defaults (3 epochs on
1,000 images at 16x16).

Data: ``data_path`` (an npz, the CIFAR-10 JPEG tarball or a data folder, read
by :func:`archscore.data.load_images`; ``"digits"`` loads scikit-learn's
bundled digits, an offline stand-in), or the ``data=(inputs, targets)``
context (uint8 NHWC arrays or float NCHW tensors already normalised). The
images are split once, under ``seed``, into training and validation parts
(``valid_fraction``). Nothing is downloaded.

Deviations from the benchmark's recipe: the cosine schedule is stepped per
iteration over ``schedule_epochs`` (default: the epochs trained), and there
is no warm-up. Runs are deterministic for a seed on a given device.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import numpy as np

from archscore.base import Estimator, Tags, register_estimator
from archscore.testing import TEST_SPACE

logger = logging.getLogger(__name__)


def _as_tensors(data: Any, resolution: int | None):
    import torch
    import torch.nn.functional as F

    from archscore.data import to_tensor

    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError("data= must be a pair (inputs, targets)")
    x, y = data
    if isinstance(x, np.ndarray) and x.dtype == np.uint8:
        x = to_tensor(x)
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if x.ndim != 4 or x.shape[0] != y.shape[0]:
        raise ValueError(f"data= inputs must be (N, C, H, W) with N targets, got {tuple(x.shape)} and {tuple(y.shape)}")
    if resolution is not None and x.shape[-1] != resolution:
        x = F.interpolate(x, size=(int(resolution), int(resolution)), mode="bilinear", align_corners=False, antialias=True)
    return x, y


def _augment(x, gen, pad: int = 4):
    """Random crop with zero padding ``pad`` and random horizontal flip (per sample)."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        crop = padded[i, :, dy[i]: dy[i] + h, dx[i]: dx[i] + w]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out


class CheapTraining(Estimator):
    """Train each architecture for a few epochs on a data subset; predict from the observed curve.

    Parameters
    ----------
    epochs : int, default=12
        Epochs trained per architecture.
    schedule_epochs : int, optional
        Length of the cosine schedule; default ``epochs`` (anneal fully, like
        NB201's 12-epoch setting). Set it to the full budget (e.g. 200) to
        observe the first epochs of the full run.
    data_path : str, optional
        Image source for :func:`archscore.data.load_images`, or ``"digits"``.
        Without it, the ``data=`` context is the data set.
    limit : int, optional
        Use a random subset of this many images (before the split).
    valid_fraction : float, default=0.2
        Fraction of the images held out for the validation curve.
    resolution : int, optional
        Downscale images to ``resolution`` x ``resolution``.
    space : str or SearchSpace, optional
        Space that builds the models (a registered name, with ``space_options``,
        or an instance); default each architecture's own.
    space_options : dict, optional
        Options for :func:`archscore.get_space` with a space name (e.g. ``{"C": 4, "N": 1}``).
    lr, momentum, weight_decay, batch_size, augment
        The recipe (NB201 defaults).
    extrapolator : None, str or Estimator
        None: predict the last observed accuracy. A method name of
        :func:`~archscore.predictors.curves.extrapolate` (``"combo"``,
        ``"pow3"``...): extrapolate to ``total_epochs``. A fitted curve
        :class:`Estimator`: its ``predict(archs, curves=...)``.
    total_epochs : int, optional
        The horizon: the epoch whose accuracy the extrapolator predicts
        (default ``schedule_epochs``). The extrapolation is told that the
        observed runs follow a cosine schedule over ``schedule_epochs``,
        whatever the horizon (:func:`~.extrapolate.extrapolate`'s
        ``schedule_epochs``).
    device : str, optional
        Torch device; default CUDA when available, else CPU.
    seed : int, default=0
        Seed of the split, the initialisation, the batches and the augmentation.
    progress : bool, optional
        tqdm progress bar; default on when stderr is a terminal.
    num_threads : int, optional
        Torch CPU threads while training (restored afterwards); default: leave torch's setting.

    Attributes
    ----------
    curves_ : dict
        Architecture string (``arch.spec``) -> validation accuracy per epoch (percent), for the archs given to ``fit``.
    losses_ : dict
        Architecture string -> mean training loss per epoch.
    seconds_ : dict
        Architecture string -> training wall time in seconds.

    Notes
    -----
    ``fit(archs)`` trains the architectures and keeps their curves;
    ``predict(archs)`` uses those and trains any other architecture again at
    each call (it stores nothing), so call ``fit`` on the architectures you
    will predict (``fit`` needs no targets).
    """

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.family = "training"
        # percent accuracy, or whatever a curve Estimator used as extrapolator predicts
        ex = getattr(self, "extrapolator", None)
        tags.output.units = ex.get_tags().output.units if isinstance(ex, Estimator) else "accuracy"
        return tags

    def __init__(self, epochs: int = 12, schedule_epochs: int | None = None, data_path: str | None = None, limit: int | None = None,
                 valid_fraction: float = 0.2, resolution: int | None = None, space: Any = None, space_options: dict | None = None,
                 lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 5e-4, batch_size: int = 256, augment: bool = True,
                 extrapolator: Any = None, total_epochs: int | None = None, device: str | None = None, seed: int = 0,
                 progress: bool | None = None, num_threads: int | None = None) -> None:
        self.epochs = epochs
        self.schedule_epochs = schedule_epochs
        self.data_path = data_path
        self.limit = limit
        self.valid_fraction = valid_fraction
        self.resolution = resolution
        self.space = space
        self.space_options = space_options
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.augment = augment
        self.extrapolator = extrapolator
        self.total_epochs = total_epochs
        self.device = device
        self.seed = seed
        self.progress = progress
        self.num_threads = num_threads

    # ------------------------------------------------------------ helpers
    def _load(self, context):
        from archscore.data import load_digits_images, load_images

        if self.data_path is not None:
            if self.data_path == "digits":
                x, y = load_digits_images()
                if self.limit is not None and self.limit < len(x):
                    keep = np.sort(np.random.default_rng(self.seed).permutation(len(x))[: int(self.limit)])
                    x, y = x[keep], y[keep]
            else:
                x, y = load_images(self.data_path, "train", limit=self.limit, seed=self.seed)
            return _as_tensors((x, y), self.resolution)
        if context.get("data") is None:
            raise ValueError(f"{type(self).__name__} needs images: pass data_path=... or the context keyword data=(inputs, targets)")
        x, y = _as_tensors(context["data"], self.resolution)
        if self.limit is not None and self.limit < len(x):
            keep = np.sort(np.random.default_rng(self.seed).permutation(len(x))[: int(self.limit)])
            x, y = x[keep], y[keep]
        return x, y

    def _check(self) -> None:
        for label, v in (("epochs", self.epochs), ("batch_size", self.batch_size)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{label} must be a positive integer, got {v!r}")
        if self.schedule_epochs is not None and self.schedule_epochs < self.epochs:
            raise ValueError(f"schedule_epochs={self.schedule_epochs} is shorter than epochs={self.epochs}")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid_fraction must be in (0, 1), got {self.valid_fraction!r}")

    def _space_for(self, arch):
        from archscore.spaces import SearchSpace, get_space

        if isinstance(self.space, SearchSpace):
            return self.space
        return get_space(self.space or arch.space, **(self.space_options or {}))

    def train_one(self, arch, x, y, *, num_classes: int, bar=None) -> tuple[list[float], list[float], float]:
        """Train ``arch`` on the split of ``(x, y)``: (valid accuracy per epoch in percent, train loss per epoch, seconds)."""
        import torch
        from torch import nn

        device = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        n = len(x)
        perm = np.random.default_rng(self.seed).permutation(n)
        n_valid = max(1, int(round(self.valid_fraction * n)))
        if n - n_valid < 1:
            raise ValueError(f"{n} images are too few to split into training and validation parts")
        vi, ti = perm[:n_valid], perm[n_valid:]
        xt, yt, xv, yv = x[ti], y[ti], x[vi].to(device), y[vi].to(device)
        torch.manual_seed(self.seed)
        model = self._space_for(arch).build(arch, num_classes=num_classes).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay, nesterov=True)
        steps_per_epoch = int(np.ceil(len(xt) / self.batch_size))
        total_steps = steps_per_epoch * int(self.schedule_epochs or self.epochs)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + np.cos(np.pi * min(s, total_steps) / total_steps)))
        loss_fn = nn.CrossEntropyLoss()
        gen = torch.Generator().manual_seed(self.seed)
        accs, losses = [], []
        t0 = time.perf_counter()
        for _ in range(int(self.epochs)):
            model.train()
            order = torch.randperm(len(xt), generator=gen)
            total, count = 0.0, 0
            for s in range(steps_per_epoch):
                idx = order[s * self.batch_size: (s + 1) * self.batch_size]
                xb = _augment(xt[idx], gen) if self.augment else xt[idx]
                xb, yb = xb.to(device), yt[idx].to(device)
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            model.eval()
            correct = 0
            with torch.no_grad():
                for s in range(0, len(xv), 1024):
                    correct += int((model(xv[s: s + 1024]).argmax(1) == yv[s: s + 1024]).sum())
            accs.append(100.0 * correct / len(xv))
            losses.append(total / count)
            if bar is not None:
                bar.update(1)
        return accs, losses, time.perf_counter() - t0

    # ------------------------------------------------------- fit / predict
    def _fit(self, archs, y, **context):
        """Train every architecture once and keep its curves (``curves_``, ``losses_``, ``seconds_``)."""
        runs = self._train_missing(archs, {}, context)
        self.curves_ = {spec: r[0] for spec, r in runs.items()}
        self.losses_ = {spec: r[1] for spec, r in runs.items()}
        self.seconds_ = {spec: r[2] for spec, r in runs.items()}

    def _predict(self, archs, **context):
        curves, losses = self._observe(archs, context)
        return self._estimate(archs, curves, losses)

    def observed_curves(self, archs, **context) -> list[list[float]]:
        """The validation curves (percent), one per architecture: those kept by ``fit``, others trained now (not kept)."""
        archs = self._check_archs(archs, context, self.get_tags())
        self._check_context(context, len(archs), self.get_tags())
        return [list(c) for c in self._observe(archs, context)[0]]

    def _observe(self, archs, context) -> tuple[list, list]:
        """Curves and losses of ``archs``: from ``fit`` when trained there, else trained now (nothing is stored)."""
        known = {spec: (c, self.losses_[spec]) for spec, c in getattr(self, "curves_", {}).items()}
        runs = self._train_missing(archs, known, context)
        return [list(runs[a.spec][0]) for a in archs], [list(runs[a.spec][1]) for a in archs]

    def _train_missing(self, archs, known: dict, context) -> dict:
        """``known`` plus (curve, losses, seconds) for every architecture of ``archs`` not in it."""
        self._check()
        if any(a is None for a in archs):
            raise ValueError(f"{type(self).__name__} trains each architecture, so archs must not contain None")
        runs = dict(known)
        todo = [a for a in dict.fromkeys(archs) if a.spec not in runs]
        if todo:
            x, y = self._load(context)
            num_classes = int(y.max()) + 1
            show = sys.stderr.isatty() if self.progress is None else bool(self.progress)
            import torch

            old_threads = torch.get_num_threads()
            if self.num_threads is not None:
                torch.set_num_threads(int(self.num_threads))
            try:
                runs.update(self._train_all(todo, x, y, num_classes, show))
            finally:
                torch.set_num_threads(old_threads)
        return runs

    def _train_all(self, todo, x, y, num_classes, show) -> dict:
        from tqdm.auto import tqdm

        out = {}
        with tqdm(total=len(todo) * int(self.epochs), desc="cheap training", unit="epoch", disable=not show) as bar:
            for a in todo:
                accs, losses, secs = self.train_one(a, x, y, num_classes=num_classes, bar=bar)
                out[a.spec] = (accs, losses, secs)
                logger.info("trained %s for %d epochs in %.1fs: valid acc %.2f%%", a.spec, self.epochs, secs, accs[-1])
        return out

    def _estimate(self, archs, curves, losses) -> np.ndarray:
        ex = self.extrapolator
        if ex is None:
            return np.array([c[-1] for c in curves], dtype=float)
        if isinstance(ex, str):
            from archscore.predictors.curves.extrapolate import extrapolate

            S = int(self.schedule_epochs or self.epochs)
            T = int(self.total_epochs or S)
            # the runs are cosine-annealed over S epochs: the extrapolation is told so, whatever the horizon T
            return np.array([extrapolate(c, total_epochs=T, schedule_epochs=S, method=ex, scale=100, schedule="cosine").mean for c in curves])
        if isinstance(ex, Estimator):
            ctx = {"curves": curves}
            if ex.get_tags().input.needs_losses or getattr(ex, "uses_losses_", False):
                ctx["losses"] = losses
            return ex.predict(list(archs), **ctx)
        raise ValueError(f"extrapolator must be None, a method name or a curve Estimator, got {type(ex).__name__}")


register_estimator("train:nb201", CheapTraining, description="train briefly with the NAS-Bench-201 recipe; last accuracy or extrapolated (extrapolator=)",
                   test_params={"epochs": 1, "data_path": "digits", "limit": 48, "valid_fraction": 0.5, "batch_size": 24, "resolution": 8, "space": TEST_SPACE, "progress": False, "num_threads": 1})
register_estimator("train:short", CheapTraining, defaults={"epochs": 3, "limit": 1000, "resolution": 16},
                   description="cheapest training fidelity: 3 epochs, 1,000 images at 16x16 (NB201 recipe otherwise)",
                   test_params={"epochs": 1, "data_path": "digits", "limit": 48, "valid_fraction": 0.5, "batch_size": 24, "resolution": 8, "space": TEST_SPACE, "progress": False, "num_threads": 1})
