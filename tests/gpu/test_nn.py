"""fusejit.nn on the GPU backend (simulated): the convolution kernels (with fused epilogues) and the
decompositions against NumPy references."""

from __future__ import annotations

import numpy as np
import pytest

from fusejit import jit, nn
from tests.nn.reference import conv2d_grads, conv2d_nhwc, same_pads

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


@pytest.mark.parametrize("st, padding, dil, groups", [((1, 1), "SAME", (1, 1), 1), ((2, 1), "VALID", (1, 2), 2),
                                                       ((2, 2), [(1, 0), (2, 1)], (1, 1), 1)])
def test_convolutions_and_gradients_on_gpu(st, padding, dil, groups):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 7, 6, 4), dtype=np.float32)
    w = rng.standard_normal((3, 2, 4 // groups, 6), dtype=np.float32)
    b = rng.standard_normal(6, dtype=np.float32)
    pads = (0, 0, 0, 0) if padding == "VALID" else same_pads(7, 3, st[0], dil[0]) + same_pads(6, 2, st[1], dil[1]) \
        if padding == "SAME" else padding[0] + padding[1]
    y = conv2d_nhwc(x, w, st, pads, dil, groups)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    want_dx, want_dw = conv2d_grads(x, w, dy, st, pads, dil, groups)

    def f(x, w, b, dy):
        fwd = nn.relu(nn.conv2d(x, w, st, padding, dilations=dil, groups=groups) + b)
        dx = nn.conv2d_backprop_input(x.shape, w, dy, st, padding, dilations=dil, groups=groups)
        dw = nn.conv2d_backprop_filter(x, w.shape, dy, st, padding, dilations=dil, groups=groups)
        return fwd, dx, dw

    fwd, dx, dw = jit(f, device="gpu")(x, w, b, dy)
    np.testing.assert_allclose(fwd, np.maximum(y + b, 0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw, want_dw, rtol=1e-4, atol=1e-4)
