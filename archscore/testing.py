"""Named contract checks for estimators and encodings (scikit-learn's ``estimator_checks`` model).

Every ``check_*`` function takes a registry name and an unfitted object,
does its own work on small synthetic inputs and raises ``AssertionError``
(with the name and what broke) when the contract does not hold. The common
tests (``tests/test_estimator_contract.py``) run every check in
:data:`ESTIMATOR_CHECKS` on every registered estimator and every check in
:data:`ENCODING_CHECKS` on every registered encoding, each as its own pytest
case, so an estimator registered anywhere joins them without new test code;
``tests/test_space_contract.py`` likewise runs :data:`SPACE_CHECKS` on every
registered search space (sampling, string and NASLib-key round trips,
mutation, and the model builder at the space's registered ``test_params``).
:func:`check_estimator`, :func:`check_encoding_all` and :func:`check_space_all` run them all at once.

Inputs are tiny and synthetic (:func:`make_contract_inputs`): NB201 cells
built by the narrow :data:`TEST_SPACE`, an 8-image random batch, learning
curves, losses and proxy scores. An estimator whose defaults are too slow
for unit tests declares cheaper ones at registration,
``register_estimator(name, cls, test_params={...})`` (:func:`estimator_for_tests`
applies them).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import pickle
from typing import Any, Callable

import numpy as np
from joblib import hash as joblib_hash
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from archscore.arch import Arch
from archscore.base import ESTIMATORS, UNITS, Estimator, InputTags, OutputTags, Tags, create_estimator, needed_context
from archscore.encodings import get_encoding
from archscore.spaces import SPACES, UserSpace, get_space

#: The narrow NB201 space (C=4 channels, N=1 cell per stage) that builds every model in tests.
TEST_SPACE = get_space("nb201", C=4, N=1)

#: Output units an estimator may declare (``Tags.output.units``).

#: Architectures ``fit`` sees and the ones ``predict`` scores: two seen at fit, one not.
TRAIN = list(range(0, 6))
TEST = [4, 5, 6]


# ------------------------------------------------------------------ inputs
@functools.lru_cache(maxsize=4)
def _contract_inputs(n: int, seed: int) -> tuple[list[Arch], np.ndarray, dict[str, Any]]:
    import torch

    rng = np.random.default_rng(seed)
    space = get_space("nb201")
    archs = [a for a in space.sample(4 * n, seed=seed) if a.is_connected()][:n]  # distinct, connected cells
    n_conv = np.array([sum(op.startswith("nor_conv") for op in a.ops) for a in archs], dtype=float)
    y = 60 + 5 * n_conv + rng.normal(0, 1, size=n)
    epochs = np.arange(1, 21)
    curves = [list(yi * (1 - np.exp(-epochs[: 10 + (i % 5)] / 6)) + rng.normal(0, 0.3, 10 + (i % 5))) for i, yi in enumerate(y)]
    losses = [list(2.3 * np.exp(-epochs[: len(c)] / (20 - ni))) for c, ni in zip(curves, n_conv)]
    scores = {a.key: {"synflow": float(yi + rng.normal(0, 2)), "jacov": float(-yi + rng.normal(0, 5))} for a, yi in zip(archs, y)}
    g = torch.Generator().manual_seed(seed)
    data = (torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g))
    return archs, y, {"data": data, "curves": curves, "losses": losses, "scores": scores}


def make_contract_inputs(n: int = 12, seed: int = 0) -> tuple[list[Arch], np.ndarray, dict[str, Any]]:
    """Archs, targets and every kind of context: small, synthetic, structured, and a fresh copy per call.

    Targets grow with the number of convolutions in the cell, curves (of 10
    to 14 epochs) rise towards them, losses fall, and proxy scores correlate
    with them, so a learning estimator has something to learn.
    """
    return copy.deepcopy(_contract_inputs(n, seed))


def estimator_for_tests(name: str) -> Estimator:
    """The registered estimator ``name`` created with its ``test_params`` (cheap settings for tests)."""
    return create_estimator(name, **ESTIMATORS.metadata(name).get("test_params", {}))


def context_for(est: Estimator, context: dict[str, Any]) -> dict[str, Any]:
    """The part of ``context`` that ``est`` declares it needs (extra context is legal but unneeded)."""
    wanted = needed_context(est.get_tags())
    return {k: v for k, v in context.items() if k in wanted}


def _subset(context: dict[str, Any], idx: list[int]) -> dict[str, Any]:
    out = dict(context)
    for key in ("curves", "losses"):
        if key in out:
            out[key] = [out[key][i] for i in idx]
    return out


def _split(est: Estimator, idx: list[int], inputs=None):
    """(archs, y, context) of the rows ``idx``, with only the context ``est`` needs."""
    archs, y, context = inputs if inputs is not None else make_contract_inputs()
    return [archs[i] for i in idx], y[idx], _subset(context_for(est, context), idx)


def _fitted(est: Estimator, inputs=None) -> Estimator:
    archs, y, ctx = _split(est, TRAIN, inputs)
    return clone(est).fit(archs, y, **ctx)


def _predict(est: Estimator, idx: list[int] = TEST, inputs=None, **kwargs: Any):
    archs, _, ctx = _split(est, idx, inputs)
    return est.predict(archs, **ctx, **kwargs)


def _digest(value: Any) -> str:
    """A content hash of ``value`` (joblib's; the pickle bytes where joblib cannot hash it, e.g. masked arrays)."""
    try:
        return joblib_hash(value)
    except Exception:  # noqa: BLE001 - joblib fails on some picklable objects; their pickle still shows a change
        return hashlib.sha1(pickle.dumps(value)).hexdigest()


def _hashes(obj: Any) -> dict[str, str]:
    return {k: _digest(v) for k, v in vars(obj).items()}


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True))


# -------------------------------------------------------- estimator checks
def check_tags_typed(name: str, est: Estimator) -> None:
    """``get_tags()`` returns typed :class:`Tags` with valid values, a fresh object on every call."""
    tags = est.get_tags()
    assert isinstance(tags, Tags), f"{name}: get_tags() returned {type(tags).__name__}, not archscore.base.Tags"
    assert isinstance(tags.input, InputTags) and isinstance(tags.output, OutputTags), f"{name}: tags.input/output have the wrong types"
    for group in (tags.input, tags.output):
        for field in type(group).__dataclass_fields__:
            value = getattr(group, field)
            if field != "units":
                assert isinstance(value, bool), f"{name}: tag {type(group).__name__}.{field} is {value!r}, not a bool"
    assert isinstance(tags.requires_fit, bool), f"{name}: tag requires_fit is {tags.requires_fit!r}, not a bool"
    assert tags.output.units in UNITS, f"{name}: tag output.units is {tags.output.units!r}, expected one of {UNITS}"
    assert isinstance(tags.family, str) and tags.family, f"{name}: tag family must be a non-empty string, got {tags.family!r}"
    # per-instance: changing the returned tags must not change the estimator's
    tags.input.needs_data = not tags.input.needs_data
    tags.output.units = "changed"
    again = est.get_tags()
    assert again.input.needs_data != tags.input.needs_data and again.output.units in UNITS, \
        f"{name}: get_tags() hands out a shared object; build fresh tags in __archscore_tags__"


def check_init_stores_params_only(name: str, est: Estimator) -> None:
    """``__init__`` stores each keyword parameter as given, under its own name, and nothing else."""
    params = est.get_params(deep=False)
    made = type(est)(**params)
    extra = sorted(set(vars(made)) - set(params))
    assert not extra, f"{name}: __init__ set attributes that are not parameters: {extra}"
    for k, v in params.items():
        assert getattr(made, k) is v, f"{name}: __init__ did not store parameter {k!r} as given (validate or convert in fit/predict)"


def check_clone_get_params_roundtrip(name: str, est: Estimator) -> None:
    """``clone`` and ``set_params(**get_params())`` give back the same parameters."""
    params = est.get_params(deep=False)
    want = {k: _digest(v) for k, v in params.items()}
    try:
        cloned = clone(est)
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"{name}: clone failed: {type(exc).__name__}: {exc}") from exc
    assert type(cloned) is type(est), f"{name}: clone changed the type to {type(cloned).__name__}"
    got = {k: _digest(v) for k, v in cloned.get_params(deep=False).items()}
    assert got == want, f"{name}: clone changed parameter(s) {_changed(want, got)}"
    other = clone(est)
    assert other.set_params(**params) is other, f"{name}: set_params must return self"
    got = {k: _digest(v) for k, v in other.get_params(deep=False).items()}
    assert got == want, f"{name}: set_params(**get_params()) changed parameter(s) {_changed(want, got)}"


def check_fit_returns_self(name: str, est: Estimator) -> None:
    """``fit`` returns the estimator itself and stores its state in attributes ending in ``_``."""
    e = clone(est)
    before = set(vars(e))
    archs, y, ctx = _split(e, TRAIN)
    out = e.fit(archs, y, **ctx)
    assert out is e, f"{name}: fit returned {type(out).__name__}, not self"
    new = sorted(set(vars(e)) - before)
    bad = [a for a in new if not (a.endswith("_") or a.startswith("_"))]
    assert new and not bad, f"{name}: fit must store its state in attributes ending in '_' (new: {new})"


def check_fit_keeps_params(name: str, est: Estimator) -> None:
    """``fit`` does not change the parameters (learned values go to ``*_`` attributes)."""
    e = clone(est)
    want = {k: _digest(v) for k, v in e.get_params(deep=False).items()}
    archs, y, ctx = _split(e, TRAIN)
    e.fit(archs, y, **ctx)
    got = {k: _digest(v) for k, v in e.get_params(deep=False).items()}
    assert got == want, f"{name}: fit changed parameter(s) {_changed(want, got)}"


def check_not_fitted_error(name: str, est: Estimator) -> None:
    """``requires_fit`` estimators raise ``NotFittedError`` before fit; the others predict without fit."""
    e = clone(est)
    if e.get_tags().requires_fit:
        try:
            _predict(e)
        except NotFittedError as exc:
            assert "fit" in str(exc), f"{name}: the NotFittedError does not say to call fit: {exc}"
        except Exception as exc:  # noqa: BLE001 - any other error type is the failure being checked
            raise AssertionError(f"{name}: predict before fit raised {type(exc).__name__}, not sklearn's NotFittedError: {exc}") from exc
        else:
            raise AssertionError(f"{name}: predict before fit did not raise (tagged requires_fit)")
    else:
        try:
            pred = _predict(e)
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(f"{name}: not tagged requires_fit, but predict before fit raised {type(exc).__name__}: {exc}") from exc
        assert pred.shape == (len(TEST),), f"{name}: predict before fit returned shape {pred.shape}"


def check_missing_context_errors(name: str, est: Estimator) -> None:
    """A missing required context keyword is a ``ValueError`` naming it, in ``fit`` and in ``predict``."""
    archs, y, ctx = _split(est, TRAIN)
    fitted = clone(est).fit(archs, y, **ctx) if est.get_tags().requires_fit else clone(est)
    for key in ctx:
        partial = {k: v for k, v in ctx.items() if k != key}
        for step, call in (("fit", lambda: clone(est).fit(archs, y, **partial)), ("predict", lambda: fitted.predict(archs, **partial))):
            try:
                call()
            except ValueError as exc:
                assert f"{key}=" in str(exc), f"{name}: {step} without {key}= raised an error that does not name it: {exc}"
            except Exception as exc:  # noqa: BLE001
                raise AssertionError(f"{name}: {step} without {key}= raised {type(exc).__name__}, not a ValueError naming {key}=: {exc}") from exc
            else:
                raise AssertionError(f"{name}: {step} without the required context {key}= did not raise")


def check_predict_shape_finite(name: str, est: Estimator) -> None:
    """``predict`` returns a finite float array of shape ``(n,)``."""
    pred = _predict(_fitted(est))
    assert isinstance(pred, np.ndarray) and pred.dtype.kind == "f", f"{name}: predict returned {type(pred).__name__}, not a float ndarray"
    assert pred.shape == (len(TEST),), f"{name}: predict returned shape {pred.shape} for {len(TEST)} architectures"
    assert np.all(np.isfinite(pred)), f"{name}: non-finite predictions {pred}"


def check_dict_unchanged(name: str, est: Estimator) -> None:
    """``predict`` changes nothing on the estimator (``__dict__`` is the same before and after)."""
    e = _fitted(est)
    before = _hashes(e)
    _predict(e)
    changed = _changed(before, _hashes(e))
    assert not changed, f"{name}: predict changed the estimator's attribute(s) {changed}"


def check_inputs_not_mutated(name: str, est: Estimator) -> None:
    """``fit`` and ``predict`` leave the architectures, targets and context objects unchanged."""
    inputs = make_contract_inputs()
    archs, y, context = inputs
    before = {"archs": _digest(archs), "y": _digest(y), **{k: _digest(v) for k, v in context.items()}}
    e = _fitted(est, inputs)
    _predict(e, inputs=inputs)
    after = {"archs": _digest(archs), "y": _digest(y), **{k: _digest(v) for k, v in context.items()}}
    changed = _changed(before, after)
    assert not changed, f"{name}: fit/predict mutated the caller's input(s) {changed}"


def check_pickle_roundtrip(name: str, est: Estimator) -> None:
    """A fitted estimator survives ``pickle`` and predicts the same afterwards."""
    e = _fitted(est)
    pred = _predict(e)
    try:
        back = pickle.loads(pickle.dumps(e))
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"{name}: a fitted estimator cannot be pickled: {type(exc).__name__}: {exc}") from exc
    again = _predict(back)
    assert not est.get_tags().output.deterministic or _close(again, pred), f"{name}: predictions changed after a pickle round trip: {pred} -> {again}"


def check_deterministic_under_seed(name: str, est: Estimator) -> None:
    """Two clones with the same parameters (same seed), fitted the same way, predict the same."""
    if not est.get_tags().output.deterministic:
        return  # measured values (timings): repeated predictions differ by design
    first = _predict(_fitted(est))
    second = _predict(_fitted(est))
    assert _close(first, second), f"{name}: not deterministic under a fixed seed: {first} vs {second}"


def check_order_equivariant(name: str, est: Estimator) -> None:
    """Reordering the architectures (and their context) reorders the predictions the same way."""
    if not est.get_tags().output.deterministic:
        return  # measured values (timings): repeated predictions differ by design
    e = _fitted(est)
    pred = _predict(e)
    rev = _predict(e, list(reversed(TEST)))
    assert _close(rev, pred[::-1]), f"{name}: predictions depend on the order of the architectures: {pred} vs reversed {rev}"


def check_comparable_across_calls(name: str, est: Estimator) -> None:
    """Estimators tagged ``comparable_across_calls`` score an architecture the same whatever else is in the call."""
    if not est.get_tags().output.deterministic:
        return  # measured values (timings): repeated predictions differ by design
    e = _fitted(est)
    if not e.get_tags().output.comparable_across_calls:
        return  # scores are relative to one call's candidates (tagged so): nothing to compare
    pred = _predict(e)
    alone = _predict(e, TEST[-1:])
    assert _close(alone, pred[-1:]), (f"{name}: tagged comparable_across_calls, but an architecture scored alone gets {alone[0]} "
                                      f"and with others {pred[-1]}; tag it comparable_across_calls=False")


def check_return_std(name: str, est: Estimator) -> None:
    """``supports_std``: ``return_std=True`` gives the same mean and a finite std >= 0; otherwise it is a ValueError."""
    e = _fitted(est)
    if e.get_tags().output.supports_std:
        out = _predict(e, return_std=True)
        assert isinstance(out, tuple) and len(out) == 2, f"{name}: predict(return_std=True) must return (mean, std)"
        mean, std = out
        assert mean.shape == std.shape == (len(TEST),), f"{name}: mean/std shapes {mean.shape}, {std.shape}"
        assert np.all(np.isfinite(std)) and np.all(std >= 0), f"{name}: bad predictive std {std}"
        plain = _predict(e)
        assert not e.get_tags().output.deterministic or _close(mean, plain), f"{name}: the mean of predict(return_std=True) {mean} differs from predict() {plain}"
    else:
        try:
            _predict(e, return_std=True)
        except ValueError:
            return
        raise AssertionError(f"{name}: return_std=True accepted although the estimator is not tagged supports_std")


#: Every estimator check, in the order the common tests run them.
ESTIMATOR_CHECKS: tuple[Callable[[str, Estimator], None], ...] = (
    check_tags_typed,
    check_init_stores_params_only,
    check_clone_get_params_roundtrip,
    check_fit_returns_self,
    check_fit_keeps_params,
    check_not_fitted_error,
    check_missing_context_errors,
    check_predict_shape_finite,
    check_dict_unchanged,
    check_inputs_not_mutated,
    check_pickle_roundtrip,
    check_deterministic_under_seed,
    check_order_equivariant,
    check_comparable_across_calls,
    check_return_std,
)


def check_estimator(name: str, est: Estimator | None = None) -> None:
    """Run every check of :data:`ESTIMATOR_CHECKS` on ``est`` (default: the registered ``name`` with its test parameters)."""
    est = estimator_for_tests(name) if est is None else est
    for check in ESTIMATOR_CHECKS:
        check(name, est)


# --------------------------------------------------------- encoding checks
def encoding_for_tests(name: str):
    """A new encoding for ``name`` (a registered name or names joined by ``"+"``)."""
    return get_encoding(name)


def _encoding_split(enc, idx: list[int], inputs=None):
    archs, _, context = inputs if inputs is not None else make_contract_inputs()
    ctx = {"scores": context["scores"]} if enc.needs_scores else {}
    return [archs[i] for i in idx], ctx


def _fitted_encoding(enc, inputs=None):
    archs, ctx = _encoding_split(enc, TRAIN, inputs)
    return clone(enc).fit(archs, **ctx)


def _transform(enc, idx: list[int] = TEST, inputs=None) -> np.ndarray:
    archs, ctx = _encoding_split(enc, idx, inputs)
    return enc.transform(archs, **ctx)


def check_encoding(name: str, enc) -> None:
    """``fit`` returns self; ``transform`` gives a finite float matrix ``(n, n_features_out_)`` with one name per column.

    Rows depend only on their own architecture: the same in any order and
    batch, and the same from a second encoder fitted the same way.
    """
    e = clone(enc)
    archs, ctx = _encoding_split(e, TRAIN)
    assert e.fit(archs, **ctx) is e, f"{name}: fit must return self"
    X = _transform(e)
    d = e.n_features_out_
    assert isinstance(X, np.ndarray) and X.dtype.kind == "f", f"{name}: transform returned {type(X).__name__}, not a float ndarray"
    assert X.shape == (len(TEST), d) and d > 0, f"{name}: transform returned shape {X.shape}, expected {(len(TEST), d)}"
    assert np.all(np.isfinite(X)), f"{name}: non-finite features"
    names = e.get_feature_names_out()
    assert len(names) == d and len(set(map(str, names))) == d, f"{name}: feature names must be {d} distinct strings, got {len(names)}"
    rev = _transform(e, list(reversed(TEST)))
    assert _close(rev, X[::-1]), f"{name}: rows depend on the order of the architectures"
    alone = _transform(e, TEST[-1:])
    assert _close(alone, X[-1:]), f"{name}: a row depends on the other architectures of the batch"
    assert _close(_transform(_fitted_encoding(enc)), X), f"{name}: two encoders fitted the same way disagree"


def check_encoding_transform_unchanged(name: str, enc) -> None:
    """``transform`` changes nothing on the encoding and on the caller's architectures and context."""
    inputs = make_contract_inputs()
    e = _fitted_encoding(enc, inputs)
    before, before_in = _hashes(e), _digest((inputs[0], inputs[2]))
    _transform(e, inputs=inputs)
    changed = _changed(before, _hashes(e))
    assert not changed, f"{name}: transform changed the encoding's attribute(s) {changed}"
    assert _digest((inputs[0], inputs[2])) == before_in, f"{name}: fit/transform mutated the caller's architectures or context"


def check_encoding_params(name: str, enc) -> None:
    """``__init__`` stores parameters only; ``clone`` keeps them; nothing fitted survives ``clone``."""
    params = enc.get_params(deep=False)
    made = type(enc)(**params)
    extra = sorted(set(vars(made)) - set(params))
    assert not extra, f"{name}: __init__ set attributes that are not parameters: {extra}"
    want = {k: _digest(v) for k, v in params.items()}
    fitted = _fitted_encoding(enc)
    cloned = clone(fitted)
    got = {k: _digest(v) for k, v in cloned.get_params(deep=False).items()}
    assert got == want, f"{name}: fit or clone changed parameter(s) {_changed(want, got)}"
    left = [a for a in vars(cloned) if a.endswith("_") and not a.startswith("_")]
    assert not left, f"{name}: fitted state survived clone: {left}"


def check_encoding_not_fitted_error(name: str, enc) -> None:
    """``transform`` before ``fit`` is a ``ValueError`` that says to fit."""
    try:
        _transform(clone(enc))
    except ValueError as exc:
        assert "fit" in str(exc), f"{name}: the error for transform before fit does not say to fit: {exc}"
        return
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"{name}: transform before fit raised {type(exc).__name__}, not a ValueError: {exc}") from exc
    raise AssertionError(f"{name}: transform before fit did not raise")


def check_encoding_missing_context(name: str, enc) -> None:
    """An encoding that reads ``scores=`` raises a ``ValueError`` naming it when it is missing."""
    if not enc.needs_scores:
        return
    archs, ctx = _encoding_split(enc, TRAIN)
    fitted = clone(enc).fit(archs, **ctx)
    for step, call in (("fit", lambda: clone(enc).fit(archs)), ("transform", lambda: fitted.transform(archs))):
        try:
            call()
        except ValueError as exc:
            assert "scores=" in str(exc), f"{name}: {step} without scores= raised an error that does not name it: {exc}"
        else:
            raise AssertionError(f"{name}: {step} without scores= did not raise")


def check_encoding_pickle_roundtrip(name: str, enc) -> None:
    """A fitted encoding survives ``pickle`` and transforms the same afterwards."""
    e = _fitted_encoding(enc)
    X = _transform(e)
    try:
        back = pickle.loads(pickle.dumps(e))
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"{name}: a fitted encoding cannot be pickled: {type(exc).__name__}: {exc}") from exc
    assert _close(_transform(back), X), f"{name}: features changed after a pickle round trip"


#: Every encoding check.
ENCODING_CHECKS: tuple[Callable[[str, Any], None], ...] = (
    check_encoding,
    check_encoding_transform_unchanged,
    check_encoding_params,
    check_encoding_not_fitted_error,
    check_encoding_missing_context,
    check_encoding_pickle_roundtrip,
)


def check_encoding_all(name: str, enc: Any = None) -> None:
    """Run every check of :data:`ENCODING_CHECKS` on ``enc`` (default: ``get_encoding(name)``)."""
    enc = encoding_for_tests(name) if enc is None else enc
    for check in ENCODING_CHECKS:
        check(name, enc)



# ------------------------------------------------------------------ spaces
#: Architectures each space check samples (small: some spaces build networks for each).
SPACE_SAMPLE = 3


def space_for_tests(name: str):
    """The registered space ``name`` with its ``test_params`` (small networks); a registered instance as is."""
    obj = SPACES.get(name)
    if isinstance(obj, UserSpace):
        return obj
    return obj(**SPACES.metadata(name).get("test_params", {}))


def _space_builds(name: str) -> bool:
    """False for a space registered with ``builds=False`` (unregistered spaces are expected to build)."""
    return name not in SPACES or bool(SPACES.metadata(name).get("builds", True))


def _naslib_writer(space) -> Callable[[Arch], str] | None:
    """The space's writer of NASLib's compact key, if it has one."""
    for attr in ("to_naslib", "to_compact"):
        if callable(getattr(space, attr, None)):
            return getattr(space, attr)
    return None


def check_space_sample(name: str, space) -> None:
    """``sample(n, seed)``: ``n`` architectures of the space, the same for the same seed, others for another seed."""
    archs = space.sample(SPACE_SAMPLE, seed=0)
    assert len(archs) == SPACE_SAMPLE, f"{name}: sample({SPACE_SAMPLE}) returned {len(archs)} architectures"
    for a in archs:
        assert isinstance(a, Arch), f"{name}: sample returned a {type(a).__name__}, not an Arch"
        assert a.space == space.name, f"{name}: sampled arch labelled {a.space!r}, space {space.name!r}"
    strings = [space.to_string(a) for a in archs]
    again = [space.to_string(a) for a in space.sample(SPACE_SAMPLE, seed=0)]
    assert again == strings, f"{name}: sample(seed=0) differs between two calls"
    other = [space.to_string(a) for a in space.sample(SPACE_SAMPLE, seed=1)]
    assert other != strings, f"{name}: sample ignores its seed (seeds 0 and 1 gave {strings})"
    assert space.sample(0, seed=0) == [], f"{name}: sample(0) is not empty"


def check_space_string_roundtrip(name: str, space) -> None:
    """``from_string(to_string(a))`` is ``a`` (same spec), and so is the NASLib key where the space writes one."""
    writer = _naslib_writer(space)
    for a in space.sample(SPACE_SAMPLE, seed=1):
        s = space.to_string(a)
        back = space.from_string(s)
        assert back.spec == a.spec, f"{name}: from_string(to_string(a)) changed the architecture ({s!r})"
        assert space.to_string(back) == s, f"{name}: the string of a parsed architecture differs from the one parsed"
        if writer is not None:
            key = writer(a)
            assert space.from_string(key).spec == a.spec, f"{name}: from_string does not read back NASLib's key {key!r}"
    try:
        space.from_string("not an architecture")
    except ValueError as exc:
        assert str(exc), f"{name}: from_string raised an empty ValueError on garbage"
    else:
        raise AssertionError(f"{name}: from_string accepted 'not an architecture'")


def check_space_mutate(name: str, space) -> None:
    """``mutate`` gives another architecture of the space (it round-trips through its string), the same for the same seed."""
    for a in space.sample(SPACE_SAMPLE, seed=2):
        child = space.mutate(a, rng=3)
        assert isinstance(child, Arch) and child.space == a.space, f"{name}: mutate returned something outside the space"
        s = space.to_string(child)
        assert s != space.to_string(a), f"{name}: mutate returned the parent {s!r}"
        assert space.from_string(s).spec == child.spec, f"{name}: a mutated architecture does not round-trip ({s!r})"
        assert space.to_string(space.mutate(a, rng=3)) == s, f"{name}: mutate(rng=3) differs between two calls"
        if callable(getattr(space, "neighbours", None)):
            for nb in space.neighbours(a):
                t = space.to_string(nb)
                assert t != space.to_string(a) and space.from_string(t).spec == nb.spec, f"{name}: bad neighbour {t!r}"


def _n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def check_space_build(name: str, space) -> None:
    """``build``: a ``torch.nn.Module`` mapping ``space.example_input()`` to ``num_classes`` outputs per row, reproducible under a seed.

    The classifier head grows linearly with ``num_classes`` (one row of
    weights and a bias per class), and the same ``torch.manual_seed`` gives
    the same weights, so also the same parameter count. (The exact counts of
    the benchmarks' networks are checked against NAS-Bench-Suite-Zero's
    recorded ``params`` in ``tests/test_naslib.py``, on the shared data.) A space registered with
    ``builds=False`` must raise ``NotImplementedError`` instead.
    """
    import torch

    archs = space.sample(2, seed=4)
    if not _space_builds(name):
        try:
            space.build(archs[0])
        except NotImplementedError:
            return
        raise AssertionError(f"{name}: registered with builds=False but build() returned a model")
    x = space.example_input(2, generator=torch.Generator().manual_seed(0))
    for a in archs:
        torch.manual_seed(0)
        model = space.build(a, num_classes=10)
        assert isinstance(model, torch.nn.Module), f"{name}: build returned a {type(model).__name__}, not an nn.Module"
        assert _n_params(model) > 0, f"{name}: the built network has no parameters"
        if a is archs[0]:
            counts = [_n_params(model)] + [_n_params(space.build(a, num_classes=k)) for k in (11, 12)]
            assert counts[2] - counts[1] == counts[1] - counts[0] > 0, \
                f"{name}: parameters for 10/11/12 classes {counts} do not grow by one head row per class"
        model.eval()
        with torch.no_grad():
            out = model(x)
        assert tuple(out.shape) == (x.shape[0], 10), \
            f"{name}: output shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}, expected ({x.shape[0]}, 10)"
        assert torch.isfinite(out).all(), f"{name}: non-finite outputs of an untrained network"
        torch.manual_seed(0)
        again = space.build(a, num_classes=10)
        for (k, v), (_, w) in zip(model.state_dict().items(), again.state_dict().items()):
            assert torch.equal(v, w), f"{name}: the same torch.manual_seed gave different {k}"


#: Every space check.
SPACE_CHECKS: tuple[Callable[[str, Any], None], ...] = (
    check_space_sample,
    check_space_string_roundtrip,
    check_space_mutate,
    check_space_build,
)


def check_space_all(name: str, space: Any = None) -> None:
    """Run every check of :data:`SPACE_CHECKS` on ``space`` (default: :func:`space_for_tests`)."""
    space = space_for_tests(name) if space is None else space
    for check in SPACE_CHECKS:
        check(name, space)


__all__ = [
    "ENCODING_CHECKS", "ESTIMATOR_CHECKS", "SPACE_CHECKS", "check_space_all", "space_for_tests", "TEST_SPACE", "UNITS", "check_encoding_all", "check_estimator",
    "context_for", "encoding_for_tests", "estimator_for_tests", "make_contract_inputs",
    *[c.__name__ for c in ESTIMATOR_CHECKS], *[c.__name__ for c in ENCODING_CHECKS], *[c.__name__ for c in SPACE_CHECKS],
]
