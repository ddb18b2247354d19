"""NAS-Bench-101 cell search space (Ying, Klein, Real, Christiansen, Murphy & Hutter, ICML 2019).

A cell is a DAG of at most 7 vertices and 9 edges given as an upper-triangular
adjacency matrix plus one op per vertex: vertex 0 is the ``input``, the last
vertex the ``output`` and the others ``conv3x3-bn-relu``, ``conv1x1-bn-relu``
or ``maxpool3x3``. The benchmark prunes vertices that lie on no input->output
path before it hashes or builds a cell. archscore keeps the spec as given
(NASLib's keys, and so NAS-Bench-Suite-Zero's records, are unpruned 7-vertex
specs: 289 keys of the development file are 192 distinct pruned cells, with
separately measured scores), so the :class:`~archscore.arch.Arch` of a cell
is the vertex DAG as given (ops on nodes, nodes ``0..n-1`` in matrix order);
:meth:`NB101Space.pruned_spec`, :meth:`NB101Space.prune` and
:meth:`NB101Space.hash` give the benchmark's pruned view, and
:meth:`NB101Space.build` builds the pruned cell (dead vertices compute
nothing). Isomorphic cells share :meth:`NB101Space.hash`.

Strings
-------
* NASLib's compact key (the keys of NAS-Bench-Suite-Zero's files): the
  ``n x n`` matrix flattened row by row, then ``n`` op codes
  (0 ``input``, 1 ``output``, 2 ``maxpool3x3``, 3 ``conv1x1-bn-relu``,
  4 ``conv3x3-bn-relu``), e.g. ``"(0, 1, 1, ..., 0, 2, 2, 4, 4, 4, 1)"``.
  :meth:`NB101Space.to_naslib` writes it (for the pruned spec).
* archscore's own string, :meth:`NB101Space.to_string`: matrix rows as bit
  strings, then the ops, ``"0110000,0001000,...|input,conv3x3-bn-relu,...,output"``.

Network (:meth:`NB101Space.build`): the benchmark's CIFAR-10 model as NASLib
builds it (NASBench-PyTorch): a 3x3 conv-BN-ReLU stem with 128 channels, three
stacks of three cells with 2x2 max-pool downsampling and channel doubling
between stacks, global average pooling and a linear classifier. Inside a cell
the output channels are split evenly over the vertices that feed the output
(the remainder goes to the first ones), other vertices take the largest
channel count of their successors, edges from the cell input are 1x1
conv-BN-ReLU projections, edges between vertices truncate channels, the
output concatenates its inputs and adds a projection of the cell input when
the input feeds the output directly.

Initialisation (``init``): ``"naslib"`` (the default) draws the weights as
NASBench-PyTorch's network does, and so as the network NASLib scored for
NAS-Bench-Suite-Zero: convolution weights from ``N(0, 2 / (k * k * C_out))``,
BatchNorm scale 1 and shift 0, the classifier's weights from ``N(0, 0.01^2)``
and its bias 0. ``"torch"`` keeps PyTorch's default initialisation. The
original TensorFlow benchmark trained from TensorFlow's own initialisers;
neither choice changes the architecture or its parameter count, only the
untrained weights that zero-cost proxies see.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import networkx as nx
import numpy as np
import torch
from torch import nn

from archscore.arch import INPUT_OP, OUTPUT_OP, Arch
from archscore.registry import unknown_choice_error
from archscore.spaces.base import SearchSpace

CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"
NB101_OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)
#: NASLib's op codes in compact keys (index = code).
NASLIB_NB101_CODES: tuple[str, ...] = (INPUT_OP, OUTPUT_OP, MAXPOOL3X3, CONV1X1, CONV3X3)
MAX_VERTICES = 7
MAX_EDGES = 9
#: Weight initialisations of :meth:`NB101Space.build` (see the module docstring).
NB101_INITS: tuple[str, ...] = ("naslib", "torch")
_NASLIB_FORM = ("NASLib's NB101 key: an n x n adjacency matrix flattened row by row, then n op codes "
                "(0 input, 1 output, 2 maxpool3x3, 3 conv1x1-bn-relu, 4 conv3x3-bn-relu), n <= 7, "
                "e.g. '(0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4, 1)'")
_OWN_FORM = ("'row0,row1,...|op0,op1,...' with each row a bit string of the upper-triangular adjacency "
             "matrix and ops input, conv3x3-bn-relu/conv1x1-bn-relu/maxpool3x3..., output")


def _prune(matrix: np.ndarray, ops: list[str]) -> tuple[np.ndarray, list[str]]:
    """Drop vertices on no input->output path (the benchmark's ``ModelSpec`` pruning)."""
    n = len(ops)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(*np.nonzero(matrix)))
    reach_in = nx.descendants(g, 0) | {0}
    reach_out = nx.ancestors(g, n - 1) | {n - 1}
    keep = sorted(reach_in & reach_out)
    if n - 1 not in reach_in:
        raise ValueError("NB101 cell has no path from the input to the output vertex")
    return matrix[np.ix_(keep, keep)], [ops[i] for i in keep]


def check_spec(matrix: Sequence[Sequence[int]] | np.ndarray, ops: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Validate an NB101 spec and return the pruned ``(matrix, ops)``.

    Raises a ``ValueError`` naming the problem: a non-square or non-0/1
    matrix, more than 7 vertices or 9 edges, an edge that is not strictly
    upper-triangular (the matrix must be a DAG in vertex order), ops that are
    not ``input``, NB101 ops..., ``output``, or no input->output path. Edges
    are counted after pruning, as the benchmark does.
    """
    m = np.asarray(matrix)
    ops = list(ops)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"NB101 adjacency matrix must be square, got shape {m.shape}")
    n = m.shape[0]
    if not np.isin(m, (0, 1)).all():
        raise ValueError(f"NB101 adjacency matrix entries must be 0 or 1, got values {sorted(set(m.ravel().tolist()))}")
    m = m.astype(int)
    if len(ops) != n:
        raise ValueError(f"NB101 spec has a {n}x{n} matrix but {len(ops)} ops")
    if n < 2:
        raise ValueError(f"an NB101 cell needs at least the input and output vertices, got {n} vertex(es)")
    if n > MAX_VERTICES:
        raise ValueError(f"NB101 cell has {n} vertices; the space allows at most {MAX_VERTICES}")
    below = np.tril(m)
    if below.any():
        i, j = map(int, np.argwhere(below)[0])
        raise ValueError(f"NB101 adjacency matrix must be strictly upper-triangular (a DAG in vertex order); "
                         f"found edge {i}->{j}")
    if ops[0] != INPUT_OP or ops[-1] != OUTPUT_OP:
        raise ValueError(f"NB101 ops must start with {INPUT_OP!r} and end with {OUTPUT_OP!r}, got {ops}")
    for op in ops[1:-1]:
        if op not in NB101_OPS:
            raise unknown_choice_error("NB101 op", op, NB101_OPS)
    m, ops = _prune(m, ops)
    edges = int(m.sum())
    if edges > MAX_EDGES:
        # the benchmark counts edges of the pruned spec (NASLib's keys often carry more, on dead vertices)
        raise ValueError(f"NB101 cell has {edges} edges after pruning vertices off every input->output path; "
                         f"the space allows at most {MAX_EDGES}")
    return m, ops


def nb101_hash(matrix: np.ndarray, ops: Sequence[str]) -> str:
    """The benchmark's module hash (iterated MD5 over in/out degrees and op labels).

    Isomorphic cells get the same hash. ``matrix``/``ops`` should be the
    pruned spec, as in the benchmark.
    """
    m = np.asarray(matrix, dtype=int)
    n = m.shape[0]
    labels = [-1] + [NB101_OPS.index(op) for op in ops[1:-1]] + [-2]
    ins, outs = m.sum(axis=0).tolist(), m.sum(axis=1).tolist()
    hashes = [hashlib.md5(str((o, i, lab)).encode("utf-8")).hexdigest() for o, i, lab in zip(outs, ins, labels)]
    for _ in range(n):
        hashes = [
            hashlib.md5(("".join(sorted(hashes[w] for w in range(n) if m[w, v])) + "|"
                         + "".join(sorted(hashes[w] for w in range(n) if m[v, w])) + "|" + hashes[v]).encode("utf-8")).hexdigest()
            for v in range(n)
        ]
    return hashlib.md5(str(sorted(hashes)).encode("utf-8")).hexdigest()


class NB101Space(SearchSpace):
    """NAS-Bench-101: cells of <= 7 vertices and <= 9 edges, 3 ops (423,624 unique cells).

    Parameters
    ----------
    stem_channels : int, default=128
        Channels of the stem (the benchmark: 128; each stack doubles them).
    num_stacks : int, default=3
    cells_per_stack : int, default=3
        Smaller values build tiny networks for tests; they are then no longer
        the benchmark's network.
    init : {"naslib", "torch"}, default="naslib"
        How :meth:`build` initialises the weights: as the network NASLib scored
        (NASBench-PyTorch's rule, see the module docstring) or PyTorch's default.
    """

    name = "nb101"
    ops = NB101_OPS

    def __init__(self, stem_channels: int = 128, num_stacks: int = 3, cells_per_stack: int = 3, init: str = "naslib") -> None:
        if init not in NB101_INITS:
            raise unknown_choice_error("NB101 init", init, NB101_INITS)
        self.init = init
        for label, v in (("stem_channels", stem_channels), ("num_stacks", num_stacks), ("cells_per_stack", cells_per_stack)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"NB101 option {label} must be a positive integer, got {v!r}")
        self.stem_channels = int(stem_channels)
        self.num_stacks = int(num_stacks)
        self.cells_per_stack = int(cells_per_stack)

    # ------------------------------------------------------------- specs
    def from_spec(self, matrix, ops, prune: bool = False) -> Arch:
        """An :class:`Arch` from an adjacency matrix and op list (validated; pruned when ``prune``)."""
        pm, pops = check_spec(matrix, ops)
        m, ops = (pm, pops) if prune else (np.asarray(matrix).astype(int), list(ops))
        g = nx.DiGraph()
        for i, op in enumerate(ops):
            g.add_node(i, op=op)
        g.add_edges_from((int(i), int(j)) for i, j in zip(*np.nonzero(m)))
        return Arch(g, self.name)

    def spec(self, arch: Arch) -> tuple[np.ndarray, list[str]]:
        """The ``(matrix, ops)`` of ``arch`` as stored (possibly with dead vertices)."""
        self.check_arch(arch)
        g = arch.graph
        n = g.number_of_nodes()
        if set(g.nodes) != set(range(n)):
            raise ValueError(f"an nb101 Arch has nodes 0..n-1 in matrix order, got {sorted(g.nodes, key=str)}")
        m = np.zeros((n, n), dtype=int)
        for u, v in g.edges:
            m[u, v] = 1
        ops = [g.nodes[i]["op"] for i in range(n)]
        check_spec(m, ops)
        return m, ops

    def pruned_spec(self, arch: Arch) -> tuple[np.ndarray, list[str]]:
        """The benchmark's pruned ``(matrix, ops)``: vertices on no input->output path removed."""
        return check_spec(*self.spec(arch))

    def prune(self, arch: Arch) -> Arch:
        """``arch`` with its dead vertices removed (the cell the benchmark hashes and builds)."""
        return self.from_spec(*self.pruned_spec(arch))

    def hash(self, arch: Arch) -> str:
        """The benchmark's hash of ``arch`` (see :func:`nb101_hash`), equal for isomorphic cells."""
        return nb101_hash(*self.pruned_spec(arch))

    # ----------------------------------------------------------- strings
    def from_string(self, s: str) -> Arch:
        """Parse NASLib's compact key or archscore's own string (see the module docstring)."""
        if not isinstance(s, str):
            raise TypeError(f"NB101 string must be a str, got {type(s).__name__}")
        if "|" in s:
            return self._from_own(s)
        return self.from_naslib(s)

    def from_naslib(self, key: str | Sequence[int]) -> Arch:
        """Parse NASLib's compact key (a string or a sequence of ints)."""
        if isinstance(key, str):
            body = key.strip()
            if not re.fullmatch(r"[\(\[]?\s*-?\d+(\s*,\s*-?\d+)*\s*,?\s*[\)\]]?", body):
                raise ValueError(f"malformed NB101 key {key!r}; expected {_NASLIB_FORM}")
            vals = [int(t) for t in re.findall(r"-?\d+", body)]
        else:
            vals = [int(v) for v in key]
        n = int(round((-1 + np.sqrt(1 + 4 * len(vals))) / 2))
        if n * n + n != len(vals):
            raise ValueError(f"NB101 key {key!r} has {len(vals)} numbers; expected n*n + n for n <= {MAX_VERTICES}: {_NASLIB_FORM}")
        codes = vals[n * n:]
        bad = [c for c in codes if not 0 <= c < len(NASLIB_NB101_CODES)]
        if bad:
            raise ValueError(f"NB101 key {key!r} has op code {bad[0]} out of range 0..{len(NASLIB_NB101_CODES) - 1}: {_NASLIB_FORM}")
        return self.from_spec(np.array(vals[: n * n]).reshape(n, n), [NASLIB_NB101_CODES[c] for c in codes])

    def to_naslib(self, arch: Arch) -> str:
        """NASLib's compact key of the spec as stored, as a tuple string."""
        m, ops = self.spec(arch)
        return str(tuple(int(v) for v in [*m.ravel(), *(NASLIB_NB101_CODES.index(o) for o in ops)]))

    def _from_own(self, s: str) -> Arch:
        if s.count("|") != 1:
            raise ValueError(f"malformed NB101 string {s!r}; expected {_OWN_FORM}")
        rows, ops = s.split("|")
        rows = [r.strip() for r in rows.split(",")]
        if any(not re.fullmatch(r"[01]+", r) for r in rows):
            raise ValueError(f"malformed adjacency rows in NB101 string {s!r}; expected {_OWN_FORM}")
        if any(len(r) != len(rows) for r in rows):
            raise ValueError(f"NB101 string {s!r} has {len(rows)} rows that are not all {len(rows)} bits long; expected {_OWN_FORM}")
        return self.from_spec(np.array([[int(c) for c in r] for r in rows]), [o.strip() for o in ops.split(",")])

    def to_string(self, arch: Arch) -> str:
        m, ops = self.spec(arch)
        return ",".join("".join(str(int(v)) for v in row) for row in m) + "|" + ",".join(ops)

    # ---------------------------------------------------------- sampling
    def sample(self, n: int, seed: int | None = 0) -> list[Arch]:
        """``n`` cells with distinct benchmark hashes: random 7-vertex specs (invalid ones rejected), pruned."""
        n = self._check_sample_size(n)
        rng = np.random.default_rng(seed)
        out, seen = [], set()
        while len(out) < n:
            m = np.triu(rng.integers(0, 2, size=(MAX_VERTICES, MAX_VERTICES)), 1)
            ops = [INPUT_OP] + [NB101_OPS[k] for k in rng.integers(len(NB101_OPS), size=MAX_VERTICES - 2)] + [OUTPUT_OP]
            try:
                arch = self.from_spec(m, ops, prune=True)
            except ValueError:
                continue
            h = self.hash(arch)
            if h not in seen:
                seen.add(h)
                out.append(arch)
        return out

    def mutate(self, arch: Arch, rng: np.random.Generator | int | None = None) -> Arch:
        """A valid pruned cell one edit away (another hash): flip one edge of the 7-vertex matrix or change one op."""
        m, ops = self.pruned_spec(arch)
        rng = np.random.default_rng(rng)
        k = len(ops)
        full = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=int)
        full[:k - 1, :k - 1] = m[:k - 1, :k - 1]
        full[:k - 1, MAX_VERTICES - 1] = m[:k - 1, k - 1]
        full_ops = ops[:-1] + [CONV3X3] * (MAX_VERTICES - k) + [OUTPUT_OP]
        h0 = self.hash(arch)
        pairs = [(i, j) for i in range(MAX_VERTICES) for j in range(i + 1, MAX_VERTICES)]
        for _ in range(1000):
            m2, ops2 = full.copy(), list(full_ops)
            if rng.random() < 0.5:
                i, j = pairs[int(rng.integers(len(pairs)))]
                m2[i, j] = 1 - m2[i, j]
            else:
                v = int(rng.integers(1, MAX_VERTICES - 1))
                ops2[v] = [o for o in NB101_OPS if o != ops2[v]][int(rng.integers(len(NB101_OPS) - 1))]
            try:
                child = self.from_spec(m2, ops2, prune=True)
            except ValueError:
                continue
            if self.hash(child) != h0:
                return child
        raise ValueError(f"could not find a valid mutation of {self.to_string(arch)!r}")  # pragma: no cover

    # -------------------------------------------------------------- model
    def build(self, arch: Arch, num_classes: int = 10):
        """The benchmark's untrained network for ``arch`` (weights drawn as ``init`` says)."""
        num_classes = self._check_num_classes(num_classes)
        m, ops = self.pruned_spec(arch)
        net = NB101Network(m, ops, stem_channels=self.stem_channels, num_stacks=self.num_stacks,
                           cells_per_stack=self.cells_per_stack, num_classes=num_classes)
        if self.init == "naslib":
            naslib_init(net)
        return net


def naslib_init(net: nn.Module) -> nn.Module:
    """Draw ``net``'s weights as NASBench-PyTorch's NAS-Bench-101 network does (in place; returns ``net``).

    Convolutions ``N(0, 2 / (k_h * k_w * C_out))`` (He's rule over the fan-out),
    bias 0; BatchNorm scale 1, shift 0; linear layers ``N(0, 0.01^2)``, bias 0.
    Uses the global torch RNG, in module order.
    """
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, nn.Conv2d):
                fan_out = mod.kernel_size[0] * mod.kernel_size[1] * mod.out_channels
                mod.weight.normal_(0.0, (2.0 / fan_out) ** 0.5)
                if mod.bias is not None:
                    mod.bias.zero_()
            elif isinstance(mod, nn.BatchNorm2d):
                mod.weight.fill_(1.0)
                mod.bias.zero_()
            elif isinstance(mod, nn.Linear):
                mod.weight.normal_(0.0, 0.01)
                mod.bias.zero_()
    return net


def vertex_channels(in_channels: int, out_channels: int, matrix: np.ndarray) -> list[int]:
    """Channels of each vertex of a cell (the benchmark's splitting rule, see the module docstring)."""
    n = matrix.shape[0]
    ch = [0] * n
    ch[0], ch[-1] = in_channels, out_channels
    if n == 2:
        return ch
    feeding = int(matrix[1:, n - 1].sum())
    base, extra = divmod(out_channels, feeding)
    for v in range(1, n - 1):
        if matrix[v, n - 1]:
            ch[v] = base + (1 if extra > 0 else 0)
            extra -= 1 if extra > 0 else 0
    for v in range(n - 3, 0, -1):
        if not matrix[v, n - 1]:
            for dst in range(v + 1, n - 1):
                if matrix[v, dst]:
                    ch[v] = max(ch[v], ch[dst])
    return ch


# ----------------------------------------------------------------- modules
class ConvBnRelu(nn.Sequential):
    """Conv (no bias, 'same' padding) -> BatchNorm -> ReLU, the benchmark's conv unit."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


def _vertex_op(op: str, c: int) -> nn.Module:
    if op == CONV3X3:
        return ConvBnRelu(c, c, 3)
    if op == CONV1X1:
        return ConvBnRelu(c, c, 1)
    if op == MAXPOOL3X3:
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise unknown_choice_error("NB101 op", op, NB101_OPS)


class NB101Cell(nn.Module):
    """One NB101 cell for a pruned spec (channel rules in the module docstring)."""

    def __init__(self, matrix: np.ndarray, ops: list[str], c_in: int, c_out: int) -> None:
        super().__init__()
        self.matrix = np.asarray(matrix, dtype=int)
        n = self.matrix.shape[0]
        self.channels = vertex_channels(c_in, c_out, self.matrix)
        self.vertex_ops = nn.ModuleList([nn.Identity()] + [_vertex_op(op, self.channels[v]) for v, op in enumerate(ops[1:-1], 1)])
        # projections of the cell input, for every vertex the input feeds (the output included)
        self.projections = nn.ModuleDict({
            str(v): ConvBnRelu(c_in, self.channels[v], 1) for v in range(1, n) if self.matrix[0, v]
        })

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.matrix.shape[0]
        states = [x]
        for v in range(1, n - 1):
            terms = [states[u][:, : self.channels[v]] for u in range(1, v) if self.matrix[u, v]]
            if self.matrix[0, v]:
                terms.append(self.projections[str(v)](x))
            states.append(self.vertex_ops[v](sum(terms)))
        feeding = [states[u] for u in range(1, n - 1) if self.matrix[u, n - 1]]
        out = torch.cat(feeding, dim=1) if feeding else None
        if self.matrix[0, n - 1]:
            proj = self.projections[str(n - 1)](x)
            out = proj if out is None else out + proj
        return out


class NB101Network(nn.Module):
    """The NAS-Bench-101 CIFAR network around one cell spec."""

    def __init__(self, matrix: np.ndarray, ops: list[str], stem_channels: int = 128, num_stacks: int = 3,
                 cells_per_stack: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBnRelu(3, stem_channels, 3)]
        c_in = c_out = stem_channels
        for stack in range(num_stacks):
            if stack > 0:
                layers.append(nn.MaxPool2d(2, stride=2))
                c_out *= 2
            for _ in range(cells_per_stack):
                layers.append(NB101Cell(matrix, ops, c_in, c_out))
                c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_out, num_classes)

    def feature_stages(self) -> list[nn.Module]:
        """The stem and every cell, not the max-pools between stacks (the stages AZ-NAS's proxies read)."""
        return [self.layers[0]] + [m for m in self.layers if isinstance(m, NB101Cell)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(x)
        return self.classifier(torch.flatten(torch.mean(x, dim=(2, 3), keepdim=True), 1))
