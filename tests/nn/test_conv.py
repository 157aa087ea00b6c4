"""fusejit.nn.conv2d against a loop-by-loop NumPy reference (and PyTorch when installed)."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import nn
from fusejit.ir import get_op

from .reference import conv2d_nhwc, explicit_pads

CASES = [  # n, h, w, c, kh, kw, o, strides, padding, dilations, groups
    (2, 7, 9, 3, 3, 3, 5, (1, 1), "SAME", (1, 1), 1),
    (1, 8, 8, 4, 3, 3, 40, (2, 2), "VALID", (1, 1), 1),
    (2, 10, 11, 6, 3, 2, 6, (1, 2), "SAME", (2, 1), 3),
    (1, 9, 7, 2, 1, 1, 17, (1, 1), "VALID", (1, 1), 1),
    (3, 12, 12, 16, 3, 3, 64, (1, 1), "SAME", (1, 1), 1),
    (1, 13, 13, 8, 5, 5, 33, (3, 2), [(2, 1), (0, 3)], (1, 2), 1),
    (2, 6, 15, 8, 3, 3, 8, (1, 1), "SAME", (1, 1), 8),
    (1, 16, 16, 32, 3, 3, 96, (2, 2), "SAME", (1, 1), 2),
    (1, 5, 5, 1, 5, 5, 1, (1, 1), "VALID", (1, 1), 1),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:7])) + f"-s{c[7]}-{c[8]}-d{c[9]}-g{c[10]}")
@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_conv2d_matches_reference(case, fmt):
    n, h, w, c, kh, kw, o, st, padding, dil, g = case
    rng = np.random.default_rng(CASES.index(case))
    x = rng.standard_normal((n, h, w, c), dtype=np.float32)
    f = rng.standard_normal((kh, kw, c // g, o), dtype=np.float32)
    want = conv2d_nhwc(x, f, st, explicit_pads(padding, h, w, kh, kw, st, dil), dil, g)
    xin = x if fmt == "NHWC" else x.transpose(0, 3, 1, 2).copy()
    got = fusejit.jit(lambda a, b: nn.conv2d(a, b, st, padding, data_format=fmt, dilations=dil, groups=g))(xin, f)
    if fmt == "NCHW":
        got = got.transpose(0, 2, 3, 1)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(kh * kw * c))
    # the registry's reference (what backend="reference" runs) agrees too
    ref = get_op("conv2d").ref(x, f, strides=list(st), pads=list(explicit_pads(padding, h, w, kh, kw, st, dil)),
                               dilations=list(dil), groups=g)
    np.testing.assert_allclose(ref, want, rtol=1e-4, atol=1e-4 * np.sqrt(kh * kw * c))


def test_conv2d_float64_strided_input_and_fused_epilogue():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 20, 5))[:, :, ::2]  # a strided graph input
    w = rng.standard_normal((3, 3, 5, 7))
    b, res = rng.standard_normal(7), rng.standard_normal((2, 9, 10, 7))
    fn = fusejit.jit(lambda x, w, b, r: np.maximum(nn.conv2d(x, w, 1, "SAME") + b, 0) + r)
    want = np.maximum(conv2d_nhwc(x, w, (1, 1), (1, 1, 1, 1), (1, 1), 1) + b, 0) + res
    got = fn(x, w, b, res)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    kinds = [str(k) for k in fn.lower(x, w, b, res).plan.kernels]
    # bias + relu applied by the kernel as it stores; the residual add fused after it in the same kernel
    assert [k for k in kinds if "conv2d_blocked" in k] == ["dot kernel over (2, 9, 10, 7): conv2d_blocked add"], kinds


def test_conv2d_outside_jit_symbolic_batch_and_reference_backend():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 6, 4), dtype=np.float32)
    w = rng.standard_normal((3, 3, 4, 8), dtype=np.float32)
    want = conv2d_nhwc(x, w, (1, 1), (0, 0, 0, 0), (1, 1), 1)
    np.testing.assert_allclose(nn.conv2d(x, w), want, rtol=1e-4, atol=1e-4)  # NumPy arrays: compiled and run
    spec = fusejit.jit(lambda a, b: nn.conv2d(a, b), input_signature=[
        fusejit.Spec((None, 6, 6, 4), np.float32), fusejit.Spec((3, 3, 4, 8), np.float32)])
    for nb in (1, 3):
        np.testing.assert_allclose(spec(x[:nb], w), want[:nb], rtol=1e-4, atol=1e-4)
    ref = fusejit.jit(lambda a, b: nn.conv2d(a, b), backend="reference")
    np.testing.assert_allclose(ref(x, w), want, rtol=1e-4, atol=1e-4)


EPILOGUES = {
    "bias_relu": lambda y, p: nn.relu(nn.bias_add(y, p[0])),
    "batch_norm_relu": lambda y, p: nn.relu(nn.batch_normalization(y, p[0], p[1] * p[1] + 0.5, p[2], p[3], 1e-3)),
    "shift_minus_conv": lambda y, p: np.maximum(0, (p[0] - y) * p[1]),
    "relu_only": lambda y, p: nn.relu(y),
}


@pytest.mark.parametrize("name", sorted(EPILOGUES))
def test_channel_epilogues_in_the_kernel_are_bitwise_the_separate_ops(name):
    """Per-channel + - * and relu after a convolution run in its kernel as it stores: the same float
    operations as the separate kernels of fuse=False (np.maximum: NaN kept, -0.0 -> +0.0)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 7, 7, 5), dtype=np.float32)
    x[0, 3, 3, :] = np.nan
    w = rng.standard_normal((3, 3, 5, 19), dtype=np.float32)
    p = [rng.standard_normal(19, dtype=np.float32) for _ in range(4)]
    p[0][0] = -np.inf

    def f(x, w, *p):
        return EPILOGUES[name](nn.conv2d(x, w, 1, "SAME"), p)

    fused = fusejit.jit(f)
    assert [str(k) for k in fused.lower(x, w, *p).plan.kernels][-1].endswith("conv2d_blocked")
    got, want = fused(x, w, *p), fusejit.jit(f, fuse=False)(x, w, *p)
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got).any() and not np.signbit(got[got == 0]).any()


@pytest.mark.parametrize("threads", [1, 2])
def test_conv2d_threads_give_identical_bits(threads):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 30, 30, 16), dtype=np.float32)
    w = rng.standard_normal((3, 3, 16, 32), dtype=np.float32)
    one = fusejit.jit(lambda a, b: nn.conv2d(a, b, padding="SAME"), threads=1)(x, w)
    got = fusejit.jit(lambda a, b: nn.conv2d(a, b, padding="SAME"), threads=threads)(x, w)
    np.testing.assert_array_equal(got, one)
    epi = fusejit.jit(lambda a, b: nn.elu(nn.conv2d(a, b, padding="SAME") * 0.5 + a[..., :1]), threads=threads)
    np.testing.assert_allclose(epi(x, w), nn.elu(one * 0.5 + x[..., :1]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda x, w: nn.conv2d(x.astype(np.int32), w.astype(np.int8)), "nn.conv2d needs float32 or float64"),
    (lambda x, w: nn.conv2d(x, w, padding="FULL"), "'SAME', 'VALID'"),
    (lambda x, w: nn.conv2d(x, w, strides=0), "strides must be positive"),
    (lambda x, w: nn.conv2d(x, w, strides=[2, 1, 1, 1]), "batch and channel"),
    (lambda x, w: nn.conv2d(x, w[:, :, :3]), "input channels 4 are not a multiple of the filters' in_channels 3"),
    (lambda x, w: nn.conv2d(x, w[:, :, :2], groups=3), "do not fit groups=3"),
    (lambda x, w: nn.conv2d(x[:, :2, :2], w), "does not fit"),
    (lambda x, w: nn.conv2d(x, w, data_format="NWHC"), "data_format"),
    (lambda x, w: nn.conv2d(x[0], w), "4-d"),
])
def test_conv2d_errors_name_the_problem(call, message):
    x = np.zeros((1, 5, 5, 4), np.float32)
    w = np.zeros((3, 3, 4, 2), np.float32)
    with pytest.raises(nn.NNError, match=message):
        call(x, w)


def test_conv2d_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 11, 13), dtype=np.float32)  # NCHW
    w = rng.standard_normal((3, 3, 3, 12), dtype=np.float32)  # HWIO, groups=2
    got = nn.conv2d(x, w, strides=(2, 1), padding=[(1, 1), (2, 0)], data_format="NCHW", dilations=(1, 2), groups=2)
    tw = torch.from_numpy(w.transpose(3, 2, 0, 1).copy())
    tx = torch.nn.functional.pad(torch.from_numpy(x), (2, 0, 1, 1))
    want = torch.nn.functional.conv2d(tx, tw, stride=(2, 1), dilation=(1, 2), groups=2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
