"""AZ-NAS (Lee & Ham, CVPR 2024): the provider ``az_stages`` behind its three proxies, and the per-stage maths.

AZ-NAS ("Assembling Zero-Cost Proxies for Network Architecture Search")
reads the feature maps a network produces at its *stages* (the stem and
every block or cell) after a Kaiming re-initialisation:

* **expressivity**: for every stage, the entropy of the normalised
  eigenvalue spectrum of the channel covariance of its features (positions
  and samples pooled); summed over the stages. A flat spectrum means the
  features use their channels isotropically.
* **progressivity**: the smallest increase of that entropy from one stage to
  the next (a network should grow more expressive with depth).
* **trainability**: for every pair of consecutive stages, the largest
  singular value ``s`` of the (position-averaged) Jacobian-vector outer
  product between them, scored ``-s - 1/s + 2`` (0 at ``s = 1``: gradients
  neither vanish nor explode across the stage); averaged over the pairs.

The fourth AZ-NAS component, complexity, is the ``flops`` proxy; AZ-NAS's
score is the log-rank aggregate of the four, which is
``create_estimator("zc:ensemble", proxies=AZ_NAS_PROXIES, anchor=None)``.

Which modules are stages (:func:`feature_stages`): the model's own
``feature_stages()`` method when it has one (every network archscore's
spaces build defines it: the stem and the cells, as in the authors' code);
else the qualified module names given as
``options={"az_expressivity": {"stages": [...]}}`` (under any of the three
proxies' names); else an automatic rule for any model (see :func:`feature_stages`).

The proxies (``az_expressivity.py``, ``az_progressivity.py``,
``az_trainability.py``) aggregate the per-stage quantities of ONE pass that
the provider :class:`AZStages` makes on a re-initialised working copy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from archscore.proxies.base import Provider, ProxyUndefinedError, register_provider

#: The proxies of AZ-NAS's score, in the paper's order (complexity is ``flops``).
AZ_NAS_PROXIES: tuple[str, ...] = ("az_expressivity", "az_progressivity", "az_trainability", "flops")

#: A stage pair through which the gradient passes unchanged (an identity stage). The reference scores the
#: network ``-inf``; a finite floor keeps the proxy defined and still ranks such networks last.
IDENTITY_STAGE_SCORE = -1e6

CITATION = "Lee & Ham, AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search, CVPR 2024"


def kaiming_fan_in_init(model: nn.Module) -> None:
    """AZ-NAS's default initialisation: Kaiming-normal fan-in conv/linear weights, zero biases, norm affine 1/0."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)) and m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


#: Activation modules that close a stage inside a run of plain layers (:func:`feature_stages`, rule 3).
ACTIVATIONS: tuple[type, ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
                                 nn.Mish, nn.Hardswish, nn.Sigmoid, nn.Tanh)


def _blocks_and_leaves(module: nn.Module) -> list[nn.Module]:
    """``module``'s children in order, ``nn.Sequential``/``nn.ModuleList`` containers opened recursively."""
    out: list[nn.Module] = []
    for child in module.children():
        if isinstance(child, (nn.Sequential, nn.ModuleList)):
            out.extend(_blocks_and_leaves(child))
        else:
            out.append(child)
    return out


def feature_stages(model: nn.Module, names: list[str] | None = None) -> list[nn.Module]:
    """The modules whose outputs are AZ-NAS's stage features.

    1. ``model.feature_stages()`` when the model defines it;
    2. else the modules named in ``names`` (qualified names, as in ``model.named_modules()``);
    3. else automatically: the model's children, ``nn.Sequential`` and
       ``nn.ModuleList`` containers opened recursively, give a list of
       *blocks* (modules with children of their own: a residual block, a
       cell) and plain layers. Every block is a stage; in a run of plain
       layers a stage ends after each activation module (:data:`ACTIVATIONS`)
       and at the end of the run, so ``conv-BN-ReLU`` is one stage and a
       torchvision ResNet's stem gives two (``relu``, ``maxpool``). Which of
       these produce stage features is decided on the forward: 4-D
       ``(N, C, H, W)`` outputs with more than one position (pooling and
       classifier outputs drop out).

    Deviation: rule 3 is archscore's, for models that do not say; the authors
    pick the stages per search space (the stem and the cells on NAS-Bench-201,
    the blocks on MobileNetV2).
    """
    own = getattr(model, "feature_stages", None)
    if callable(own):
        return list(own())
    if names is not None:
        table = dict(model.named_modules())
        missing = [n for n in names if n not in table]
        if missing:
            raise ValueError(f"az_nas stages {missing} are not modules of the model; "
                             f"some of its module names: {', '.join(list(table)[1:12])}")
        return [table[n] for n in names]
    items = _blocks_and_leaves(model)
    out: list[nn.Module] = []
    for i, m in enumerate(items):
        is_leaf = not any(True for _ in m.children())
        run_ends = i + 1 == len(items) or any(True for _ in items[i + 1].children())
        if not is_leaf or isinstance(m, ACTIVATIONS) or run_ends:
            out.append(m)
    return out


def spectral_entropy(feat: torch.Tensor) -> float:
    """Entropy of the normalised eigenvalues of the channel covariance of ``(N, C, H, W)`` features.

    Samples and positions are pooled (``N*H*W`` observations of ``C``
    channels), centred, and the covariance's eigenvalues ``s`` normalised to
    ``p = s / sum(s)``; the entropy is ``-sum p log(p + 1e-8)`` (the
    reference's epsilon). Computed in float64 with eigenvalues clamped at 0
    (the reference: float32, unclamped; rounding only). A stage with constant
    features has no spectrum: entropy 0 (the reference gets NaN and scores the
    network ``-inf``).
    """
    b, c, h, w = feat.shape
    z = feat.detach().permute(0, 2, 3, 1).reshape(b * h * w, c).to(torch.float64)
    z = z - z.mean(dim=0, keepdim=True)
    s = torch.linalg.eigvalsh(z.T @ z / z.shape[0]).clamp_min(0)
    total = float(s.sum())
    if not math.isfinite(total) or total <= 0:
        return 0.0
    p = s / total
    return float(-(p * torch.log(p + 1e-8)).sum())


def stage_trainability(f_in: torch.Tensor, f_out: torch.Tensor) -> float | None:
    """AZ-NAS's trainability term of one stage pair: ``-s - 1/s + 2`` for the top singular value ``s``.

    A Rademacher (±1) gradient ``g_out`` of ``f_out``'s shape is drawn from
    torch's global RNG and pulled back to ``g_in = (d f_out / d f_in)^T g_out``;
    a spatially larger ``g_in`` is pixel-unshuffled to ``f_out``'s resolution.
    ``s`` is the largest singular value of ``g_in^T g_out / (N H W)`` over
    (samples x positions). Returns None when ``f_out`` does not depend on
    ``f_in`` and :data:`IDENTITY_STAGE_SCORE` when the gradient passes unchanged.
    """
    g_out = torch.randint(0, 2, f_out.shape, device=f_out.device).to(f_out.dtype) * 2 - 1
    (g_in,) = torch.autograd.grad(f_out, f_in, g_out, retain_graph=True, allow_unused=True)
    if g_in is None:
        return None
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return IDENTITY_STAGE_SCORE
    bo, co, ho, wo = g_out.shape
    if g_in.shape[2:] != g_out.shape[2:]:
        r = g_in.shape[2] // ho
        if r < 1 or g_in.shape[2] != r * ho or g_in.shape[3] != r * wo:
            return None  # resolutions that are not an integer multiple: no pixel correspondence
        g_in = F.pixel_unshuffle(g_in, r)
    a = g_in.permute(0, 2, 3, 1).reshape(-1, g_in.shape[1]).to(torch.float64)
    b = g_out.permute(0, 2, 3, 1).reshape(-1, co).to(torch.float64)
    s = float(torch.linalg.svdvals(a.T @ b / (bo * ho * wo)).max())
    return -s - 1.0 / (s + 1e-6) + 2.0


def _stage_names(session: Any) -> list[str] | None:
    """The ``stages`` option, given under any of the three proxies' names (they share one pass, so one list)."""
    given = {n: session.option(n, "stages", None) for n in AZ_NAS_PROXIES[:3]}
    lists = {tuple(v) for v in given.values() if v is not None}
    if len(lists) > 1:
        raise ValueError(f"the AZ-NAS proxies share one pass and need one stages list; got {given}")
    return list(lists.pop()) if lists else None


@register_provider
class AZStages(Provider):
    """Per-stage spectral entropies (and trainability terms) of the working copy after AZ-NAS's re-initialisation.

    Its own pass, made when the result is read: inside ``session.preserved()``
    (the working copy's weights come back afterwards, so the other proxies of
    the call see the original ones), :func:`kaiming_fan_in_init`, one
    train-mode forward of a standard Gaussian batch of the inputs' shape (as
    the authors' search code: AZ-NAS reads no images) with forward hooks on the
    :func:`feature_stages`, :func:`spectral_entropy` of every stage's
    features and, when ``az_trainability`` was requested, the
    :func:`stage_trainability` of every consecutive pair (last pair first,
    as the reference). The result is ``{"entropies": array, "trainability":
    list or None}``.
    """

    name = "az_stages"
    description = "AZ-NAS: spectral entropy of every stage's features (and trainability terms) after a Kaiming re-initialisation"
    own_pass = True

    def result(self) -> dict[str, Any]:
        s = self.session
        with_grad = "az_trainability" in s.names
        stages = feature_stages(s.model, _stage_names(s))
        feats: list[torch.Tensor] = []

        def keep(mod, inp, out):
            if isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[2] * out.shape[3] > 1 and torch.is_floating_point(out):
                feats.append(out)

        with s.preserved():
            kaiming_fan_in_init(s.model)
            hooks = [m.register_forward_hook(keep) for m in dict.fromkeys(stages)]
            s.model.train()
            try:
                # the authors feed Gaussian noise of the batch's shape, not the images (their NB201 search code)
                x = torch.randn(tuple(s.inputs.shape), device=s.device, dtype=s.dtype)
                with torch.set_grad_enabled(with_grad):
                    s.forward(x)
            finally:
                for h in hooks:
                    h.remove()
            if len(feats) < 2:
                raise ProxyUndefinedError(
                    f"AZ-NAS needs at least two stages with (N, C, H, W) feature maps; found {len(feats)} among {len(stages)} "
                    f"stage modules (define model.feature_stages(), or name the stage modules with the option stages=[...] "
                    f"of az_expressivity)")
            entropies = np.array([spectral_entropy(f) for f in feats])
            terms = None
            if with_grad:
                terms = []
                for i in reversed(range(1, len(feats))):
                    if feats[i].requires_grad and feats[i - 1].requires_grad:
                        t = stage_trainability(feats[i - 1], feats[i])
                        if t is not None:
                            terms.append(t)
            feats.clear()
        return {"entropies": entropies, "trainability": terms}
