"""examples/train_mnist_cnn.py --small: the deep-MNIST CNN learns the 8x8 digits, and the frozen,
AOT-compiled model called from C predicts exactly what the jitted Python predict does."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_mnist_cnn.py"


def test_small_run(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    pytest.importorskip("tqdm")
    if shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    spec = importlib.util.spec_from_file_location("train_mnist_cnn", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(small=True, epochs=None, out=tmp_path)
    assert result["test_acc"] > 0.9, result["history"]
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]
    assert result["c_predictions"] == result["python_predictions"]
    assert (tmp_path / "curves.png").stat().st_size > 1000
