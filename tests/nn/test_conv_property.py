"""Random convolution geometries (hypothesis): forward and both gradients against the NumPy loops.

The CI profile runs a short derandomized set; HYPOTHESIS_PROFILE=dev explores 10x more."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import fusejit
from fusejit import nn

from .reference import conv2d_grads, conv2d_nhwc


@st.composite
def geometries(draw):
    groups = draw(st.integers(1, 3))
    cg, og = draw(st.integers(1, 4)), draw(st.integers(1, 20))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw, dh, dw = (draw(st.integers(1, 3)) for _ in range(4))
    pads = tuple(draw(st.integers(0, 3)) for _ in range(4))
    h = draw(st.integers(max(1, (kh - 1) * dh + 1 - pads[0] - pads[1]), 10))
    w = draw(st.integers(max(1, (kw - 1) * dw + 1 - pads[2] - pads[3]), 10))
    return draw(st.integers(1, 2)), h, w, groups, cg, og, kh, kw, (sh, sw), pads, (dh, dw)


@settings(deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**16))
def test_random_geometries_match_reference(geo, seed):
    n, h, w, groups, cg, og, kh, kw, strides, pads, dil = geo
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, cg * groups), dtype=np.float32)
    f = rng.standard_normal((kh, kw, cg, og * groups), dtype=np.float32)
    padding = [pads[:2], pads[2:]]
    want = conv2d_nhwc(x, f, strides, pads, dil, groups)
    dy = rng.standard_normal(want.shape, dtype=np.float32)
    want_dx, want_dw = conv2d_grads(x, f, dy, strides, pads, dil, groups)

    @fusejit.jit
    def run(x, f, dy):
        return (nn.conv2d(x, f, strides, padding, dilations=dil, groups=groups),
                nn.conv2d_backprop_input(x.shape, f, dy, strides, padding, dilations=dil, groups=groups),
                nn.conv2d_backprop_filter(x, f.shape, dy, strides, padding, dilations=dil, groups=groups))

    y, dx, dw = run(x, f, dy)
    tol = 1e-4 * np.sqrt(kh * kw * cg * og * n * h * w)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=tol)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=tol)
    np.testing.assert_allclose(dw, want_dw, rtol=1e-4, atol=tol)
