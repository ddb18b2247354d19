"""Single-path one-shot (SPOS) supernet estimator (Guo et al., ECCV 2020), with FairNAS sampling.

``create_estimator("oneshot:spos", space="nb201", data_path=..., time_budget=600)``.

Contract
--------
``fit(archs=None, y=None, data=...)`` trains one supernet over the whole cell
space (``train_on="space"``, the default; ``archs`` and ``y`` are then only
validated) or only over the paths of ``archs`` (``train_on="archs"``). Each
step samples one path uniformly (``sampling="uniform"``, SPOS) or, with
``sampling="fair"`` (FairNAS, Chu et al. ICCV 2021), one path per op such
that every edge uses every op exactly once, accumulating their gradients on
the same batch before one update.

``predict(archs)`` gives each architecture the supernet's weights for its
path, recalibrates every BatchNorm on ``bn_batches`` fixed training batches
(cumulative statistics, train mode), and evaluates the network on the
held-out validation part: validation accuracy in percent (``metric=
"accuracy"``) or the negative mean cross-entropy (``metric="neg_loss"``).
Recalibration happens on a copy of the supernet, so ``predict`` changes
nothing; it is deterministic for a fitted supernet.

Data and split
--------------
``data_path`` (an npz, the CIFAR-10 tarball or a data folder; ``"digits"``
for scikit-learn's digits) or the ``data=(inputs, targets)`` context. The
images (``limit`` of them, resized to ``resolution``) are split once, under
``seed``, per class: every class present lands in both the training and the
validation part; a class with fewer than two images raises ``ValueError``.

Budget
------
``epochs``, ``steps`` and ``time_budget`` (seconds); training stops at the
first one reached (at least one must be set, each must be positive). The
learning rate follows a cosine schedule over the step budget, or over the
wall-clock budget when only ``time_budget`` is set (then the number of steps,
hence the weights, depends on the machine's speed: use ``steps``/``epochs``
for reproducible runs). Steps are never cut: if the first step alone takes
longer than ``time_budget``, ``fit`` raises ``ValueError``.

Saving
------
With ``checkpoint="path.pt"``, ``fit`` loads the supernet saved there when its
training settings (every parameter that changes the weights, plus a
fingerprint of the training data) equal the current ones, and trains and
saves otherwise. A file saved with other settings is an error naming the
settings that differ (``on_mismatch="error"``, the default) or is retrained
and overwritten (``on_mismatch="retrain"``). Parameters that only affect
scoring (``bn_batches``, ``metric``, ``eval_size``, ``device``...) never
trigger retraining.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from archscore.arch import Arch
from archscore.base import Estimator, Tags, register_estimator
from archscore.fileio import atomic_path

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "archscore-oneshot-spos/1"
_SAMPLINGS = ("uniform", "fair")
_TRAIN_ON = ("space", "archs")
_METRICS = ("accuracy", "neg_loss")
_MISMATCH = ("error", "retrain")


def eval_rows(labels: Any, n: int, seed: int) -> np.ndarray:
    """``n`` rows of the held-out set to score on: per class in proportion, seeded, in their original order.

    The held-out rows come grouped by class (:func:`~archscore.oneshot.supernet.stratified_split`),
    so their first ``n`` would hold only the first classes (2,000 of CIFAR-10's 10,000: airplanes
    and cars alone). Each class gets ``floor(n * share)`` rows and the remainder goes to the
    classes with the largest fractional parts; which rows, a seeded permutation decides.
    """
    y = np.asarray(labels)
    classes, counts = np.unique(y, return_counts=True)
    exact = n * counts / counts.sum()
    take = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - take), kind="stable")[: n - int(take.sum())]:
        take[i] += 1
    rng = np.random.default_rng(seed + 2)
    rows = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(rows)) if rows else np.zeros(0, dtype=int)


class SPOSEstimator(Estimator):
    """Score architectures with the inherited weights of a single-path one-shot supernet.

    Parameters
    ----------
    space : str, default="nb201"
        Cell space; it must have a supernet builder
        (:func:`archscore.oneshot.supernet_spaces`).
    space_options : dict, optional
        Options of the space (e.g. ``{"C": 16, "N": 5}``, the benchmark's size).
    data_path : str, optional
        Image source, or ``"digits"``; without it the ``data=`` context is needed.
    limit : int, optional
        Random subset of this many images (before the split).
    resolution : int, optional
        Resize images to ``resolution`` x ``resolution``.
    valid_fraction : float, default=0.2
        Per-class fraction of the images held out to score candidates.
    epochs, steps : int, optional
        Training budget in passes over the training part, or in optimizer steps.
    time_budget : float, optional
        Training budget in wall-clock seconds.
    sampling : {"uniform", "fair"}, default="uniform"
        SPOS uniform single-path sampling, or FairNAS strict fairness.
    train_on : {"space", "archs"}, default="space"
        Sample paths from the whole space, or only from the architectures given to ``fit``.
    lr, momentum, weight_decay, batch_size, augment
        SGD (Nesterov) recipe; cosine-annealed learning rate; random crop + flip.
    bn_batches : int, default=16
        Training batches used to recalibrate BatchNorm for each candidate (16 x 64 = 1,024 images; the
        SPOS reference recalibrates on 25,600 ImageNet images, 128 batches of 200).
    eval_size : int, optional
        Score on at most this many validation images (default all), a seeded sample with every class in
        proportion (:func:`eval_rows`).
    metric : {"accuracy", "neg_loss"}, default="accuracy"
        What ``predict`` returns (both are higher-is-better).
    checkpoint : str, optional
        File to load the trained supernet from / save it to.
    on_mismatch : {"error", "retrain"}, default="error"
        What to do when ``checkpoint`` holds a supernet trained with other settings.
    device : str, default="auto"
        Torch device; "auto" is CUDA when available, else CPU.
    num_threads : int, optional
        Torch CPU threads during fit and predict (restored afterwards).
    seed : int, default=0
        Seed of the subset, split, initialisation, batches, augmentation and paths.
    """

    def __init__(
        self,
        space: str = "nb201",
        space_options: dict | None = None,
        data_path: str | None = None,
        limit: int | None = None,
        resolution: int | None = None,
        valid_fraction: float = 0.2,
        epochs: int | None = 10,
        steps: int | None = None,
        time_budget: float | None = None,
        sampling: str = "uniform",
        train_on: str = "space",
        lr: float = 0.05,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        batch_size: int = 64,
        augment: bool = True,
        bn_batches: int = 16,
        eval_size: int | None = None,
        metric: str = "accuracy",
        checkpoint: str | None = None,
        on_mismatch: str = "error",
        device: str = "auto",
        num_threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.space = space
        self.space_options = space_options
        self.data_path = data_path
        self.limit = limit
        self.resolution = resolution
        self.valid_fraction = valid_fraction
        self.epochs = epochs
        self.steps = steps
        self.time_budget = time_budget
        self.sampling = sampling
        self.train_on = train_on
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.augment = augment
        self.bn_batches = bn_batches
        self.eval_size = eval_size
        self.metric = metric
        self.checkpoint = checkpoint
        self.on_mismatch = on_mismatch
        self.device = device
        self.num_threads = num_threads
        self.seed = seed

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.family = "oneshot"
        tags.requires_fit = True  # the supernet is trained in fit
        tags.input.needs_targets = False  # from the data, not from y
        tags.input.needs_data = self.data_path is None
        return tags

    # ------------------------------------------------------------- checks
    def _check_params(self) -> None:
        for label, v, allow_none in (
            ("epochs", self.epochs, True), ("steps", self.steps, True), ("batch_size", self.batch_size, False),
            ("bn_batches", self.bn_batches, False), ("eval_size", self.eval_size, True),
        ):
            if v is None and allow_none:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{label} must be a positive integer{' or None' if allow_none else ''}, got {v!r}"
                                 + (" (a budget too small to train one step)" if label in ("epochs", "steps") else ""))
        tb = self.time_budget
        if tb is not None and (isinstance(tb, bool) or not isinstance(tb, (int, float, np.integer, np.floating)) or not tb > 0):
            raise ValueError(f"time_budget must be a positive number of seconds or None, got {self.time_budget!r} "
                             "(a budget too small to train one step)")
        if self.epochs is None and self.steps is None and self.time_budget is None:
            raise ValueError("set a training budget: epochs=, steps= or time_budget= (seconds)")
        for label, v, choices in (("sampling", self.sampling, _SAMPLINGS), ("train_on", self.train_on, _TRAIN_ON),
                                  ("metric", self.metric, _METRICS), ("on_mismatch", self.on_mismatch, _MISMATCH)):
            if v not in choices:
                raise ValueError(f"{label} must be one of {choices}, got {v!r}")
        if self.sampling == "fair" and self.train_on == "archs":
            raise ValueError("sampling='fair' needs every op on every edge: use train_on='space'")

    # ---------------------------------------------------------------- fit
    def fit(self, archs: Sequence[Arch] | None = None, y: Sequence[float] | None = None, **context: Any) -> "SPOSEstimator":
        """Train (or load) the supernet; ``archs`` may be None when ``train_on="space"``."""
        if archs is None:
            if self.train_on == "archs":
                raise ValueError("train_on='archs' trains on the paths of the architectures given to fit; got archs=None")
            archs = []
        return super().fit(archs, y, **context)

    def _fit(self, archs, y, **context) -> None:
        import torch

        from archscore.oneshot.supernet import fingerprint, load_data, make_supernet, stratified_split

        self._check_params()
        x, labels = load_data(self.data_path, context.get("data"), limit=self.limit, resolution=self.resolution, seed=self.seed)
        ti, vi = stratified_split(labels, float(self.valid_fraction), int(self.seed))
        num_classes = int(labels.max()) + 1
        space_options = dict(self.space_options or {})
        torch.manual_seed(int(self.seed))  # the initial weights are part of the seeded run
        net = make_supernet(self.space, num_classes, **space_options)
        paths = None
        if self.train_on == "archs":
            if not archs:
                raise ValueError("train_on='archs' needs at least one architecture in fit")
            paths = sorted({net.path(a) for a in archs})
        settings = self._settings(num_classes, fingerprint(x[ti], labels[ti]), paths)

        old_threads = torch.get_num_threads()
        if self.num_threads is not None:
            torch.set_num_threads(int(self.num_threads))
        try:
            loaded = self._try_load(net, settings)
            if loaded is None:
                history = self._train(net, x[ti], labels[ti], paths)
                if self.checkpoint is not None:
                    self._save(net, settings, history)
            else:
                history = loaded
        finally:
            torch.set_num_threads(old_threads)

        net.eval()
        gen = np.random.default_rng(int(self.seed) + 1)
        bn_rows = [gen.choice(ti, size=min(int(self.batch_size), len(ti)), replace=False) for _ in range(int(self.bn_batches))]
        self.supernet_ = net
        self.settings_ = settings
        self.history_ = history
        self.loaded_from_checkpoint_ = loaded is not None
        self.valid_data_ = (x[vi], labels[vi])
        self.bn_data_ = [x[r] for r in bn_rows]
        self.num_classes_ = num_classes
        self.data_fingerprint_ = None if context.get("data") is None else _raw_fingerprint(context["data"])

    def _settings(self, num_classes: int, data_fp: str, paths) -> dict[str, Any]:
        """Everything that changes the trained weights (compared against a checkpoint)."""
        return {
            "space": self.space, "space_options": dict(sorted((self.space_options or {}).items())),
            "data_path": None if self.data_path is None else str(self.data_path), "data_fingerprint": data_fp,
            "limit": self.limit, "resolution": self.resolution, "valid_fraction": float(self.valid_fraction),
            "epochs": self.epochs, "steps": self.steps, "time_budget": self.time_budget, "sampling": self.sampling,
            "train_on": self.train_on, "train_paths": None if paths is None else [list(p) for p in paths],
            "lr": float(self.lr), "momentum": float(self.momentum), "weight_decay": float(self.weight_decay),
            "batch_size": int(self.batch_size), "augment": bool(self.augment), "seed": self.seed, "num_classes": num_classes,
        }

    def _try_load(self, net, settings):
        import torch

        if self.checkpoint is None or not Path(self.checkpoint).is_file():
            return None
        saved = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{self.checkpoint} is not an archscore SPOS supernet checkpoint (format {CHECKPOINT_FORMAT})")
        old = saved["settings"]
        diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        if diff:
            detail = "; ".join(f"{k}: saved {old.get(k)!r}, now {settings.get(k)!r}" for k in diff if k != "train_paths")
            if self.on_mismatch == "error":
                raise ValueError(f"the supernet saved in {self.checkpoint} was trained with other settings ({detail or 'train_paths'}); "
                                 "use another checkpoint path, delete the file, or pass on_mismatch='retrain' to overwrite it")
            logger.info("retraining: %s was trained with other settings (%s)", self.checkpoint, detail)
            return None
        net.load_state_dict(saved["state_dict"])
        logger.info("loaded the supernet from %s", self.checkpoint)
        return dict(saved["history"])

    def _save(self, net, settings, history) -> None:
        import torch

        state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        with atomic_path(self.checkpoint) as tmp:  # a crash never leaves a half-written checkpoint
            torch.save({"format": CHECKPOINT_FORMAT, "settings": settings, "state_dict": state, "history": history}, tmp)

    def _sample_paths(self, rng: np.random.Generator, n_edges: int, n_ops: int, paths) -> list[tuple[int, ...]]:
        if paths is not None:
            return [paths[int(rng.integers(len(paths)))]]
        if self.sampling == "uniform":
            return [tuple(int(i) for i in rng.integers(0, n_ops, size=n_edges))]
        perms = [rng.permutation(n_ops) for _ in range(n_edges)]  # FairNAS: each op once per edge over n_ops paths
        return [tuple(int(perms[e][m]) for e in range(n_edges)) for m in range(n_ops)]

    def _train(self, net, xt, yt, paths) -> dict[str, Any]:
        import torch
        from torch import nn

        from archscore.oneshot.supernet import augment_batch, cosine_factor, resolve_device

        device = resolve_device(self.device)
        torch.manual_seed(int(self.seed))
        net.to(device).train()
        opt = torch.optim.SGD(net.parameters(), lr=float(self.lr), momentum=float(self.momentum),
                              weight_decay=float(self.weight_decay), nesterov=float(self.momentum) > 0)
        bs = min(int(self.batch_size), len(xt))
        steps_per_epoch = int(np.ceil(len(xt) / bs))
        limits = [s for s in (self.steps, None if self.epochs is None else int(self.epochs) * steps_per_epoch) if s is not None]
        max_steps = min(limits) if limits else None
        budget = None if self.time_budget is None else float(self.time_budget)
        rng = np.random.default_rng(int(self.seed))
        gen = torch.Generator().manual_seed(int(self.seed))
        loss_fn = nn.CrossEntropyLoss()
        losses: list[float] = []
        step = 0
        t0 = time.perf_counter()
        order = torch.randperm(len(xt), generator=gen)
        while True:
            elapsed = time.perf_counter() - t0
            if max_steps is not None and step >= max_steps:
                break
            if budget is not None and step > 0 and elapsed >= budget:  # the first step always runs
                if step == 1 and elapsed > budget:
                    raise ValueError(f"time_budget={budget:g} s is too small to train one step (the first step took {elapsed:.3g} s); "
                                     "raise time_budget or use steps=/epochs=")
                break
            progress = step / max_steps if max_steps is not None else elapsed / budget
            for g in opt.param_groups:
                g["lr"] = float(self.lr) * cosine_factor(progress)
            k = step % steps_per_epoch
            if k == 0 and step > 0:
                order = torch.randperm(len(xt), generator=gen)
            idx = order[k * bs: (k + 1) * bs]
            xb = augment_batch(xt[idx], gen) if self.augment else xt[idx]
            xb, yb = xb.to(device), yt[idx].to(device)
            opt.zero_grad(set_to_none=True)
            batch_paths = self._sample_paths(rng, net.n_edges, len(net.ops), paths)
            total = 0.0
            for p in batch_paths:
                loss = loss_fn(net(xb, path=p), yb)
                loss.backward()
                total += float(loss.detach())
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            losses.append(total / len(batch_paths))
            step += 1
        seconds = time.perf_counter() - t0
        logger.info("trained the %s supernet for %d steps (%.1f epochs) in %.1f s, last loss %.3f",
                    self.space, step, step / steps_per_epoch, seconds, losses[-1])
        return {"steps": step, "epochs": step / steps_per_epoch, "seconds": seconds, "losses": losses, "device": str(device)}

    # ------------------------------------------------------------ predict
    def evaluate(self, archs: Sequence[Arch]) -> dict[str, np.ndarray]:
        """Validation ``accuracy`` (percent) and ``loss`` (mean cross-entropy) of each architecture's inherited weights.

        Changes nothing: BatchNorm is recalibrated on a copy of the supernet.
        Functionally identical cells given as the same path are evaluated once.
        """
        import torch
        import torch.nn.functional as F

        from archscore.oneshot.supernet import resolve_device

        if not hasattr(self, "supernet_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(data=...) to train the supernet before predict")
        archs = list(archs)
        device = resolve_device(self.device)
        net = copy.deepcopy(self.supernet_).to(device)
        bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for m in bns:
            m.momentum = None  # cumulative average over the recalibration batches
        xv, yv = self.valid_data_
        if self.eval_size is not None and int(self.eval_size) < len(yv):
            keep = torch.as_tensor(eval_rows(yv.numpy(), int(self.eval_size), int(self.seed)))
            xv, yv = xv[keep], yv[keep]
        xv, yv = xv.to(device), yv.to(device)
        bn_data = [b.to(device) for b in self.bn_data_]
        results: dict[tuple[int, ...], tuple[float, float]] = {}
        old_threads = torch.get_num_threads()
        if self.num_threads is not None:
            torch.set_num_threads(int(self.num_threads))
        try:
            with torch.no_grad():
                for a in archs:
                    p = net.path(a)
                    if p in results:
                        continue
                    for m in bns:
                        m.reset_running_stats()
                    net.train()
                    for xb in bn_data:
                        net(xb, path=p)
                    net.eval()
                    correct, loss = 0, 0.0
                    for s in range(0, len(xv), 512):
                        logits = net(xv[s: s + 512], path=p)
                        correct += int((logits.argmax(1) == yv[s: s + 512]).sum())
                        loss += float(F.cross_entropy(logits, yv[s: s + 512], reduction="sum"))
                    results[p] = (100.0 * correct / len(xv), loss / len(xv))
        finally:
            torch.set_num_threads(old_threads)
        paths = [net.path(a) for a in archs]
        return {"accuracy": np.array([results[p][0] for p in paths]), "loss": np.array([results[p][1] for p in paths])}

    def _predict(self, archs, **context):
        if not hasattr(self, "supernet_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(data=...) to train the supernet before predict")
        self._check_params()
        if context.get("data") is not None and self.data_fingerprint_ is not None \
                and _raw_fingerprint(context["data"]) != self.data_fingerprint_:
            raise ValueError("predict scores on the held-out part of the data= given to fit, but got different data=; "
                             "pass the same data= (or fit again on the new data)")
        out = self.evaluate(archs)
        return out["accuracy"] if self.metric == "accuracy" else -out["loss"]


def _raw_fingerprint(data: Any) -> str:
    import hashlib

    h = hashlib.sha1()
    for part in data:
        arr = part.detach().cpu().numpy() if hasattr(part, "detach") else np.asarray(part)
        h.update(str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


register_estimator(
    "oneshot:spos", SPOSEstimator,
    description="single-path one-shot supernet (SPOS; FairNAS with sampling='fair'): inherited weights + BN recalibration, validation accuracy",
    test_params={"space_options": {"C": 4, "N": 1}, "data_path": "digits", "limit": 80, "resolution": 8, "steps": 3,
                 "epochs": None, "batch_size": 16, "bn_batches": 1, "num_threads": 1},
)
