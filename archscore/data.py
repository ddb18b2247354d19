"""Image data for proxies and cheap training: CIFAR-10 from local files, or an offline fallback.

Nothing here downloads. Sources:

* an ``.npz`` with ``x`` (N, 32, 32, 3) uint8 HWC RGB and ``y`` (N,) labels,
  like ``shared/data/cifar10/train5k.npz``;
* the CIFAR-10 JPEG tarball in ImageFolder layout (``train/<class>/*.jpg``,
  ``test/<class>/*.jpg``; classes in sorted order, which for CIFAR-10 is the
  label order airplane ... truck);
* a data folder holding either of those (``<dir>/cifar10/train5k.npz`` or
  ``<dir>/cifar10/cifar10-jpg.tar.gz``, or directly inside ``<dir>``);
* :func:`load_digits_images`: scikit-learn's bundled handwritten digits,
  upsampled to 32x32x3, so commands still do real work on a fresh machine.
"""

from __future__ import annotations

import io
import logging
import os
import tarfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

logger = logging.getLogger(__name__)

CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
_NPZ_NAMES = ("train5k.npz",)
_TAR_NAMES = ("cifar10-jpg.tar.gz",)
_SPLITS = ("train", "test")


#: Environment variable naming the shared data folder (the only implicit data location; never the CWD).
DATA_ENV = "ARCHSCORE_DATA"


def default_data_dir() -> Path | None:
    """The folder named by ``$ARCHSCORE_DATA``, or None when the variable is unset or empty.

    Raises
    ------
    FileNotFoundError
        If the variable is set to something that is not a folder (a typo
        there would otherwise silently fall back to other data).
    """
    env = os.environ.get(DATA_ENV, "").strip()
    if not env:
        return None
    folder = Path(env).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"${DATA_ENV} is set to {env!r}, which is not a folder")
    return folder


def resolve_data_file(
    explicit: str | os.PathLike | None, relative: str | Sequence[str], what: str, *, option: str = "--data"
) -> Path:
    """The one place that turns a user's data argument into a file.

    Parameters
    ----------
    explicit : path-like or None
        A file (returned as is), or a data folder. None means the folder
        ``$ARCHSCORE_DATA``. Nothing is looked up in the current directory.
    relative : str or sequence of str
        Where the file lies inside a data folder, e.g. ``"nb201/nb201_cifar10.csv"``;
        several candidates are tried in order. Each is also tried directly in
        the folder (``<folder>/nb201_cifar10.csv``).
    what : str
        What the file is, for the error message ("NB201 table").
    option : str
        The command-line option that supplies ``explicit``, for the error message.

    Returns
    -------
    Path
        An existing file.

    Raises
    ------
    FileNotFoundError
        Naming the option, the variable and the file expected.
    """
    candidates = [relative] if isinstance(relative, str) else list(relative)
    if not candidates:
        raise ValueError("relative must name at least one file")
    if explicit is not None:
        base = Path(explicit).expanduser()
        if base.is_file():
            return base
        if not base.is_dir():
            raise FileNotFoundError(f"{what} not found: {base} does not exist")
        origin = f"{option} {base}"
    else:
        base = default_data_dir()
        if base is None:
            raise FileNotFoundError(f"no {what}: pass {option}, or set ${DATA_ENV} to the data folder holding {candidates[0]}")
        origin = f"${DATA_ENV}={base}"
    tried = []
    for rel in candidates:
        for path in (base / rel, base / Path(rel).name):
            if path not in tried:
                tried.append(path)
            if path.is_file():
                return path
    raise FileNotFoundError(f"{what} not found: no {' or '.join(str(t) for t in tried)} (data folder from {origin})")


def _image_candidates(split: str) -> tuple[str, ...]:
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    # The npz holds training images only: prefer it for split="train" (fast), the tarball otherwise.
    names = (_NPZ_NAMES + _TAR_NAMES) if split == "train" else _TAR_NAMES
    return tuple(f"cifar10/{name}" for name in names)


def resolve_image_source(path: str | os.PathLike | None, split: str = "train") -> Path:
    """The npz or tarball that ``path`` designates (a file, or a data folder; None: ``$ARCHSCORE_DATA``)."""
    return resolve_data_file(path, _image_candidates(split), f"CIFAR-10 {split} images")


def _choose(n_total: int, limit: int | None, seed: int | None) -> np.ndarray:
    if limit is None or limit >= n_total:
        return np.arange(n_total)
    if limit < 1:
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    return np.sort(np.random.default_rng(seed).permutation(n_total)[:limit])


def load_images(
    path: str | os.PathLike, split: str = "train", *, limit: int | None = None, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Load images and labels from an npz, a JPEG tarball or a data folder.

    Parameters
    ----------
    path : path-like
        See the module docstring.
    split : {"train", "test"}
        Which split of a tarball to read (an npz is taken as it is).
    limit : int, optional
        Keep a random subset of this many images (chosen with ``seed``; order
        preserved). Only the chosen JPEGs are decoded.
    seed : int, optional
        Seed of the subset.

    Returns
    -------
    x : ndarray of uint8, shape (N, 32, 32, 3)
        HWC RGB images.
    y : ndarray of int64, shape (N,)
        Class labels.
    """
    src = resolve_image_source(path, split)
    name = src.name.lower()
    if name.endswith(".npz"):
        with np.load(src) as d:
            missing = {"x", "y"} - set(d.files)
            if missing:
                raise ValueError(f"{src} lacks array(s) {sorted(missing)}; expected 'x' (N,H,W,3) uint8 and 'y' (N,)")
            x, y = d["x"], d["y"].astype(np.int64)
        if x.ndim != 4 or x.shape[-1] != 3 or x.shape[0] != y.shape[0]:
            raise ValueError(f"{src}: expected x of shape (N, H, W, 3) matching y (N,), got {x.shape} and {y.shape}")
        keep = _choose(len(x), limit, seed)
        return np.ascontiguousarray(x[keep]).astype(np.uint8, copy=False), y[keep]
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return _load_tarball(src, split, limit, seed)
    raise ValueError(f"unsupported image file {src}: expected .npz or an ImageFolder .tar.gz")


def _load_tarball(src: Path, split: str, limit: int | None, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    try:
        from PIL import Image
    except ImportError as exc:  # pillow comes with matplotlib; say how to get it otherwise
        raise ImportError("reading the JPEG tarball needs Pillow: pip install pillow") from exc
    with tarfile.open(src) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.lower().endswith((".jpg", ".jpeg", ".png"))]
    entries = []
    for m in members:
        parts = Path(m.name).parts
        if len(parts) >= 3 and parts[-3] == split:
            entries.append((parts[-2], m.name))
    if not entries:
        raise ValueError(f"{src} has no images under '{split}/<class>/'")
    entries.sort()
    classes = sorted({c for c, _ in entries})
    label_of = {c: i for i, c in enumerate(classes)}
    keep = _choose(len(entries), limit, seed)
    wanted = {entries[i][1]: k for k, i in enumerate(keep)}
    x = np.empty((len(keep), 32, 32, 3), dtype=np.uint8)
    y = np.array([label_of[entries[i][0]] for i in keep], dtype=np.int64)
    found = 0
    with tarfile.open(src) as tar:  # one streaming pass: decode only the chosen files
        for m in tar:
            k = wanted.get(m.name)
            if k is None:
                continue
            with Image.open(io.BytesIO(tar.extractfile(m).read())) as img:
                img = img.convert("RGB")
                if img.size != (32, 32):
                    img = img.resize((32, 32))
                x[k] = np.asarray(img)
            found += 1
    if found != len(keep):
        raise RuntimeError(f"{src}: decoded {found} of {len(keep)} selected images")
    logger.info("loaded %d %s images from %s (%d classes)", len(keep), split, src, len(classes))
    return x, y


def load_digits_images(size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits (8x8, bundled) as (N, size, size, 3) uint8 RGB.

    Upsampled by nearest neighbour and replicated over three channels; an
    offline stand-in for CIFAR-10 so that commands do real work without data.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    img = (digits.images / 16.0 * 255.0).round().astype(np.uint8)  # values 0..16
    reps = int(np.ceil(size / img.shape[1]))
    img = img.repeat(reps, axis=1).repeat(reps, axis=2)[:, :size, :size]
    return np.repeat(img[..., None], 3, axis=-1), digits.target.astype(np.int64)


def to_tensor(
    x: np.ndarray, mean: tuple[float, ...] | None = CIFAR10_MEAN, std: tuple[float, ...] | None = CIFAR10_STD
):
    """uint8 HWC images -> float32 NCHW tensor in [0, 1], normalised per channel when mean/std given."""
    import torch

    arr = np.asarray(x)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected images of shape (N, H, W, 3), got {arr.shape}")
    t = torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2))).float().div_(255.0)
    if mean is not None and std is not None:
        t = (t - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return t


def reference_batch(path: str | os.PathLike, batch_size: int = 64, seed: int = 0):
    """The shared data's reference minibatch: ``default_rng(seed).permutation(N)[:batch_size]`` of the images.

    With ``train5k.npz`` and the defaults this is exactly the batch behind the
    reference zero-cost scores in ``nb201_cifar10_ref_zc_200connected.csv``.

    Returns
    -------
    inputs : torch.Tensor, float32 (batch_size, 3, 32, 32), normalised
    targets : torch.Tensor, int64 (batch_size,)
    """
    import torch

    x, y = load_images(path, "train")
    if not 1 <= batch_size <= len(x):
        raise ValueError(f"batch_size must be in [1, {len(x)}], got {batch_size!r}")
    rows = np.random.default_rng(seed).permutation(len(x))[:batch_size]
    return to_tensor(x[rows]), torch.from_numpy(y[rows])


__all__ = [
    "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR10_CLASSES", "load_images", "load_digits_images", "to_tensor",
    "reference_batch", "resolve_image_source", "resolve_data_file", "default_data_dir", "DATA_ENV", "load_batch",
]


def load_batch(source: Path | None, batch_size: int, seed: int) -> tuple[Any, Any, str]:
    """One labelled minibatch ``(inputs, targets, description)`` from an image source.

    Parameters
    ----------
    source : path or None
        An ``.npz``, the CIFAR-10 JPEG tarball or a data folder holding one
        (see :func:`resolve_image_source`); None uses scikit-learn's digits
        (offline fallback, normalised with their own statistics).
    batch_size : int
        Images in the batch.
    seed : int
        Which images are drawn.

    Returns
    -------
    inputs : Tensor (N, 3, 32, 32), targets : Tensor (N,), description : str
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    if source is None:
        x, y = load_digits_images()
        rows = np.random.default_rng(seed).permutation(len(x))[:batch_size]
        xb = x[rows]
        # Normalise with the digits' own channel statistics (CIFAR-10's would be wrong here).
        mean = tuple(float(m) for m in (xb / 255.0).mean(axis=(0, 1, 2)))
        std = tuple(float(s) for s in (xb / 255.0).std(axis=(0, 1, 2)) + 1e-6)
        desc = (f"{len(rows)} scikit-learn handwritten digits (offline fallback: no --data and no $ARCHSCORE_DATA; "
                "8x8 digits upsampled to 32x32x3, not CIFAR-10)")
        return to_tensor(xb, mean, std), torch.from_numpy(y[rows]), desc
    src = resolve_image_source(source)
    if src.name.endswith(".npz"):
        inputs, targets = reference_batch(src, batch_size=batch_size, seed=seed)
    else:  # a JPEG tarball: decode only the images of the batch
        x, y = load_images(src, "train", limit=batch_size, seed=seed)
        inputs, targets = to_tensor(x), torch.from_numpy(y)
    return inputs, targets, f"{len(targets)} CIFAR-10 training images from {src}"
