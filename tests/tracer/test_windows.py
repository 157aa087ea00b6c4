"""sliding_window_view under trace: NumPy's values for any use; convolutions and pools written with it
become the conv2d primitive and fused slice loops (no stacked window copy in the compiled program)."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit

swv = np.lib.stride_tricks.sliding_window_view


def conv_nhwc_einsum(x, w):  # x NHWC, w HWIO, SAME padding by hand
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return np.einsum("nhwcij,ijco->nhwo", swv(xp, (3, 3), axis=(1, 2)), w)


def conv_nchw_strided(x, w):  # x NCHW, w OIHW (PyTorch's layout), stride 2
    return np.einsum("nchwij,ocij->nohw", swv(x, w.shape[2:], axis=(2, 3))[:, :, ::2, ::2], w)


def conv_tensordot_relu(x, w, b):  # x NHWC, w HWIO
    win = swv(x, (w.shape[0], w.shape[1]), axis=(1, 2))  # n oh ow c kh kw
    return np.maximum(np.tensordot(win, w, axes=([3, 4, 5], [2, 0, 1])) + b, 0)


def max_pool(x):
    return swv(x, (2, 2), axis=(1, 2))[:, ::2, ::2].max(axis=(-2, -1))


def avg_pool_nchw(x):
    return np.mean(swv(x, (3, 3), axis=(2, 3)), axis=(4, 5))


def other_use(x):  # windows used some other way: materialized, NumPy's answer
    return swv(x, 3, axis=1).sum(axis=1) * 2 + swv(x, (2, 2, 2))[..., 0, 1, 1].sum()


def kernels(fn, *args):
    return [str(k) for k in fusejit.jit(fn).lower(*args).plan.kernels]


def test_three_numpy_convolutions_become_the_conv_primitive():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 10, 4), dtype=np.float32)
    w = rng.standard_normal((3, 3, 4, 6), dtype=np.float32)
    b = rng.standard_normal(6, dtype=np.float32)
    xc = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    wo = np.ascontiguousarray(w.transpose(3, 2, 0, 1))
    for fn, args in ((conv_nhwc_einsum, (x, w)), (conv_nchw_strided, (xc, wo)), (conv_tensordot_relu, (x, w, b))):
        want = fn(*args)
        got = fusejit.jit(fn)(*args)
        assert got.dtype == want.dtype and got.shape == want.shape, fn.__name__
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=fn.__name__)
        ks = kernels(fn, *args)
        assert any("conv2d_blocked" in k for k in ks) and not any(" dot" in k for k in ks), (fn.__name__, ks)
        ref = fusejit.jit(fn, backend="reference")(*args)
        np.testing.assert_allclose(ref, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fn", [max_pool, avg_pool_nchw])
def test_pools_written_with_windows(fn):
    x = np.random.default_rng(1).standard_normal((2, 7, 9, 3))
    x[0, 0, 0, 0] = np.nan
    got, want = fusejit.jit(fn)(x), fn(x)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert len(kernels(fn, x)) == 1


def test_other_uses_of_windows_match_numpy():
    x = np.arange(60, dtype=np.int64).reshape(3, 4, 5)
    np.testing.assert_array_equal(fusejit.jit(other_use)(x), other_use(x))
    f = fusejit.jit(lambda x: swv(x, (2, 3), axis=(2, 1)).max(axis=(-1, -2)) + swv(x, 2, axis=0)[1::2].min())
    np.testing.assert_array_equal(f(x), swv(x, (2, 3), axis=(2, 1)).max(axis=(-1, -2)) + swv(x, 2, axis=0)[1::2].min())
    with pytest.raises(ValueError, match="larger than input"):
        fusejit.jit(lambda x: swv(x, 6, axis=2))(x)
