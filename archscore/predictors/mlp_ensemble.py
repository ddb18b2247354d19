"""BANANAS-style ensemble of feed-forward networks with predictive uncertainty.

White, Neiswanger & Savani, "BANANAS: Bayesian Optimization with Neural
Architectures for Neural Architecture Search" (AAAI 2021): an ensemble of five
fully connected networks (10 layers of width 20, ReLU) trained from different
random initialisations with Adam (learning rate 0.01) on the mean absolute
error for 200 epochs over the path encoding; the ensemble mean is the
prediction and the spread across members the uncertainty. archscore follows
those defaults; targets and inputs are standardised (a deviation for
numerical robustness across spaces).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from archscore.base import register_estimator
from archscore.predictors.surrogate import EncodedPredictor, _seed


class MLPEnsemblePredictor(EncodedPredictor):
    """Ensemble of MLPs (BANANAS meta neural network), ``predict(..., return_std=True)`` supported.

    Parameters
    ----------
    encoding : str or Encoding, default="path"
    n_models : int, default=5
    n_layers : int, default=10
    width : int, default=20
    epochs : int, default=200
    lr : float, default=0.01
    batch_size : int, default=32
    loss : {"mae", "mse"}, default="mae"
    target_transform : {None, "rank", "log_error"}, default=None
    seed : int, default=0
        Seed of the model's randomness.
    """

    gives_std = True

    def __init__(self, encoding: Any = "path", n_models: int = 5, n_layers: int = 10, width: int = 20, epochs: int = 200,
                 lr: float = 0.01, batch_size: int = 32, loss: str = "mae", target_transform: str | None = None,
                 seed: int = 0) -> None:
        self.encoding = encoding
        self.n_models = n_models
        self.n_layers = n_layers
        self.width = width
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.loss = loss
        self.target_transform = target_transform
        self.seed = seed

    def _fit_model(self, X, y):
        if self.loss not in ("mae", "mse"):
            raise ValueError(f"loss must be 'mae' or 'mse', got {self.loss!r}")
        # features constant on the training set get scale 1 (not ~0: unseen values would explode)
        self.x_mean_, self.x_scale_ = X.mean(axis=0), np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        self.y_mean_, self.y_scale_ = float(y.mean()), float(y.std()) or 1.0
        Xt = torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)
        yt = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        M, n, bs = int(self.n_models), len(yt), int(self.batch_size)
        with torch.random.fork_rng(devices=[]):  # deterministic without touching the caller's RNG state
            torch.manual_seed(_seed(self.seed))
            net = _BatchedMLP(M, Xt.shape[1], int(self.width), int(self.n_layers))
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            for _ in range(int(self.epochs)):
                # every member sees its own shuffling, as if trained alone
                perm = torch.argsort(torch.rand(M, n), dim=1)
                for i in range(0, n, bs):
                    idx = perm[:, i : i + bs]
                    opt.zero_grad()
                    out = net(Xt[idx])  # (M, b)
                    err = out - yt[idx]
                    # sum over members of each member's mean loss: the same gradients as separate training
                    loss = (err.abs() if self.loss == "mae" else err**2).mean(dim=1).sum()
                    loss.backward()
                    opt.step()
        net.eval()
        self.net_ = net

    def _predict_model(self, X, return_std):
        Xt = torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)
        with torch.no_grad():
            preds = self.net_(Xt.expand(self.net_.n_models, *Xt.shape)).numpy() * self.y_scale_ + self.y_mean_
        mean = preds.mean(axis=0)
        return (mean, preds.std(axis=0)) if return_std else mean


class _BatchedMLP(nn.Module):
    """``n_models`` independent ReLU MLPs evaluated together with batched matmuls (one optimizer step trains all).

    Defined at module level so that fitted predictors pickle.
    """

    def __init__(self, n_models: int, d_in: int, width: int, n_layers: int) -> None:
        super().__init__()
        self.n_models = n_models
        dims = [d_in] + [width] * n_layers + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(dims[:-1], dims[1:]):
            bound = 1 / math.sqrt(a)  # torch.nn.Linear's default initialisation
            self.weights.append(nn.Parameter(torch.empty(n_models, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n_models, 1, b).uniform_(-bound, bound)))

    def forward(self, x):  # x: (M, B, d_in) -> (M, B)
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if k < len(self.weights) - 1:
                x = torch.relu(x)
        return x.squeeze(-1)


register_estimator("mlp_ensemble", MLPEnsemblePredictor, description="BANANAS ensemble of 5 MLPs on the path encoding; predictive std",
                   test_params={"n_models": 2, "epochs": 5, "n_layers": 2})
