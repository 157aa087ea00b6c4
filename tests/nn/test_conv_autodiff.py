"""Gradient rules of the convolution primitives (and of the pooling decompositions) by central differences."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import nn
from fusejit.ir import Graph, get_op, make
from fusejit.ir.graph import Node
from fusejit.ir.registry import GradientError
from fusejit.ir.shapes import TensorType


def central(f, args, i, eps=1e-6):
    """d f(*args) / d args[i] by central differences (float64)."""
    x = args[i]
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        hi, lo = [a.copy() for a in args], [a.copy() for a in args]
        hi[i][idx] += eps
        lo[i][idx] -= eps
        out[idx] = (f(*hi) - f(*lo)) / (2 * eps)
    return out


CASES = [  # x shape, w shape, strides, padding, dilations, groups
    ((2, 5, 6, 3), (3, 2, 3, 4), (1, 1), "SAME", (1, 1), 1),
    ((1, 7, 6, 4), (3, 3, 2, 4), (2, 2), "VALID", (1, 1), 2),
    ((1, 6, 7, 2), (2, 3, 2, 3), (2, 1), [(1, 2), (0, 1)], (2, 1), 1),
]


@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_conv2d_gradients(case):
    xs, ws, st, padding, dil, g = case
    rng = np.random.default_rng(CASES.index(case))
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    r = rng.standard_normal(nn.conv2d(x, w, st, padding, dilations=dil, groups=g).shape)

    def loss(x, w):
        return np.sum(np.tanh(nn.conv2d(x, w, st, padding, dilations=dil, groups=g)) * r)

    dx, dw = fusejit.grad(loss, argnums=(0, 1))(x, w)
    np.testing.assert_allclose(dx, central(loss, [x, w], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, central(loss, [x, w], 1), rtol=1e-6, atol=1e-8)


def test_backprop_filter_gradients_second_order():
    rng = np.random.default_rng(9)
    x, dy = rng.standard_normal((2, 6, 5, 2)), rng.standard_normal((2, 3, 3, 4))
    G = rng.standard_normal((3, 3, 2, 4))

    def loss(x, dy):
        return np.sum(nn.conv2d_backprop_filter(x, (3, 3, 2, 4), dy, 2, "SAME") * G)

    dx, ddy = fusejit.grad(loss, argnums=(0, 1))(x, dy)
    np.testing.assert_allclose(dx, central(loss, [x, dy], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ddy, central(loss, [x, dy], 1), rtol=1e-6, atol=1e-8)

    # the weight gradient of a conv layer, differentiated again through its input
    def hess(x, w):
        return np.sum(fusejit.grad(lambda w: np.sum(nn.conv2d(x, w, 1, "SAME") ** 2))(w) * G[..., :2, :])

    w = rng.standard_normal((3, 3, 2, 4))
    np.testing.assert_allclose(fusejit.grad(hess)(x, w), central(hess, [x, w], 0), rtol=1e-5, atol=1e-7)


def test_pool_and_cnn_loss_gradients():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 8, 8, 1))
    w = rng.standard_normal((3, 3, 1, 4)) * 0.5
    b = rng.standard_normal(4)
    labels = np.array([1, 3])

    def loss(w, b):
        h = nn.max_pool2d(nn.relu(nn.bias_add(nn.conv2d(x, w, 1, "SAME"), b)), 2, 2, "VALID")
        h = nn.avg_pool2d(h, 3, 2, "SAME")
        logits = np.reshape(nn.global_avg_pool(h, keepdims=True), (2, 4)) * 3
        return np.mean(nn.sparse_softmax_cross_entropy_with_logits(labels, logits))

    dw, db = fusejit.grad(loss, argnums=(0, 1))(w, b)
    np.testing.assert_allclose(dw, central(loss, [w, b], 0), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(db, central(loss, [w, b], 1), rtol=1e-5, atol=1e-8)


def test_blocked_layout_is_not_differentiated():
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), (1, 4, 4, 2)), name="x")
    wp = Node("input", (), {}, TensorType(np.dtype(np.float32), (1, 1, 3, 3, 2, 16)), name="w")
    node = make("conv2d_blocked", x, wp, strides=[1, 1], dilations=[1, 1], out_channels=5, epilogue=[], relu=False)

    with pytest.raises(GradientError, match="differentiate the conv2d"):
        get_op("conv2d_blocked").vjp(node, node)
    assert Graph([x, wp], [node]).evaluate(np.ones((1, 4, 4, 2), np.float32),
                                           np.ones((1, 1, 3, 3, 2, 16), np.float32))[0].shape == (1, 2, 2, 5)
