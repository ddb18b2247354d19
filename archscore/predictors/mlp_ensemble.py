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

from typing import Any

import numpy as np

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
    random_state : int, default=0
    """

    _tags = {"supports_std": True}

    def __init__(self, encoding: Any = "path", n_models: int = 5, n_layers: int = 10, width: int = 20, epochs: int = 200,
                 lr: float = 0.01, batch_size: int = 32, loss: str = "mae", target_transform: str | None = None,
                 random_state: int | None = 0) -> None:
        self.encoding = encoding
        self.n_models = n_models
        self.n_layers = n_layers
        self.width = width
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.loss = loss
        self.target_transform = target_transform
        self.random_state = random_state

    def _fit_model(self, X, y):
        import torch
        from torch import nn

        if self.loss not in ("mae", "mse"):
            raise ValueError(f"loss must be 'mae' or 'mse', got {self.loss!r}")
        # features constant on the training set get scale 1 (not ~0: unseen values would explode)
        self.x_mean_, self.x_scale_ = X.mean(axis=0), np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        self.y_mean_, self.y_scale_ = float(y.mean()), float(y.std()) or 1.0
        Xt = torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)
        yt = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        loss_fn = nn.L1Loss() if self.loss == "mae" else nn.MSELoss()
        seed = _seed(self.random_state)
        self.models_ = []
        with torch.random.fork_rng(devices=[]):  # deterministic without touching the caller's RNG state
            for k in range(int(self.n_models)):
                torch.manual_seed(seed * 1009 + k)
                layers: list[nn.Module] = []
                d = Xt.shape[1]
                for _ in range(int(self.n_layers)):
                    layers += [nn.Linear(d, self.width), nn.ReLU()]
                    d = self.width
                net = nn.Sequential(*layers, nn.Linear(d, 1))
                opt = torch.optim.Adam(net.parameters(), lr=self.lr)
                n = len(yt)
                for _ in range(int(self.epochs)):
                    perm = torch.randperm(n)
                    for i in range(0, n, int(self.batch_size)):
                        idx = perm[i : i + int(self.batch_size)]
                        opt.zero_grad()
                        loss_fn(net(Xt[idx]).squeeze(-1), yt[idx]).backward()
                        opt.step()
                net.eval()
                self.models_.append(net)

    def _predict_model(self, X, return_std):
        import torch

        Xt = torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)
        with torch.no_grad():
            preds = np.stack([m(Xt).squeeze(-1).numpy() for m in self.models_]) * self.y_scale_ + self.y_mean_
        mean = preds.mean(axis=0)
        return (mean, preds.std(axis=0)) if return_std else mean


register_estimator("mlp_ensemble", MLPEnsemblePredictor, description="BANANAS ensemble of 5 MLPs on the path encoding; predictive std",
                   test_params={"n_models": 2, "epochs": 5, "n_layers": 2})
