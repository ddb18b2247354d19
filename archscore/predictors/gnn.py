"""A graph isomorphism network (GIN) over the architecture DAG, in plain torch.

Xu, Hu, Leskovec & Jegelka, "How Powerful are Graph Neural Networks?" (ICLR
2019) define the GIN update ``h_v <- MLP((1 + eps) h_v + sum_{u in N(v)} h_u)``.
Predictor studies (White et al., NeurIPS 2021; BRP-NAS, Dudziak et al.,
NeurIPS 2020, with a GCN) run such networks over cell DAGs with one-hot op
features. archscore's variant respects edge direction: each layer sums
predecessors and successors separately and concatenates them before the MLP
(an architecture DAG is directed; a plain undirected GIN would confuse input
and output sides). Readout: sum over nodes, then a 2-layer MLP. No
torch_geometric: graphs are batched as dense padded adjacency matrices, which
is fine for cells of a few dozen nodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from archscore.arch import INPUT_OP, OUTPUT_OP, Arch
from archscore.base import register_estimator
from archscore.encodings import get_encoding
from archscore.encodings.base import _resolve_vocabulary
from archscore.predictors.surrogate import EncodedPredictor, TargetMap, _seed


class GINPredictor(EncodedPredictor):
    """Directed GIN regressor over the DAG with one-hot op node features.

    Parameters
    ----------
    encoding : str, Encoding or None, default=None
        Optional global features (e.g. ``"zc"`` with ``scores=``) concatenated
        to the graph embedding before the readout MLP; ``None``: graph only.
    ops : "auto", "fit" or sequence of str, default="auto"
        Op vocabulary of the node features (as in the encodings).
    hidden : int, default=64
    n_layers : int, default=3
    epochs : int, default=200
    lr : float, default=1e-3
    weight_decay : float, default=1e-4
    batch_size : int, default=64
    target_transform : {None, "rank", "log_error"}, default=None
    seed : int, default=0
        Seed of the model's randomness.

    Notes
    -----
    Defaults follow common GIN practice (3 layers of 64 units, Adam 1e-3);
    they are fixed, not tuned on a benchmark's test set.
    """

    def __init__(self, encoding: Any = None, ops: Any = "auto", hidden: int = 64, n_layers: int = 3, epochs: int = 200,
                 lr: float = 1e-3, weight_decay: float = 1e-4, batch_size: int = 64, target_transform: str | None = None,
                 seed: int = 0) -> None:
        self.encoding = encoding
        self.ops = ops
        self.hidden = hidden
        self.n_layers = n_layers
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.target_transform = target_transform
        self.seed = seed

    # graphs -> dense tensors
    def _tensors(self, archs: list[Arch]):
        labels = {lab: k for k, lab in enumerate(self.labels_)}
        n = max(max(a.graph.number_of_nodes() for a in archs), self.max_nodes_)
        H = torch.zeros(len(archs), n, len(labels))
        A = torch.zeros(len(archs), n, n)
        M = torch.zeros(len(archs), n, 1)
        for r, a in enumerate(archs):
            if a.space not in self.spaces_:
                raise ValueError(f"archs[{r}] is from space {a.space!r} but the GIN was fitted on space(s) {list(self.spaces_)}")
            pos = {node: i for i, node in enumerate(a.topological_order)}
            for node, i in pos.items():
                op = a.graph.nodes[node]["op"]
                if op not in labels:
                    raise ValueError(f"archs[{r}] ({a.key}) has op {op!r} unknown to the fitted GIN; known ops: {list(self.labels_[2:])}")
                H[r, i, labels[op]] = 1.0
                M[r, i, 0] = 1.0
            for u, v in a.graph.edges:
                A[r, pos[v], pos[u]] = 1.0  # row v sums its predecessors
        return H, A, M

    def _fit(self, archs, y, **context):
        if len(archs) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 training architectures with targets, got {len(archs)}")
        self.spaces_ = tuple(sorted({a.space for a in archs}))
        self.labels_ = (INPUT_OP, OUTPUT_OP, *_resolve_vocabulary(self.ops, archs))
        self.max_nodes_ = max(a.graph.number_of_nodes() for a in archs)
        self.encoding_ = None if self.encoding is None else get_encoding(self.encoding)
        G = self.encoding_.fit_transform(archs, **context) if self.encoding_ is not None else np.zeros((len(archs), 0))
        self.g_mean_, self.g_scale_ = G.mean(axis=0), np.where(G.std(axis=0) > 0, G.std(axis=0), 1.0)
        y = np.asarray(y, dtype=float)
        self.target_map_ = TargetMap.fit(y, self.target_transform)
        yt = self.target_map_.forward(y)
        self.y_mean_, self.y_scale_ = float(yt.mean()), float(yt.std()) or 1.0
        H, A, M = self._tensors(archs)
        Gt = torch.as_tensor((G - self.g_mean_) / self.g_scale_, dtype=torch.float32)
        Y = torch.as_tensor((yt - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_seed(self.seed))
            net = _GIN(len(self.labels_), G.shape[1], int(self.hidden), int(self.n_layers))
            opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            n, bs = len(Y), int(self.batch_size)
            for _ in range(int(self.epochs)):
                perm = torch.randperm(n)
                for i in range(0, n, bs):
                    idx = perm[i : i + bs]
                    opt.zero_grad()
                    loss = torch.nn.functional.mse_loss(net(H[idx], A[idx], M[idx], Gt[idx]), Y[idx])
                    loss.backward()
                    opt.step()
        net.eval()
        self.net_ = net

    def _predict(self, archs, return_std: bool = False, **context):
        if not archs:
            return np.zeros(0)
        G = self.encoding_.transform(archs, **context) if self.encoding_ is not None else np.zeros((len(archs), 0))
        H, A, M = self._tensors(archs)
        Gt = torch.as_tensor((G - self.g_mean_) / self.g_scale_, dtype=torch.float32)
        with torch.no_grad():
            out = self.net_(H, A, M, Gt).numpy()
        return self.target_map_.inverse(out * self.y_scale_ + self.y_mean_)  # in the targets' units


class _GIN(nn.Module):
    """The directed GIN (module level, so fitted predictors pickle)."""

    def __init__(self, n_labels: int, n_global: int, hidden: int, n_layers: int) -> None:
        super().__init__()
        self.embed = nn.Linear(n_labels, hidden)
        self.eps = nn.Parameter(torch.zeros(n_layers))
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()) for _ in range(n_layers)
        )
        self.head = nn.Sequential(nn.Linear(hidden + n_global, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, H, A, M, G):
        h = self.embed(H) * M
        for k, mlp in enumerate(self.mlps):
            pred = A @ h  # sum over predecessors
            succ = A.transpose(1, 2) @ h  # sum over successors
            h = mlp(torch.cat([(1 + self.eps[k]) * h, pred, succ], dim=-1)) * M
        return self.head(torch.cat([h.sum(dim=1), G], dim=-1)).squeeze(-1)


register_estimator("gnn", GINPredictor, description="directed GIN over the DAG (plain torch), one-hot op node features",
                   test_params={"epochs": 5, "hidden": 8})
