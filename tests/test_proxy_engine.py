"""The proxy engine combines providers into the fewest passes; providers and proxies can be registered by users."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archscore import proxies as P
from archscore.proxies import PROVIDERS, PROXIES, Provider, register_provider, register_proxy

#: (batch size, grad enabled) of every forward of CountingNet, across deep copies.
FORWARDS: list[tuple[int, bool]] = []


class CountingNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        FORWARDS.append((int(x.shape[0]), torch.is_grad_enabled()))
        return self.body(x)


def _batch(n: int = 6):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)


def _forwards(names, split: int = 1) -> list[tuple[int, bool]]:
    torch.manual_seed(0)
    net, (x, y) = CountingNet(), _batch()
    FORWARDS.clear()
    P.compute(net, x, y, names, batch_split=split, nan_policy="ignore")  # meco is undefined on an MLP
    assert FORWARDS[0] == (2, False)  # the probe: two samples, no grad
    return FORWARDS[1:]


@pytest.mark.parametrize("names", [["grad_norm", "snip", "jacov", "nwot"], ["grad_norm", "snip", "plain", "grasp", "fisher", "jacov",
                                                                          "epe_nas", "nwot", "meco"]])
def test_one_forward_serves_every_provider(names):
    assert _forwards(names) == [(6, True)]


def test_hook_only_providers_get_one_forward_without_grad():
    assert _forwards(["nwot", "meco"]) == [(6, False)]
    assert _forwards(["params", "l2_norm"]) == []  # no provider: no pass at all


def test_split_batch_runs_chunks_and_a_separate_forward_for_hooks():
    # gradient providers: one forward per chunk; the hook-only provider does not ride on chunks
    assert _forwards(["grad_norm", "jacov", "nwot"], split=2) == [(3, True), (3, True), (6, False)]
    # GraSP with a split batch needs the full-batch gradient first, then its own second pass
    assert _forwards(["grasp"], split=2) == [(3, True), (3, True), (3, True), (3, True)]


def test_every_proxy_lives_in_the_module_named_after_it():
    for name in P.list_proxies():
        assert PROXIES.get(name).__module__ == f"archscore.proxies.{name}", name
    for name in P.list_providers():
        path = Path(P.__file__).parent / (PROVIDERS.get(name).__module__.rsplit(".", 1)[1] + ".py")
        assert path.is_file(), name


def test_proxies_package_has_no_import_cycle_and_no_local_package_imports():
    root = Path(P.__file__).parent
    graph: dict[str, set[str]] = {}
    for f in root.glob("*.py"):
        tree = ast.parse(f.read_text())
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("archscore.proxies"):
                mods = [node.module] if node.module != "archscore.proxies" else [f"archscore.proxies.{a.name}" for a in node.names]
                deps.update(m.rsplit(".", 1)[1] for m in mods)
                assert node.col_offset == 0, f"{f.name}:{node.lineno}: function-local import of {node.module}"
        graph[f.stem] = deps - {f.stem}
    graph["__init__"] = set()  # the package imports its modules; no module imports the package back
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == 1:
            raise AssertionError("import cycle: " + " -> ".join(path + [m]))
        if state.get(m) == 2 or m not in graph:
            return
        state[m] = 1
        for d in sorted(graph[m]):
            visit(d, path + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])


# ------------------------------------------------------------- registration
_META = dict(higher_is_better=True, needs_data=True, removes_bn=False, description="test", citation="none")


@pytest.fixture
def cleanup():
    names: list[tuple] = []
    yield names
    for registry, name in names:
        registry._entries.pop(name, None)


def test_user_proxy_reads_a_builtin_provider_by_name(cleanup):
    cleanup.append((PROXIES, "_test_sq_grads"))

    @register_proxy("_test_sq_grads", needs_labels=True, uses=("weight_grads",), **_META)
    def sq(session):
        return float(sum(float(g.pow(2).sum()) for g in session.shared("weight_grads")))

    torch.manual_seed(0)
    lin = nn.Linear(4, 3)
    x, y = _batch()
    r = P.compute(lin, x, y, ["_test_sq_grads", "grad_norm"])
    z = x @ lin.weight.detach().T + lin.bias.detach()
    G = ((torch.softmax(z, 1) - F.one_hot(y, 3).float()) / len(x)).T @ x  # d mean-CE / dW
    assert r["_test_sq_grads"] == pytest.approx(float(G.pow(2).sum()), rel=1e-5)
    assert r["grad_norm"] == pytest.approx(math.sqrt(r["_test_sq_grads"]), rel=1e-5)
    assert P.proxy_info("_test_sq_grads")["uses"] == ("weight_grads",)


def test_user_provider_rides_on_the_shared_forward(cleanup):
    cleanup += [(PROVIDERS, "_test_max_logit"), (PROXIES, "_test_max_logit")]

    @register_provider
    class MaxLogit(Provider):
        name = "_test_max_logit"
        description = "largest logit over the batch (forward hook on the model)"

        def hooks(self, model):
            self.value = -math.inf
            return [model.register_forward_hook(self._hook)]

        def _hook(self, mod, inp, out):
            self.value = max(self.value, float(out.detach().max()))

        def result(self):
            return self.value

    register_proxy("_test_max_logit", needs_labels=False, uses=(MaxLogit,), **_META)(lambda s: s.shared(MaxLogit))
    torch.manual_seed(0)
    net, (x, y) = CountingNet(), _batch()
    with torch.no_grad():
        expected = float(net(x).max())
    FORWARDS.clear()
    r = P.compute(net, x, y, ["_test_max_logit", "grad_norm", "jacov"])
    assert r["_test_max_logit"] == pytest.approx(expected, rel=1e-6)
    assert FORWARDS == [(2, False), (6, True)]


def test_unknown_provider_fails_at_registration(cleanup):
    with pytest.raises(ValueError, match=r"proxy '_test_bad' declares unknown provider 'weight_grad'.*known providers: .*weight_grads"):
        register_proxy("_test_bad", needs_labels=True, uses=("weight_grad",), **_META)

    class Unregistered(Provider):
        name = "_test_unregistered"

    with pytest.raises(ValueError, match="Unregistered, which is not registered; decorate it with @register_provider"):
        register_proxy("_test_bad", needs_labels=True, uses=(Unregistered,), **_META)
    with pytest.raises(ValueError, match=r"uses \['weight_grads'\].*needs_labels=True"):
        register_proxy("_test_bad", needs_labels=False, uses=("weight_grads",), **_META)
    with pytest.raises(TypeError, match="Provider subclass"):
        register_provider(object)
    assert "_test_bad" not in PROXIES


def test_reading_an_undeclared_provider_is_a_clear_error(cleanup):
    cleanup.append((PROXIES, "_test_sneaky"))
    register_proxy("_test_sneaky", needs_labels=True, uses=("jacobian",), **_META)(lambda s: s.shared("weight_grads"))
    with pytest.raises(ValueError, match="provider 'weight_grads' was not computed: declare it in the proxy's uses="):
        P.compute(nn.Linear(4, 3), *_batch(), ["_test_sneaky"])
