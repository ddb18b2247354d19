"""Shared fixtures. Tests that need the shared benchmark data skip cleanly without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """``$ARCHSCORE_DATA`` or ``../shared/data`` beside the checkout, if present."""
    env = os.environ.get("ARCHSCORE_DATA")
    for candidate in ([Path(env)] if env else []) + [REPO_ROOT.parent / "shared" / "data"]:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Test nets are tiny: one thread avoids oversubscribing CI's two cores, and any
    command under test that changes the thread count (demo, benches) is undone."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("shared benchmark data not found: set $ARCHSCORE_DATA or place it at ../shared/data")
    return d


@pytest.fixture(scope="session")
def nb201_csv(data_dir: Path) -> Path:
    p = data_dir / "nb201" / "nb201_cifar10.csv"
    if not p.is_file():
        pytest.skip(f"{p} not found in the shared data")
    return p
