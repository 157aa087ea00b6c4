"""The backward convolutions (input and filter gradients, conv2d_transpose) against NumPy loops."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import nn
from fusejit.ir import get_op

from .reference import conv2d_grads, explicit_pads, same_pads

CASES = [  # n, h, w, c, kh, kw, o, strides, padding, dilations, groups
    (2, 7, 9, 3, 3, 3, 5, (1, 1), "SAME", (1, 1), 1),
    (1, 9, 8, 4, 3, 3, 6, (2, 2), "VALID", (1, 1), 1),
    (2, 10, 11, 6, 3, 2, 6, (1, 2), "SAME", (2, 1), 3),
    (1, 13, 12, 4, 5, 5, 8, (3, 2), [(2, 1), (0, 3)], (1, 2), 2),
    (1, 8, 8, 5, 2, 2, 3, (2, 2), "SAME", (1, 1), 1),
    (3, 6, 6, 4, 3, 3, 4, (1, 1), [(3, 3), (0, 0)], (1, 1), 4),
    (1, 5, 7, 2, 2, 2, 3, (3, 3), [(3, 2), (0, 4)], (1, 1), 1),  # stride > filter: phases with no taps
    (2, 4, 4, 2, 3, 3, 2, (2, 2), [(4, 4), (1, 0)], (1, 1), 2),  # padding wider than the filter
    (1, 9, 9, 3, 3, 3, 4, (2, 2), "SAME", (2, 2), 1),  # strided and dilated: the spread form
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:7])) + f"-s{c[7]}-d{c[9]}-g{c[10]}")
def test_backprops_match_reference(case):
    n, h, w, c, kh, kw, o, st, padding, dil, g = case
    rng = np.random.default_rng(CASES.index(case))
    x = rng.standard_normal((n, h, w, c), dtype=np.float32)
    f = rng.standard_normal((kh, kw, c // g, o), dtype=np.float32)
    p = explicit_pads(padding, h, w, kh, kw, st, dil)
    y = nn.conv2d(x, f, st, padding, dilations=dil, groups=g)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    want_dx, want_dw = conv2d_grads(x, f, dy, st, p, dil, g)

    @fusejit.jit
    def grads(x, f, dy):
        return (nn.conv2d_backprop_input(x.shape, f, dy, st, padding, dilations=dil, groups=g),
                nn.conv2d_backprop_filter(x, f.shape, dy, st, padding, dilations=dil, groups=g))

    dx, dw = grads(x, f, dy)
    tol = 1e-4 * np.sqrt(kh * kw * max(c, o) * n * h * w)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=tol)
    np.testing.assert_allclose(dw, want_dw, rtol=1e-4, atol=tol)
    assert dx.dtype == dw.dtype == np.float32
    ref = get_op("conv2d_backprop_filter").ref(x, dy, ksize=[kh, kw], strides=list(st), pads=list(p),
                                               dilations=list(dil), groups=g)
    np.testing.assert_allclose(ref, want_dw, rtol=1e-4, atol=tol)


def test_backprops_nchw_outside_jit_and_transpose():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 9, 7), dtype=np.float32)  # NCHW
    f = rng.standard_normal((3, 3, 3, 4), dtype=np.float32)
    dy = rng.standard_normal((2, 4, 5, 4), dtype=np.float32)
    xn, dyn = x.transpose(0, 2, 3, 1), dy.transpose(0, 2, 3, 1)
    want_dx, want_dw = conv2d_grads(xn, f, dyn, (2, 2), same_pads(9, 3, 2, 1) + same_pads(7, 3, 2, 1), (1, 1), 1)
    dx = nn.conv2d_backprop_input(x.shape, f, dy, 2, "SAME", data_format="NCHW")
    dw = nn.conv2d_backprop_filter(x, f.shape, dy, 2, "SAME", data_format="NCHW")
    np.testing.assert_allclose(dx.transpose(0, 2, 3, 1), want_dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw, want_dw, rtol=1e-4, atol=1e-4)
    # tf.nn.conv2d_transpose: filters [kh, kw, out, in] and the input gradient of a conv2d
    up = nn.conv2d_transpose(dyn, f, (2, 9, 7, 3), 2, "SAME")
    np.testing.assert_allclose(up, want_dx, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("threads", [1, 2])
def test_filter_gradient_chunks_threads_and_epilogue(threads):
    """Many chunks of rows (a large batch), channel tails on both sides, an SGD update fused after it."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((40, 30, 30, 13), dtype=np.float32)
    dy = rng.standard_normal((40, 30, 30, 21), dtype=np.float32)
    w = rng.standard_normal((3, 3, 13, 21), dtype=np.float32)
    step = fusejit.jit(lambda w, x, dy: w - 0.01 * nn.conv2d_backprop_filter(x, w.shape, dy, 1, "SAME"),
                       threads=threads)
    _, want_dw = conv2d_grads(x, w, dy, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    np.testing.assert_allclose(step(w, x, dy), w - 0.01 * want_dw, rtol=1e-4, atol=1e-3)
    empty = fusejit.jit(lambda x, dy: nn.conv2d_backprop_filter(x, (3, 3, 13, 21), dy, 1, "SAME"))
    np.testing.assert_array_equal(empty(x[:0], dy[:0]), np.zeros((3, 3, 13, 21), np.float32))


def test_backprop_shape_mismatch_is_an_error():
    with pytest.raises(nn.NNError, match="out_backprop is 3x3"):
        nn.conv2d_backprop_input((1, 5, 5, 2), np.zeros((3, 3, 2, 4), np.float32), np.zeros((1, 4, 4, 4), np.float32))


def test_dynamic_batch_including_empty():
    spec = [fusejit.Spec(("B", 9, 9, 3), np.float32), fusejit.Spec((3, 3, 3, 5), np.float32),
            fusejit.Spec(("B", 5, 5, 5), np.float32)]
    f = fusejit.jit(lambda x, w, dy: (nn.conv2d_backprop_input(x.shape, w, dy, 2, "SAME"),
                                      nn.conv2d_backprop_filter(x, w.shape, dy, 2, "SAME")), input_signature=spec)
    rng = np.random.default_rng(12)
    w = rng.standard_normal((3, 3, 3, 5), dtype=np.float32)
    for n in (3, 1, 0):
        x, dy = rng.standard_normal((n, 9, 9, 3), dtype=np.float32), rng.standard_normal((n, 5, 5, 5), dtype=np.float32)
        dx, dw = f(x, w, dy)
        want_dx, want_dw = conv2d_grads(x, w, dy, (2, 2), (1, 1, 1, 1), (1, 1), 1)
        np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(dw, want_dw, rtol=1e-4, atol=1e-4)
    assert f.trace_count == 1
