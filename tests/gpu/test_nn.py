"""fusejit.nn on the GPU backend (simulated): the decompositions lower like any NumPy code; the
convolution primitives are refused with an error naming the op."""

from __future__ import annotations

import numpy as np
import pytest

from fusejit import jit, nn
from fusejit.codegen.cuda import CudaLoweringError

pytestmark = pytest.mark.usefixtures("sim")


def test_pool_norm_activation_loss_on_gpu():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 6, 3), dtype=np.float32)
    scale, offset = np.ones(3, np.float32), np.zeros(3, np.float32)
    labels = np.array([1, 2])

    def f(x):
        y, _, _ = nn.fused_batch_norm(x, scale, offset)
        h = nn.avg_pool2d(nn.gelu(nn.max_pool2d(y, 2, 2, "SAME")), 2, 1, "VALID")
        logits = np.reshape(h, (2, -1))[:, :3]
        return nn.sparse_softmax_cross_entropy_with_logits(labels, logits), nn.softmax(logits)

    got, want = jit(f, device="gpu")(x), f(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_convolutions_are_refused_by_name():
    x, w = np.ones((1, 5, 5, 2), np.float32), np.ones((3, 3, 2, 4), np.float32)
    with pytest.raises(CudaLoweringError, match="conv2d has no GPU kernel"):
        jit(lambda x, w: nn.conv2d(x, w), device="gpu")(x, w)
    with pytest.raises(CudaLoweringError, match="conv2d_backprop_filter has no GPU kernel"):
        jit(lambda x, dy: nn.conv2d_backprop_filter(x, (3, 3, 2, 4), dy), device="gpu")(x, np.ones((1, 3, 3, 4),
                                                                                                 np.float32))
