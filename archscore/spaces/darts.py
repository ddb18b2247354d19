"""The DARTS cell search space (Liu, Simonyan & Yang, ICLR 2019) and NAS-Bench-301 (Siems et al., 2020).

An architecture is a pair of cells (normal and reduction). A cell has two
input states (the outputs of the two previous cells, 0 and 1) and four
intermediate states 2..5; state ``j`` sums two ops, each applied to an earlier
state. The cell outputs the concatenation of states 2..5. A cell is written as
eight ``(op, input)`` pairs, two per intermediate state, in the DARTS
``Genotype`` form::

    Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5],
             reduce=[('max_pool_3x3', 0), ...], reduce_concat=[2, 3, 4, 5])

NASLib's compact form (the keys of NAS-Bench-Suite-Zero's NB301 file) lists
``(input, op code)`` pairs per cell, ``[[(0, 5), (1, 0), ...], [...]]``, op
codes 0 ``max_pool_3x3``, 1 ``avg_pool_3x3``, 2 ``skip_connect``,
3 ``sep_conv_3x3``, 4 ``sep_conv_5x5``, 5 ``dil_conv_3x3``, 6 ``dil_conv_5x5``
(``none``, the eighth op of the DARTS vocabulary, has no code: no genotype
derived by DARTS or sampled by NAS-Bench-301 uses it).

As an :class:`~archscore.arch.Arch` every op is a node: nodes ``"n0".."n7"``
(normal cell) and ``"r0".."r7"`` (reduction cell) in genotype order, fed by
the cell's input nodes (``"n_in0"``, ``"n_in1"``, ops ``normal_input_0/1``)
or by both op nodes of an intermediate state; every op node feeds the cell's
output node (``"n_out"``, op ``normal_concat``); the graph's ``input`` feeds
both cells' input nodes and both cell outputs feed its ``output``.

:meth:`DartsSpace.build` gives the DARTS evaluation network: a 3x3 conv stem
with ``3 C`` channels, ``layers`` cells with reduction cells at ``layers // 3``
and ``2 layers // 3`` (channels doubling there), 1x1 ReLU-conv-BN
preprocessing of the two cell inputs (a factorized reduction when the older
input has twice the resolution), global pooling and a linear classifier.
``DartsSpace()`` defaults to DARTS's CIFAR-10 evaluation network (C=36,
20 layers, affine BN in the ops); ``NB301Space()`` defaults to the network
NASLib built to compute NAS-Bench-Suite-Zero's NB301 proxy scores (C=32,
8 cells, BN without affine parameters inside the ops and after the pooling
ops).
"""

from __future__ import annotations

import re
from typing import Sequence

import networkx as nx
import numpy as np
import torch
from torch import nn

from archscore.arch import INPUT_OP, OUTPUT_OP, Arch
from archscore.registry import unknown_choice_error
from archscore.spaces.base import SearchSpace

DARTS_OPS: tuple[str, ...] = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                              "dil_conv_3x3", "dil_conv_5x5")
#: NASLib's compact op codes (index = code).
NASLIB_DARTS_CODES: tuple[str, ...] = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                                       "dil_conv_3x3", "dil_conv_5x5")
CELLS: tuple[str, ...] = ("normal", "reduce")
_PREFIX = {"normal": "n", "reduce": "r"}
N_STEPS = 4
_COMPACT_FORM = ("NASLib's compact DARTS form: two cells, each 8 (input, op code) pairs, input of pair k in "
                 "0..k//2+1 and op code in 0..6, e.g. '[[(0, 5), (1, 0), (2, 1), (0, 2), (3, 2), (0, 3), (1, 0), (3, 5)], "
                 "[(1, 1), (0, 2), ...]]'")
_GENOTYPE_FORM = ("a DARTS genotype \"Genotype(normal=[('sep_conv_3x3', 0), ...8 pairs], normal_concat=[2, 3, 4, 5], "
                  "reduce=[...8 pairs], reduce_concat=[2, 3, 4, 5])\"")
_PAIR = re.compile(r"\(\s*'([a-z0-9_]+)'\s*,\s*(-?\d+)\s*\)")
_CODE_PAIR = re.compile(r"\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)")

Cell = list[tuple[str, int]]


def check_cell(cell: Sequence[tuple[str, int]], which: str = "cell") -> list[tuple[str, int]]:
    """Validate one cell of eight ``(op, input)`` pairs; returns it as a list of tuples."""
    cell = [(str(op), int(src)) for op, src in cell]
    if len(cell) != 2 * N_STEPS:
        raise ValueError(f"a DARTS {which} cell has {2 * N_STEPS} (op, input) pairs, got {len(cell)}")
    for k, (op, src) in enumerate(cell):
        if op not in DARTS_OPS:
            raise unknown_choice_error("DARTS op", op, DARTS_OPS)
        limit = k // 2 + 2
        if not 0 <= src < limit:
            raise ValueError(f"pair {k} ({op!r}, {src}) of the {which} cell feeds intermediate state {limit}, so its input "
                             f"must be in 0..{limit - 1} (two cell inputs and earlier states), got {src}")
    return cell


class DartsSpace(SearchSpace):
    """The DARTS search space: normal + reduction cell, 8 ops, 4 intermediate states each.

    Parameters
    ----------
    C : int, default=36
        Initial channels of the evaluation network (stem: ``3 C``).
    layers : int, default=20
        Number of cells; reductions at ``layers // 3`` and ``2 * layers // 3``.
    affine : bool, default=True
        Learnable BatchNorm scale/shift inside the cell ops (DARTS's
        evaluation network: True; NASLib's NB301 network: False).
    pool_bn : bool, default=False
        Follow the pooling ops with a BatchNorm without affine parameters,
        as NASLib's NB301 network does (no parameters, different outputs).
    """

    name = "darts"
    ops = DARTS_OPS

    def __init__(self, C: int = 36, layers: int = 20, affine: bool = True, pool_bn: bool = False) -> None:
        for label, v in (("C", C), ("layers", layers)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"DARTS option {label} must be a positive integer, got {v!r}")
        if int(C) % 2:
            raise ValueError(f"DARTS option C must be even (factorized reductions split channels in halves), got {C!r}")
        self.C = int(C)
        self.layers = int(layers)
        self.affine = bool(affine)
        self.pool_bn = bool(pool_bn)

    # ---------------------------------------------------------- genotypes
    def from_genotype(self, normal: Sequence[tuple[str, int]], reduce: Sequence[tuple[str, int]]) -> Arch:
        """An :class:`Arch` from two cells of eight ``(op, input)`` pairs."""
        cells = {"normal": check_cell(normal, "normal"), "reduce": check_cell(reduce, "reduce")}
        g = nx.DiGraph()
        g.add_node("input", op=INPUT_OP)
        g.add_node("output", op=OUTPUT_OP)
        for name, cell in cells.items():
            p = _PREFIX[name]
            for i in range(2):
                g.add_node(f"{p}_in{i}", op=f"{name}_input_{i}")
                g.add_edge("input", f"{p}_in{i}")
            g.add_node(f"{p}_out", op=f"{name}_concat")
            g.add_edge(f"{p}_out", "output")
            for k, (op, src) in enumerate(cell):
                g.add_node(f"{p}{k}", op=op)
                feeders = [f"{p}_in{src}"] if src < 2 else [f"{p}{2 * (src - 2)}", f"{p}{2 * (src - 2) + 1}"]
                for f in feeders:
                    g.add_edge(f, f"{p}{k}")
                g.add_edge(f"{p}{k}", f"{p}_out")
        return Arch(g, self.name)

    def genotype(self, arch: Arch) -> dict[str, list[tuple[str, int]]]:
        """``{"normal": [(op, input), ...], "reduce": [...]}`` of ``arch``."""
        if not isinstance(arch, Arch) or arch.space not in ("darts", "nb301"):
            self.check_arch(arch)
        g = arch.graph
        out = {}
        for name in CELLS:
            p = _PREFIX[name]
            # the cell's structural nodes carry fixed markers; another op there (e.g. an op-changing search move) is not a DARTS cell
            for node, marker in ((f"{p}_in0", f"{name}_input_0"), (f"{p}_in1", f"{name}_input_1"), (f"{p}_out", f"{name}_concat")):
                if node not in g or g.nodes[node]["op"] != marker:
                    found = g.nodes[node]["op"] if node in g else "no such node"
                    raise ValueError(f"node {node!r} of a {arch.space} architecture must be the marker {marker!r}, got {found!r}")
            cell = []
            for k in range(2 * N_STEPS):
                node = f"{p}{k}"
                if node not in g:
                    raise ValueError(f"architecture is labelled {arch.space} but has no op node {node!r}")
                preds = set(g.predecessors(node))
                if len(preds) == 1 and next(iter(preds)) in (f"{p}_in0", f"{p}_in1"):
                    src = int(next(iter(preds))[-1])
                else:
                    states = {int(n[1:]) // 2 + 2 for n in preds if n[1:].isdigit()}
                    if len(states) != 1 or len(preds) != 2:
                        raise ValueError(f"op node {node!r} of {arch.space} architecture has inputs {sorted(preds)}, "
                                         "not one cell input or both ops of one state")
                    src = states.pop()
                cell.append((g.nodes[node]["op"], src))
            out[name] = check_cell(cell, name)
        return out

    # ----------------------------------------------------------- strings
    def from_string(self, s: str) -> Arch:
        """Parse a DARTS genotype string or NASLib's compact form (see the module docstring)."""
        if not isinstance(s, str):
            raise TypeError(f"DARTS string must be a str, got {type(s).__name__}")
        if "Genotype" in s or "normal" in s:
            return self._from_genotype_string(s)
        return self.from_compact(s)

    def _from_genotype_string(self, s: str) -> Arch:
        cells = {}
        for name in CELLS:
            m = re.search(rf"\b{name}\s*=\s*\[([^\]]*)\]", s)
            if not m:
                raise ValueError(f"DARTS genotype string {s!r} has no {name}=[...] list; expected {_GENOTYPE_FORM}")
            body = m.group(1)
            pairs = _PAIR.findall(body)
            if len(_PAIR.sub("", body).strip(" ,")) or not pairs:
                raise ValueError(f"malformed {name} cell {body!r} in {s!r}; expected {_GENOTYPE_FORM}")
            cells[name] = [(op, int(src)) for op, src in pairs]
            concat = re.search(rf"\b{name}_concat\s*=\s*(?:range\(\s*2\s*,\s*6\s*\)|\[([^\]]*)\])", s)
            if concat and concat.group(1) is not None and [int(v) for v in re.findall(r"-?\d+", concat.group(1))] != [2, 3, 4, 5]:
                raise ValueError(f"{name}_concat in {s!r} must be [2, 3, 4, 5] (every intermediate state), got [{concat.group(1)}]")
        return self.from_genotype(cells["normal"], cells["reduce"])

    def from_compact(self, key: str | Sequence) -> Arch:
        """Parse NASLib's compact form (a string or nested sequences of ``(input, op code)``)."""
        if isinstance(key, str):
            text = key.strip()
            if not (text[:1] in "[(" and text[-1:] in "])"):
                raise ValueError(f"malformed DARTS key {key!r}; expected {_COMPACT_FORM}")
            inner = text[1:-1].strip()
            cells_txt = re.findall(r"[\[\(]((?:\s*\(\s*-?\d+\s*,\s*-?\d+\s*\)\s*,?)*)\s*[\]\)]", inner)
            if len(cells_txt) != 2:
                raise ValueError(f"DARTS key {key!r} does not hold two cells; expected {_COMPACT_FORM}")
            cells = [[(int(a), int(b)) for a, b in _CODE_PAIR.findall(c)] for c in cells_txt]
        else:
            cells = [[(int(a), int(b)) for a, b in cell] for cell in key]
            if len(cells) != 2:
                raise ValueError(f"DARTS key {key!r} has {len(cells)} cells; expected {_COMPACT_FORM}")
        decoded = []
        for name, cell in zip(CELLS, cells):
            if len(cell) != 2 * N_STEPS:
                raise ValueError(f"the {name} cell of DARTS key {key!r} has {len(cell)} pairs; expected {_COMPACT_FORM}")
            row = []
            for src, code in cell:
                if not 0 <= code < len(NASLIB_DARTS_CODES):
                    raise ValueError(f"op code {code} in the {name} cell of DARTS key {key!r} is out of range 0..6; "
                                     f"expected {_COMPACT_FORM}")
                row.append((NASLIB_DARTS_CODES[code], src))
            decoded.append(row)
        return self.from_genotype(*decoded)

    def to_compact(self, arch: Arch) -> str:
        """NASLib's compact form, ``[[(input, code), ...], [...]]``."""
        geno = self.genotype(arch)
        cells = []
        for name in CELLS:
            pairs = []
            for op, src in geno[name]:
                if op not in NASLIB_DARTS_CODES:
                    raise ValueError(f"op {op!r} has no code in NASLib's compact DARTS form (codes: {', '.join(NASLIB_DARTS_CODES)})")
                pairs.append(f"({src}, {NASLIB_DARTS_CODES.index(op)})")
            cells.append("[" + ", ".join(pairs) + "]")
        return "[" + ", ".join(cells) + "]"

    def to_string(self, arch: Arch) -> str:
        """The DARTS ``Genotype(...)`` string."""
        geno = self.genotype(arch)
        cell = {name: "[" + ", ".join(f"('{op}', {src})" for op, src in geno[name]) + "]" for name in CELLS}
        return (f"Genotype(normal={cell['normal']}, normal_concat=[2, 3, 4, 5], "
                f"reduce={cell['reduce']}, reduce_concat=[2, 3, 4, 5])")

    # ---------------------------------------------------------- sampling
    def _random_cell(self, rng: np.random.Generator) -> Cell:
        cell = []
        for step in range(N_STEPS):
            srcs = rng.choice(step + 2, size=2, replace=False)
            cell += [(NASLIB_DARTS_CODES[int(rng.integers(len(NASLIB_DARTS_CODES)))], int(s)) for s in srcs]
        return cell

    def sample(self, n: int, seed: int | None = 0) -> list[Arch]:
        """``n`` architectures as NAS-Bench-301 samples them: per state two distinct inputs, ops uniform over the 7 non-``none`` ops."""
        n = self._check_sample_size(n)
        rng = np.random.default_rng(seed)
        return [self.from_genotype(self._random_cell(rng), self._random_cell(rng)) for _ in range(n)]

    def mutate(self, arch: Arch, rng: np.random.Generator | int | None = None) -> Arch:
        """Change one op or one input of one pair (inputs of a state stay distinct, as in NASLib's mutation)."""
        geno = self.genotype(arch)
        rng = np.random.default_rng(rng)
        for _ in range(1000):
            name = CELLS[int(rng.integers(2))]
            cell = list(geno[name])
            k = int(rng.integers(len(cell)))
            op, src = cell[k]
            if rng.random() < 0.5:
                choices = [o for o in NASLIB_DARTS_CODES if o != op]
                cell[k] = (choices[int(rng.integers(len(choices)))], src)
            else:
                other = cell[k ^ 1][1]
                choices = [s for s in range(k // 2 + 2) if s not in (src, other)]
                if not choices:
                    continue
                cell[k] = (op, choices[int(rng.integers(len(choices)))])
            new = dict(geno, **{name: cell})
            return self.from_genotype(new["normal"], new["reduce"])
        raise ValueError("could not mutate the architecture")  # pragma: no cover

    # -------------------------------------------------------------- model
    def build(self, arch: Arch, num_classes: int = 10) -> nn.Module:
        """The evaluation network for ``arch`` (width ``C``, ``layers`` cells; see the module docstring)."""
        num_classes = self._check_num_classes(num_classes)
        geno = self.genotype(arch)
        return DartsNetwork(geno["normal"], geno["reduce"], C=self.C, layers=self.layers, num_classes=num_classes,
                            affine=self.affine, pool_bn=self.pool_bn)


class NB301Space(DartsSpace):
    """NAS-Bench-301: the DARTS space; :meth:`build` defaults to NASLib's NB301 network.

    C=32, 8 cells, BatchNorm without affine parameters inside the ops and
    after the pooling ops (NASLib's ``NasBench301SearchSpace``).
    """

    name = "nb301"

    def __init__(self, C: int = 32, layers: int = 8, affine: bool = False, pool_bn: bool = True) -> None:
        super().__init__(C=C, layers=layers, affine=affine, pool_bn=pool_bn)


# ----------------------------------------------------------------- modules
class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(c_out, affine=affine))


class SepConv(nn.Sequential):
    """Two (ReLU, depthwise conv, 1x1 conv, BN) blocks; only the first strides."""

    def __init__(self, c: int, kernel: int, stride: int, padding: int, affine: bool) -> None:
        super().__init__(
            nn.ReLU(inplace=False), nn.Conv2d(c, c, kernel, stride, padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=affine),
            nn.ReLU(inplace=False), nn.Conv2d(c, c, kernel, 1, padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU, dilated depthwise conv (dilation 2), 1x1 conv, BN."""

    def __init__(self, c: int, kernel: int, stride: int, padding: int, affine: bool) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(c, c, kernel, stride, padding, dilation=2, groups=c, bias=False),
                         nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=affine))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset strided 1x1 convs (C_out / 2 channels each), concatenated, then BN."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        y = self.conv_2(x[:, :, 1:, 1:])
        a = self.conv_1(x)
        if y.shape[-2:] != a.shape[-2:]:  # odd sizes: pad the shifted branch back to the same grid
            y = nn.functional.pad(y, (0, a.shape[-1] - y.shape[-1], 0, a.shape[-2] - y.shape[-2]))
        return self.bn(torch.cat([a, y], dim=1))


class Zero(nn.Module):
    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


def _darts_op(op: str, c: int, stride: int, affine: bool, pool_bn: bool = False) -> nn.Module:
    if op == "none":
        return Zero(stride)
    if op in ("max_pool_3x3", "avg_pool_3x3"):
        pool = nn.MaxPool2d(3, stride=stride, padding=1) if op == "max_pool_3x3" else \
            nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        return nn.Sequential(pool, nn.BatchNorm2d(c, affine=False)) if pool_bn else pool
    if op == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine=affine)
    if op == "sep_conv_3x3":
        return SepConv(c, 3, stride, 1, affine)
    if op == "sep_conv_5x5":
        return SepConv(c, 5, stride, 2, affine)
    if op == "dil_conv_3x3":
        return DilConv(c, 3, stride, 2, affine)
    if op == "dil_conv_5x5":
        return DilConv(c, 5, stride, 4, affine)
    raise unknown_choice_error("DARTS op", op, DARTS_OPS)


class DartsCell(nn.Module):
    """One DARTS cell: preprocess both inputs to ``c`` channels, 4 states of 2 ops, concatenate states 2..5."""

    def __init__(self, cell: Cell, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool, affine: bool,
                 pool_bn: bool = False) -> None:
        super().__init__()
        self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.pre1 = ReLUConvBN(c_p, c, 1, 1, 0)
        self.sources = [src for _, src in cell]
        self.edges = nn.ModuleList(_darts_op(op, c, 2 if reduction and src < 2 else 1, affine, pool_bn) for op, src in cell)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for step in range(N_STEPS):
            a, b = 2 * step, 2 * step + 1
            states.append(self.edges[a](states[self.sources[a]]) + self.edges[b](states[self.sources[b]]))
        return torch.cat(states[2:], dim=1)


class DartsNetwork(nn.Module):
    """DARTS's evaluation network (no auxiliary head, no drop-path) for one genotype."""

    def __init__(self, normal: Cell, reduce: Cell, C: int = 36, layers: int = 20, num_classes: int = 10,
                 affine: bool = True, stem_multiplier: int = 3, pool_bn: bool = False) -> None:
        super().__init__()
        c_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            self.cells.append(DartsCell(reduce if reduction else normal, c_pp, c_p, c_curr, reduction, reduction_prev, affine, pool_bn))
            reduction_prev = reduction
            c_pp, c_p = c_p, 2 * N_STEPS // 2 * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def feature_stages(self) -> list[nn.Module]:
        """The stem and every cell (the stages AZ-NAS's proxies read)."""
        return [self.stem, *self.cells]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(torch.flatten(self.global_pooling(s1), 1))
