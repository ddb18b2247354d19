"""The NAS-Bench-201 network of the original zero-cost code, to reproduce its scores exactly.

The reference scores shipped with the shared data (and the published numbers of
Abdelfattah et al. 2021) come from SamsungLabs/zero-cost-nas, whose NB201
network differs from the benchmark's own (:meth:`NB201Space.build`) in ways
that change the random initial weights, not the architecture's function:

* its cells are built like a supernet: on every edge it constructs all five
  candidate ops in the order ``none, avg_pool_3x3, nor_conv_3x3, nor_conv_1x1,
  skip_connect`` and keeps one, so every edge draws a 3x3 and a 1x1
  convolution from the RNG whichever op it keeps;
* cell convolutions have a bias and are followed by a non-affine BatchNorm
  without running statistics (at initialisation and in train mode this
  computes the same function; the bias shows in Fisher's activations and in
  SynFlow, where BatchNorm is removed);
* a reduction block draws its shortcut 1x1 convolution before its two 3x3
  convolutions.

:class:`ReferenceNB201Space` builds that network (keeping only the chosen op
per edge, so there are no unused modules) while replaying the same RNG draws:
after ``torch.manual_seed(42)`` its weights equal the reference code's, and
:func:`archscore.proxies.compute` then reproduces the reference scores to
float round-off (``score_archs(archs, x, y, space=ReferenceNB201Space(),
seed=42)``). Use the benchmark's network for everything else.
"""

from __future__ import annotations

import torch
from torch import nn

from archscore.arch import Arch
from archscore.spaces.nb201 import NB201_EDGES, NB201Space, ResidualReduction, Zero

#: Op construction order on each edge in the original code.
REFERENCE_OP_ORDER = ("none", "avg_pool_3x3", "nor_conv_3x3", "nor_conv_1x1", "skip_connect")


def _reference_op(op: str, c: int) -> nn.Module:
    if op == "none":
        return Zero()
    if op == "skip_connect":
        return nn.Identity()
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    k = 3 if op == "nor_conv_3x3" else 1
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(c, c, k, stride=1, padding=k // 2, bias=True),
        nn.BatchNorm2d(c, affine=False, track_running_stats=False),
    )


class ReferenceCell(nn.Module):
    """A cell built the reference way: every candidate op drawn, the chosen one kept."""

    def __init__(self, ops: list[str], c: int) -> None:
        super().__init__()
        kept = []
        for op in ops:
            for candidate in REFERENCE_OP_ORDER:
                module = _reference_op(candidate, c)  # consumes the RNG like the reference
                if candidate == op:
                    kept.append(module)
        self.edges = nn.ModuleList(kept)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in (1, 2, 3):
            nodes.append(sum(self.edges[k](nodes[src]) for k, (src, dst) in enumerate(NB201_EDGES) if dst == node))
        return nodes[3]


class _ReferenceReduction(ResidualReduction):
    """The benchmark's reduction block with the reference's RNG order (shortcut conv first)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        nn.Module.__init__(self)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))
        conv_a = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out))
        conv_b = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.conv_a, self.conv_b = conv_a, conv_b


class ReferenceNB201Network(nn.Module):
    """The original zero-cost code's NB201 network (same function family as the benchmark's)."""

    def __init__(self, ops: list[str], C: int = 16, N: int = 5, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage > 0:
                layers.append(_ReferenceReduction(c, 2 * c))
                c *= 2
            layers.extend(ReferenceCell(ops, c) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.global_pooling(x), 1))


class ReferenceNB201Space(NB201Space):
    """NB201 whose :meth:`build` returns :class:`ReferenceNB201Network` (reference-score reproduction only).

    Same name (``"nb201"``), strings and architectures as :class:`NB201Space`;
    pass an instance as ``space=`` to :func:`score_archs` or a ``zc:`` estimator.
    """

    def build(self, arch: Arch, num_classes: int = 10) -> nn.Module:
        num_classes = self._check_num_classes(num_classes)
        return ReferenceNB201Network(self.cell_ops(arch), C=self.C, N=self.N, num_classes=num_classes)
