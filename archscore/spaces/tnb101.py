"""TransNAS-Bench-101 cell (micro) and macro search spaces (Duan et al., CVPR 2021).

Micro: one cell of 4 tensor nodes and 6 edges, each edge one of ``none``
(code 0), ``skip_connect`` (1), ``nor_conv_1x1`` (2), ``nor_conv_3x3`` (3),
inside a fixed ResNet-like skeleton ``64-41414``. The benchmark writes a cell
``"64-41414-a_bc_def"``: node 1's edge from node 0, node 2's from nodes 0, 1,
node 3's from nodes 0, 1, 2. NASLib's key (NAS-Bench-Suite-Zero's files) is
the tuple of the same six codes in the same order, ``"(1, 0, 0, 2, 1, 0)"``;
NASLib builds the network it scores from exactly that string (its
``convert_naslib_to_transbench101_micro``), which the recorded parameter
counts confirm. As an :class:`~archscore.arch.Arch` the micro cell has the
NB201 layout: op nodes 1..6 in string order, ``input`` 0, ``output`` 7.

Macro: 4 to 6 modules of two ResNet basic blocks, each module coded 1 (keep
resolution and channels), 2 (double channels), 3 (halve resolution) or
4 (both); at least one and at most four modules downsample, one to three
double the channels (3,256 networks). Benchmark string ``"64-1234-basic"``;
NASLib's key pads the codes with zeros to six, ``"(1, 2, 4, 2, 0, 0)"``. As an
``Arch``: a chain ``input -> module ops -> output``.

:meth:`build` gives the benchmark's network for a task: the encoder (stem:
3x3 stride-2 conv to 32 channels + BN, ReLU-conv3x3(stride 2)-BN to 64,
then the modules) with the task's head. Heads built: ``class_scene`` (63
classes), ``class_object`` (100), ``room_layout`` (9 outputs), all global
pooling + linear, and ``jigsaw`` (a Siamese encoder over 9 tiles, input
``(N, 9, 3, H, W)``, concatenated pooled features -> linear to 1000
permutations). The dense-prediction heads (autoencoder, normal,
segmentsemantic) are not built.
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

TNB101_TASKS: tuple[str, ...] = ("class_scene", "class_object", "jigsaw", "room_layout", "segmentsemantic", "normal",
                                 "autoencoder")
#: Output size of the heads :meth:`build` knows.
TNB101_HEADS: dict[str, int] = {"class_scene": 63, "class_object": 100, "room_layout": 9, "jigsaw": 1000}
TNB101_MICRO_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
TNB101_MACRO_OPS: tuple[str, ...] = ("basic", "basic_wide", "basic_down", "basic_down_wide")
#: (source, target) tensor-node pairs in the benchmark string's edge order.
MICRO_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
BASE_CHANNELS = 64
MICRO_MACRO_CODE = "41414"
_MICRO_FORM = ("TransNAS-Bench-101 micro: NASLib's key, a tuple of 6 op codes in 0..3 like '(1, 0, 0, 2, 1, 0)', or the "
               "benchmark string '64-41414-a_bc_def' (codes 0 none, 1 skip_connect, 2 nor_conv_1x1, 3 nor_conv_3x3)")
_MACRO_FORM = ("TransNAS-Bench-101 macro: NASLib's key, a tuple of 6 module codes in 0..4 with the 4-6 nonzero codes first "
               "like '(1, 2, 4, 2, 0, 0)', or the benchmark string '64-1242-basic' (codes 1 plain, 2 double channels, "
               "3 downsample, 4 both; 1-4 downsampling and 1-3 widening modules)")


def _digits(s: str, form: str) -> list[int]:
    body = s.strip()
    if not re.fullmatch(r"[\(\[]\s*-?\d+(\s*,\s*-?\d+)*\s*,?\s*[\)\]]", body):
        raise ValueError(f"malformed key {s!r}; expected {form}")
    return [int(t) for t in re.findall(r"-?\d+", body)]


def _micro_template() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_node(0, op=INPUT_OP)
    g.add_node(len(MICRO_EDGES) + 1, op=OUTPUT_OP)
    node_of = {e: i + 1 for i, e in enumerate(MICRO_EDGES)}
    for (src, dst), node in node_of.items():
        feeders = [0] if src == 0 else [node_of[e] for e in MICRO_EDGES if e[1] == src]
        for f in feeders:
            g.add_edge(f, node)
        if dst == 3:
            g.add_edge(node, len(MICRO_EDGES) + 1)
    return g


_MICRO_TEMPLATE = _micro_template()


def _check_task(task: str) -> str:
    if task not in TNB101_HEADS:
        if task in TNB101_TASKS:
            raise ValueError(f"TransNAS-Bench-101 task {task!r} needs a dense-prediction decoder that archscore does not build; "
                             f"build supports {', '.join(TNB101_HEADS)}")
        raise unknown_choice_error("TransNAS-Bench-101 task", task, tuple(TNB101_HEADS))
    return task


class _TNB101Base(SearchSpace):
    def __init__(self, task: str = "class_scene", base_channels: int = BASE_CHANNELS) -> None:
        if isinstance(base_channels, bool) or not isinstance(base_channels, (int, np.integer)) or base_channels < 2 or base_channels % 2:
            raise ValueError(f"base_channels must be an even integer >= 2, got {base_channels!r}")
        self.task = task
        self.base_channels = int(base_channels)

    def _codes(self, arch: Arch) -> tuple[str, str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def build(self, arch: Arch, num_classes: int | None = None, task: str | None = None) -> nn.Module:
        """The benchmark's network for ``task`` (default: the space's ``task``).

        ``num_classes`` overrides the head's output size (default: the task's).
        """
        task = _check_task(self.task if task is None else task)
        n_out = TNB101_HEADS[task] if num_classes is None else self._check_num_classes(num_classes)
        macro, micro = self._codes(arch)
        encoder = TNB101Encoder(macro, micro, self.base_channels)
        if task == "jigsaw":
            return JigsawNet(encoder, n_out)
        return ClassifierNet(encoder, n_out)


class TNB101MicroSpace(_TNB101Base):
    """TransNAS-Bench-101 cell-level space: 4 ops on 6 edges (4,096 cells).

    Parameters
    ----------
    task : str, default="class_scene"
        Task whose head :meth:`build` attaches by default.
    base_channels : int, default=64
        Stem width (the benchmark: 64); smaller values build tiny networks.
    """

    name = "tnb101_micro"
    ops = TNB101_MICRO_OPS

    def from_codes(self, codes: Sequence[int]) -> Arch:
        """An :class:`Arch` from six op codes in the benchmark string's order."""
        codes = [int(c) for c in codes]
        if len(codes) != len(MICRO_EDGES):
            raise ValueError(f"a TransNAS-Bench-101 micro cell has 6 op codes, got {len(codes)} ({codes}); expected {_MICRO_FORM}")
        for c in codes:
            if not 0 <= c < len(TNB101_MICRO_OPS):
                raise ValueError(f"TransNAS-Bench-101 micro op code {c} is out of range 0..3; expected {_MICRO_FORM}")
        g = _MICRO_TEMPLATE.copy()
        for i, c in enumerate(codes, start=1):
            g.nodes[i]["op"] = TNB101_MICRO_OPS[c]
        return Arch(g, self.name)

    def codes(self, arch: Arch) -> list[int]:
        """The six op codes of ``arch``."""
        self.check_arch(arch)
        g = arch.graph
        if set(g.edges) != set(_MICRO_TEMPLATE.edges):
            raise ValueError("architecture is labelled tnb101_micro but its graph is not the micro cell template")
        ops = [g.nodes[i]["op"] for i in range(1, len(MICRO_EDGES) + 1)]
        for op in ops:
            if op not in TNB101_MICRO_OPS:
                raise unknown_choice_error("TransNAS-Bench-101 micro op", op, TNB101_MICRO_OPS)
        return [TNB101_MICRO_OPS.index(op) for op in ops]

    def from_string(self, s: str) -> Arch:
        if not isinstance(s, str):
            raise TypeError(f"TransNAS-Bench-101 string must be a str, got {type(s).__name__}")
        m = re.fullmatch(r"\s*(\d+)-(\d+)-(\d)_(\d\d)_(\d\d\d)\s*", s)
        if m:
            if m.group(2) != MICRO_MACRO_CODE:
                raise ValueError(f"TransNAS-Bench-101 micro string {s!r} has skeleton {m.group(2)!r}; the micro space uses {MICRO_MACRO_CODE!r}")
            return self.from_codes([int(c) for c in "".join(m.group(3, 4, 5))])
        if "-" in s:
            raise ValueError(f"malformed TransNAS-Bench-101 micro string {s!r}; expected {_MICRO_FORM}")
        return self.from_codes(_digits(s, _MICRO_FORM))

    def to_string(self, arch: Arch) -> str:
        c = "".join(map(str, self.codes(arch)))
        return f"{self.base_channels if self.base_channels == BASE_CHANNELS else BASE_CHANNELS}-{MICRO_MACRO_CODE}-{c[0]}_{c[1:3]}_{c[3:]}"

    def to_naslib(self, arch: Arch) -> str:
        """NASLib's key, e.g. ``"(1, 0, 0, 2, 1, 0)"``."""
        return str(tuple(self.codes(arch)))

    def enumerate(self):
        for i in range(len(TNB101_MICRO_OPS) ** len(MICRO_EDGES)):
            yield self.from_codes([int(d) for d in np.base_repr(i, 4).zfill(6)])

    def sample(self, n: int, seed: int | None = 0) -> list[Arch]:
        """``n`` distinct cells drawn uniformly without replacement."""
        n = self._check_sample_size(n, 4 ** 6)
        rng = np.random.default_rng(seed)
        return [self.from_codes([int(d) for d in np.base_repr(int(i), 4).zfill(6)]) for i in rng.choice(4 ** 6, n, replace=False)]

    def _codes(self, arch: Arch) -> tuple[str, list[int]]:
        return MICRO_MACRO_CODE, self.codes(arch)


class TNB101MacroSpace(_TNB101Base):
    """TransNAS-Bench-101 macro-level space: 4-6 residual modules with coded downsampling/widening (3,256 networks)."""

    name = "tnb101_macro"
    ops = TNB101_MACRO_OPS

    @staticmethod
    def _check_codes(codes: Sequence[int]) -> list[int]:
        codes = [int(c) for c in codes]
        if not 4 <= len(codes) <= 6:
            raise ValueError(f"a TransNAS-Bench-101 macro network has 4 to 6 modules, got {len(codes)} ({codes}); expected {_MACRO_FORM}")
        for c in codes:
            if not 1 <= c <= 4:
                raise ValueError(f"TransNAS-Bench-101 macro module code {c} is out of range 1..4; expected {_MACRO_FORM}")
        down = sum(c > 2 for c in codes)
        wide = sum(c % 2 == 0 for c in codes)
        if not 1 <= down <= 4 or not 1 <= wide <= 3:
            raise ValueError(f"TransNAS-Bench-101 macro codes {codes} have {down} downsampling and {wide} widening modules; "
                             f"the space needs 1-4 and 1-3")
        return codes

    def from_codes(self, codes: Sequence[int]) -> Arch:
        """An :class:`Arch` from 4-6 module codes in 1..4."""
        codes = self._check_codes(codes)
        g = nx.DiGraph()
        g.add_node(0, op=INPUT_OP)
        for i, c in enumerate(codes, start=1):
            g.add_node(i, op=TNB101_MACRO_OPS[c - 1])
            g.add_edge(i - 1, i)
        g.add_node(len(codes) + 1, op=OUTPUT_OP)
        g.add_edge(len(codes), len(codes) + 1)
        return Arch(g, self.name)

    def codes(self, arch: Arch) -> list[int]:
        self.check_arch(arch)
        g = arch.graph
        order = arch.topological_order
        if any(g.out_degree(n) > 1 or g.in_degree(n) > 1 for n in g) or order[0] != arch.input_node:
            raise ValueError("architecture is labelled tnb101_macro but is not a chain of modules")
        ops = [g.nodes[n]["op"] for n in order[1:-1]]
        for op in ops:
            if op not in TNB101_MACRO_OPS:
                raise unknown_choice_error("TransNAS-Bench-101 macro module", op, TNB101_MACRO_OPS)
        return self._check_codes([TNB101_MACRO_OPS.index(op) + 1 for op in ops])

    def from_string(self, s: str) -> Arch:
        if not isinstance(s, str):
            raise TypeError(f"TransNAS-Bench-101 string must be a str, got {type(s).__name__}")
        m = re.fullmatch(r"\s*(\d+)-(\d+)-basic\s*", s)
        if m:
            return self.from_codes([int(c) for c in m.group(2)])
        if "-" in s:
            raise ValueError(f"malformed TransNAS-Bench-101 macro string {s!r}; expected {_MACRO_FORM}")
        vals = _digits(s, _MACRO_FORM)
        if len(vals) != 6:
            raise ValueError(f"NASLib's TransNAS-Bench-101 macro key {s!r} has {len(vals)} codes; expected {_MACRO_FORM}")
        k = sum(v != 0 for v in vals)
        if any(v == 0 for v in vals[:k]):
            raise ValueError(f"NASLib's TransNAS-Bench-101 macro key {s!r} has a 0 (no module) before a module; expected {_MACRO_FORM}")
        return self.from_codes(vals[:k])

    def to_string(self, arch: Arch) -> str:
        return f"{BASE_CHANNELS}-{''.join(map(str, self.codes(arch)))}-basic"

    def to_naslib(self, arch: Arch) -> str:
        c = self.codes(arch)
        return str(tuple(c + [0] * (6 - len(c))))

    def _all_codes(self) -> list[list[int]]:
        import itertools

        out = []
        for k in (4, 5, 6):
            for codes in itertools.product((1, 2, 3, 4), repeat=k):
                try:
                    out.append(self._check_codes(codes))
                except ValueError:
                    pass
        return out

    def enumerate(self):
        for codes in self._all_codes():
            yield self.from_codes(codes)

    def sample(self, n: int, seed: int | None = 0) -> list[Arch]:
        """``n`` distinct networks drawn uniformly without replacement from the 3,256."""
        allc = self._all_codes()
        n = self._check_sample_size(n, len(allc))
        rng = np.random.default_rng(seed)
        return [self.from_codes(allc[int(i)]) for i in rng.choice(len(allc), n, replace=False)]

    def mutate(self, arch: Arch, rng: np.random.Generator | int | None = None) -> Arch:
        """Change one module's code (keeping the space's constraints), or add/remove a trailing plain module."""
        codes = self.codes(arch)
        rng = np.random.default_rng(rng)
        for _ in range(1000):
            new = list(codes)
            r = rng.random()
            if r < 0.8:
                k = int(rng.integers(len(new)))
                new[k] = [c for c in (1, 2, 3, 4) if c != new[k]][int(rng.integers(3))]
            elif len(new) < 6:
                new.insert(int(rng.integers(len(new) + 1)), 1)
            elif len(new) > 4 and 1 in new:
                new.remove(1)
            try:
                return self.from_codes(new)
            except ValueError:
                continue
        raise ValueError("could not mutate the architecture")  # pragma: no cover

    def _codes(self, arch: Arch) -> tuple[str, str]:
        return "".join(map(str, self.codes(arch))), "basic"


# ----------------------------------------------------------------- modules
class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out))


class FactorizedReduce(nn.Module):
    """Two 1x1 convs (the second on the input shifted by one pixel), C_out / 2 channels each, concatenated, BN."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.convs = nn.ModuleList([nn.Conv2d(c_in, c_out // 2, 1, stride, bias=False),
                                    nn.Conv2d(c_in, c_out - c_out // 2, 1, stride, bias=False)])
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        y = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](y)], dim=1))


class Zero(nn.Module):
    def __init__(self, c_out: int, stride: int) -> None:
        super().__init__()
        self.c_out, self.stride = c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        return x.new_zeros(n, self.c_out, (h + self.stride - 1) // self.stride, (w + self.stride - 1) // self.stride)


def _micro_op(code: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    if code == 0:
        return Zero(c_out, stride)
    if code == 1:
        return nn.Identity() if stride == 1 and c_in == c_out else FactorizedReduce(c_in, c_out, stride)
    if code == 2:
        return ReLUConvBN(c_in, c_out, 1, stride)
    return ReLUConvBN(c_in, c_out, 3, stride)


class MicroCell(nn.Module):
    """The micro cell: node j sums op(i->j)(node i); edges from the cell input carry the stride and channel change."""

    def __init__(self, codes: Sequence[int], c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(
            _micro_op(c, c_in, c_out, stride) if src == 0 else _micro_op(c, c_out, c_out, 1) for c, (src, _) in zip(codes, MICRO_EDGES)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in (1, 2, 3):
            nodes.append(sum(self.edges[k](nodes[s]) for k, (s, d) in enumerate(MICRO_EDGES) if d == node))
        return nodes[3]


class BasicBlock(nn.Module):
    """ResNet basic block: two ReLU-conv3x3-BN, shortcut 1x1 conv + BN when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = x if self.downsample is None else self.downsample(x)
        return res + self.conv_b(self.conv_a(x))


class TNB101Encoder(nn.Module):
    """The benchmark's backbone: stem (two stride-2 convs) then modules of two blocks each."""

    def __init__(self, macro: str, micro, base_channels: int = BASE_CHANNELS) -> None:
        super().__init__()
        c = base_channels
        self.stem = nn.Sequential(nn.Conv2d(3, c // 2, 3, 2, 1, bias=False), nn.BatchNorm2d(c // 2), ReLUConvBN(c // 2, c, 3, 2))
        layers = []
        for code in map(int, macro):
            c_out = 2 * c if code % 2 == 0 else c
            stride = 2 if code > 2 else 1
            for b in range(2):
                c_in, s = (c, stride) if b == 0 else (c_out, 1)
                layers.append(BasicBlock(c_in, c_out, s) if micro == "basic" else MicroCell(micro, c_in, c_out, s))
            c = c_out
        self.layers = nn.Sequential(*layers)
        self.out_channels = c

    def feature_stages(self) -> list[nn.Module]:
        """The stem and every cell or residual block (the stages AZ-NAS's proxies read)."""
        return [self.stem, *self.layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.stem(x))


class ClassifierNet(nn.Module):
    """Encoder + global average pooling + linear head (class_scene, class_object, room_layout)."""

    def __init__(self, encoder: TNB101Encoder, n_out: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.fc = nn.Linear(encoder.out_channels, n_out)

    def feature_stages(self) -> list[nn.Module]:
        """The encoder's stages (AZ-NAS's proxies read them)."""
        return self.encoder.feature_stages()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.encoder(x), 1), 1))


class JigsawNet(nn.Module):
    """Siamese encoder over the 9 tiles of a jigsaw input ``(N, 9, 3, H, W)``; pooled features concatenated -> linear."""

    def __init__(self, encoder: TNB101Encoder, n_out: int, pieces: int = 9) -> None:
        super().__init__()
        self.encoder = encoder
        self.pieces = pieces
        self.fc = nn.Linear(encoder.out_channels * pieces, n_out)

    def feature_stages(self) -> list[nn.Module]:
        """The encoder's stages (AZ-NAS's proxies read them)."""
        return self.encoder.feature_stages()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != self.pieces:
            raise ValueError(f"jigsaw input must have shape (N, {self.pieces}, C, H, W), got {tuple(x.shape)}")
        n = x.shape[0]
        feats = self.encoder(x.flatten(0, 1))
        feats = nn.functional.adaptive_avg_pool2d(feats, 1).view(n, -1)
        return self.fc(feats)
