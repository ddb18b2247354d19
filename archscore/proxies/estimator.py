"""Zero-cost estimators ``zc:<proxy>`` and :func:`score_archs`, which scores many architectures at once.

Seed protocol
-------------
Each architecture's network is built right after ``torch.manual_seed(init_seed)``
(``init_seed=None`` means ``seed``), so the same architecture always gets the
same initial weights, whatever else was scored before. The proxies are then
computed with ``seed`` (see :func:`archscore.proxies.compute`). The reference
scores of the shared NAS-Bench-201 data (original zero-cost code) were computed
on models built after ``torch.manual_seed(42)``: use ``seed=42`` (or
``init_seed=42``) to reproduce that protocol.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from archscore.arch import Arch
from archscore.base import ESTIMATORS, Estimator, Tags
from archscore.proxies.base import PROXIES
from archscore.proxies.engine import check_seed, compute, resolve_names
from archscore.spaces import get_space
from archscore.spaces.base import SearchSpace

#: Default number of classes when it cannot be inferred from the targets.
DEFAULT_NUM_CLASSES = 10


def _resolve_space(space: Any, arch: Arch):
    if space is None:
        return get_space(arch.space)
    if isinstance(space, str):
        return get_space(space)
    if isinstance(space, SearchSpace):
        return space
    raise TypeError(f"space must be None, a registered space name or a SearchSpace instance, got {type(space).__name__}")


def _as_batch(data: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError("data= must be a pair (inputs, targets): inputs (N, C, H, W) float, targets (N,) integer class labels")
    x, y = data
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.array(x))
    if isinstance(y, np.ndarray):
        y = torch.from_numpy(np.array(y))
    if y is not None and not isinstance(y, torch.Tensor):
        y = torch.as_tensor(y)
    return x, y


def _num_classes(num_classes: int | None, targets: torch.Tensor | None) -> int:
    if num_classes is not None:
        return int(num_classes)
    if targets is None or targets.numel() == 0:
        return DEFAULT_NUM_CLASSES
    return max(DEFAULT_NUM_CLASSES, int(targets.max()) + 1)


def _arch_label(space: Any, arch: Arch) -> str:
    try:
        return space.to_string(arch)
    except (NotImplementedError, ValueError, TypeError):
        return arch.key


def score_archs(
    archs: Sequence[Arch],
    inputs: Any,
    targets: Any = None,
    proxies: str | Iterable[str] | None = None,
    *,
    space: Any = None,
    seed: int = 0,
    init_seed: int | None = None,
    num_classes: int | None = None,
    device: Any = None,
    nan_policy: str = "warn",
    progress: bool | None = None,
    options: dict | None = None,
) -> pd.DataFrame:
    """Score every architecture with every proxy: one model build and one :func:`compute` call per architecture.

    Parameters
    ----------
    archs : sequence of Arch
    inputs, targets : the batch (see :func:`archscore.proxies.compute`).
    proxies : names, optional
        All registered proxies when None.
    space : None, str or SearchSpace
        Builds the models; None means ``get_space(arch.space)`` (default options).
    seed : int
        Proxy seed; also the model-init seed unless ``init_seed`` is given.
    init_seed : int, optional
        ``torch.manual_seed(init_seed)`` right before each build (42 reproduces
        the shared reference scores).
    num_classes : int, optional
        Classifier width; inferred as ``max(10, max(targets) + 1)`` when None.
    nan_policy : {"raise", "warn", "ignore"}, default="warn"
        Per architecture, as in :func:`archscore.proxies.compute`: with
        ``"warn"`` an undefined proxy is NaN and each architecture with any
        gets ONE warning listing them and why.
    progress : bool, optional
        tqdm bar; None shows it only on a terminal and for more than one architecture.

    Returns
    -------
    DataFrame
        One row per architecture (index: the space's string for it, named
        ``arch``), one column per proxy (raw scores). ``df.attrs["seconds"]``
        holds the wall time of each row (build excluded).
    """
    archs = list(archs)
    seed = check_seed(seed)
    if init_seed is not None:
        init_seed = check_seed(init_seed)
    names = resolve_names(proxies)
    x, y = _as_batch((inputs, targets))
    ncls = _num_classes(num_classes, y)
    init = seed if init_seed is None else int(init_seed)
    show = (sys.stderr.isatty() and len(archs) > 1) if progress is None else bool(progress)
    rows, labels, seconds = [], [], []
    for arch in tqdm(archs, desc="zero-cost proxies", unit="arch", disable=not show):
        sp = _resolve_space(space, arch)
        with torch.random.fork_rng():
            torch.manual_seed(init)
            model = sp.build(arch, num_classes=ncls)
        t0 = time.perf_counter()
        rows.append(compute(model, x, y, names, seed=seed, device=device, nan_policy=nan_policy, options=options))
        seconds.append(time.perf_counter() - t0)
        labels.append(_arch_label(sp, arch))
    df = pd.DataFrame(rows, columns=names, index=pd.Index(labels, name="arch"), dtype=float)
    df.attrs["seconds"] = seconds
    return df


class ZeroCostEstimator(Estimator):
    """Scores architectures with one zero-cost proxy; ``create_estimator("zc:<proxy>")`` is this class with ``proxy=<proxy>``.

    Parameters
    ----------
    proxy : str, default="synflow"
        A registered proxy name (:func:`archscore.proxies.list_proxies`).
    space : None, str or SearchSpace, default=None
        Builds the networks; None means ``get_space(arch.space)``.
    seed : int, default=0
        Seed of the proxy computation and (unless ``init_seed``) of model init.
    init_seed : int, optional
        Seed set right before each model is built (42 = the reference protocol).
    num_classes : int, optional
        Inferred from the targets (at least 10) when None.
    device : None, "auto", "cpu" or "cuda"
    nan_policy : {"raise", "warn", "ignore"}, default="raise"
        A ``zc:<proxy>`` estimator asks for its proxy by name, so an undefined
        proxy raises by default (as ``compute(..., proxies=[name])``); pass
        ``"warn"`` or ``"ignore"`` to get NaN predictions instead.

    Notes
    -----
    Predictions are oriented higher-is-better: proxies declared
    ``higher_is_better=False`` are negated.
    """

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.family = "proxy"
        tags.input.needs_data = True
        return tags

    def __init__(self, proxy: str = "synflow", space: Any = None, seed: int = 0, init_seed: int | None = None, num_classes: int | None = None,
                 device: Any = None, nan_policy: str = "raise") -> None:
        self.proxy = proxy
        self.space = space
        self.seed = seed
        self.init_seed = init_seed
        self.num_classes = num_classes
        self.device = device
        self.nan_policy = nan_policy

    def _predict(self, archs: list[Arch], data: Any = None, **context: Any) -> np.ndarray:
        x, y = _as_batch(data)
        df = score_archs(archs, x, y, [self.proxy], space=self.space, seed=self.seed, init_seed=self.init_seed,
                         num_classes=self.num_classes, device=self.device, nan_policy=self.nan_policy,
                         progress=None)
        values = df[self.proxy].to_numpy(dtype=float)
        return values if PROXIES.metadata(self.proxy)["higher_is_better"] else -values


def _describe(proxy: str) -> str:
    meta = PROXIES.metadata(proxy)
    return f"zero-cost proxy {proxy}: {meta['description']}"


# ``zc:<proxy>`` for every registered proxy, present and future, is ZeroCostEstimator(proxy=<proxy>).
ESTIMATORS.register_prefix("zc:", ZeroCostEstimator, param="proxy", members=PROXIES.list, description=_describe,
                          test_params={"space": get_space("nb201", C=4, N=1), "nan_policy": "raise"})
