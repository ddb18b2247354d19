import io
import tarfile

import numpy as np
import pytest
import torch

from archscore.data import CIFAR10_MEAN, load_digits_images, load_images, reference_batch, to_tensor


def _jpeg_bytes(color):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buf, format="PNG")  # lossless, so pixel values are exact
    return buf.getvalue()


@pytest.fixture
def tiny_tarball(tmp_path):
    pytest.importorskip("PIL")
    path = tmp_path / "imgs.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for split, n in (("train", 3), ("test", 1)):
            for label, (cls, color) in enumerate((("cat", (255, 0, 0)), ("dog", (0, 0, 255)))):
                for i in range(n):
                    data = _jpeg_bytes(color)
                    info = tarfile.TarInfo(f"{split}/{cls}/{i:04d}.png")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return path


def test_tarball_split_labels_and_pixels(tiny_tarball):
    x, y = load_images(tiny_tarball, "train")
    assert x.shape == (6, 32, 32, 3) and x.dtype == np.uint8
    assert list(y) == [0, 0, 0, 1, 1, 1]  # classes in sorted order
    assert (x[y == 0][..., 0] == 255).all() and (x[y == 1][..., 2] == 255).all()
    xt, yt = load_images(tiny_tarball, "test")
    assert list(yt) == [0, 1]
    xs, ys = load_images(tiny_tarball, "train", limit=2, seed=3)
    assert xs.shape[0] == 2 and np.array_equal(ys, load_images(tiny_tarball, "train", limit=2, seed=3)[1])


def test_npz_and_folder_resolution(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(10, 32, 32, 3), dtype=np.uint8)
    y = np.arange(10) % 3
    (tmp_path / "cifar10").mkdir()
    np.savez(tmp_path / "cifar10" / "train5k.npz", x=x, y=y)
    x2, y2 = load_images(tmp_path)
    assert np.array_equal(x2, x) and np.array_equal(y2, y)
    inputs, targets = reference_batch(tmp_path, batch_size=4)
    rows = np.random.default_rng(0).permutation(10)[:4]
    assert torch.equal(targets, torch.from_numpy(y[rows]))
    expected = (x[rows[0], 0, 0, 0] / 255.0 - CIFAR10_MEAN[0]) / 0.2470
    assert inputs.shape == (4, 3, 32, 32) and inputs[0, 0, 0, 0].item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(FileNotFoundError, match="cifar10-jpg.tar.gz"):
        load_images(tmp_path, "test")  # the npz holds no test split


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_images(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="split"):
        load_images(tmp_path, "valid")
    np.savez(tmp_path / "bad.npz", images=np.zeros((2, 32, 32, 3)))
    with pytest.raises(ValueError, match="lacks array"):
        load_images(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="shape"):
        to_tensor(np.zeros((2, 32, 32)))


def test_digits_fallback():
    x, y = load_digits_images()
    assert x.shape == (1797, 32, 32, 3) and x.dtype == np.uint8 and x.max() == 255
    assert set(np.unique(y)) == set(range(10))
    assert np.array_equal(x[..., 0], x[..., 2])  # grey replicated over channels


def test_resolve_data_file_explicit_env_and_errors(tmp_path, monkeypatch):
    from archscore.data import resolve_data_file

    (tmp_path / "nb201").mkdir()
    table = tmp_path / "nb201" / "t.csv"
    table.write_text("x\n")
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "t.csv").write_text("x\n")
    assert resolve_data_file(table, "nb201/t.csv", "table") == table  # a file is taken as it is
    assert resolve_data_file(tmp_path, "nb201/t.csv", "table") == table  # a folder: the relative path inside it
    assert resolve_data_file(flat, "nb201/t.csv", "table") == flat / "t.csv"  # ... or the bare name
    monkeypatch.setenv("ARCHSCORE_DATA", str(tmp_path))
    assert resolve_data_file(None, "nb201/t.csv", "table") == table  # None: $ARCHSCORE_DATA
    with pytest.raises(FileNotFoundError, match=r"table not found: no .*nb201/u.csv.*\$ARCHSCORE_DATA="):
        resolve_data_file(None, "nb201/u.csv", "table")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_data_file(tmp_path / "missing.csv", "nb201/t.csv", "table")
    monkeypatch.delenv("ARCHSCORE_DATA")
    monkeypatch.chdir(tmp_path)  # never looked up in the current directory
    with pytest.raises(FileNotFoundError, match=r"no table: pass --table, or set \$ARCHSCORE_DATA to the data folder holding nb201/t.csv"):
        resolve_data_file(None, "nb201/t.csv", "table", option="--table")
    monkeypatch.setenv("ARCHSCORE_DATA", str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match="ARCHSCORE_DATA is set to .*typo.*not a folder"):
        resolve_data_file(None, "nb201/t.csv", "table")
