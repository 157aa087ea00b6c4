"""The nine real CNNs shipped in the ``onnx`` wheel (``onnx/backend/test/data/light``; weights made by
``ConstantOfShape``, folded at import): each loads, compiles and matches its shipped output.

Input and tolerance as ONNX's own runner (``onnx.backend.test.runner``): ``np.arange(n).reshape(shape) / n``
as float32; ``rtol=1e-3, atol=1e-7``. The models in ``HEAVY`` (the largest compiles) run only with
``FUSEJIT_ONNX_HEAVY=1``, so CI stays near a minute on one core: VGG-19 and ZFNet-512 carry 548 and
350 MB of weights (their compile time is memory traffic: filling, hashing and copying them), ResNet-50,
DenseNet-121 and Inception v1/v2 the most kernels (Inception v1: 21 s, 14 s of it LLVM on its 57
convolution kernels).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

import fusejit.onnx as fo  # noqa: E402

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MODELS = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "squeezenet",
          "vgg19", "zfnet512"]
HEAVY = {"densenet121", "inception_v1", "inception_v2", "resnet50", "vgg19", "zfnet512"}


def dummy_input(model: onnx.ModelProto) -> np.ndarray:
    """ONNX's ``generate_dummy_data`` for the one graph input that is not an initializer."""
    inits = {t.name for t in model.graph.initializer}
    (inp,) = [i for i in model.graph.input if i.name not in inits]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


@pytest.mark.parametrize("name", MODELS)
def test_light_model_matches_its_shipped_output(name: str) -> None:
    if name in HEAVY and not os.environ.get("FUSEJIT_ONNX_HEAVY"):
        pytest.skip("a heavy compile: set FUSEJIT_ONNX_HEAVY=1")
    path = LIGHT / f"light_{name}.onnx"
    if not path.exists():
        pytest.skip(f"this onnx wheel does not ship {path.name}")
    expected = numpy_helper.to_array(onnx.load_tensor(str(LIGHT / f"light_{name}_output_0.pb")))
    got = fo.jit(path)(dummy_input(onnx.load(str(path))))
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-7)
