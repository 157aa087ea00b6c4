"""fusejit.nn decompositions inside jit (compiled) and outside (NumPy), against references written here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

import fusejit
from fusejit import nn

from .reference import conv2d_nhwc, pool2d_nhwc, same_pads


def both(fn, *args, **kw):
    """``fn(*args)`` compiled by jit and run eagerly on NumPy arrays; the two must agree closely."""
    got = fusejit.jit(lambda *a: fn(*a, **kw))(*args)
    eager = fn(*args, **kw)
    for g, e in zip(got if isinstance(got, tuple) else (got,), eager if isinstance(eager, tuple) else (eager,)):
        assert np.asarray(g).dtype == np.asarray(e).dtype and np.shape(g) == np.shape(e)
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=1e-6)
    return got


X = np.random.default_rng(0).standard_normal((3, 17), dtype=np.float32) * 4
X[0, :4] = [0.0, -0.0, 30.0, -30.0]
ACTIVATIONS = {
    "relu": lambda v: max(v, 0.0), "relu6": lambda v: min(max(v, 0.0), 6.0),
    "leaky_relu": lambda v: v if v > 0 else 0.2 * v, "elu": lambda v: v if v > 0 else math.expm1(v),
    "selu": lambda v: 1.0507009873554805 * (v if v > 0 else 1.6732632423543772 * math.expm1(v)),
    "sigmoid": lambda v: 1 / (1 + math.exp(-v)), "tanh": math.tanh,
    "softplus": lambda v: math.log1p(math.exp(v)) if v < 30 else v + math.log1p(math.exp(-v)),
    "softsign": lambda v: v / (1 + abs(v)), "silu": lambda v: v / (1 + math.exp(-v)),
    "gelu": lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations(name):
    got = both(getattr(nn, name), X)
    want = np.vectorize(ACTIVATIONS[name])(X.astype(np.float64))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_gelu_approximate_softmax_log_softmax():
    v = X.astype(np.float64)
    tanh_form = 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v**3)))
    np.testing.assert_allclose(both(nn.gelu, X, approximate=True), tanh_form, rtol=1e-5, atol=1e-6)
    e = np.exp(v - v.max(-1, keepdims=True))
    np.testing.assert_allclose(both(nn.softmax, X), e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(both(nn.log_softmax, X, axis=0), v - special.logsumexp(v, 0, keepdims=True),
                               rtol=1e-5, atol=1e-5)


def test_losses():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((4, 6)) * 3
    labels = special.softmax(rng.standard_normal((4, 6)), -1)
    lse = special.logsumexp(logits, -1)
    np.testing.assert_allclose(both(nn.softmax_cross_entropy_with_logits, labels, logits),
                               -(labels * (logits - lse[:, None])).sum(-1), rtol=1e-10)
    cls = np.array([0, 5, 2, 3])
    np.testing.assert_allclose(both(nn.sparse_softmax_cross_entropy_with_logits, cls, logits),
                               lse - logits[np.arange(4), cls], rtol=1e-10)
    z = rng.uniform(size=(4, 6))
    sig = special.expit(logits)
    np.testing.assert_allclose(both(nn.sigmoid_cross_entropy_with_logits, z, logits),
                               -(z * np.log(sig) + (1 - z) * np.log(1 - sig)), rtol=1e-9)
    np.testing.assert_allclose(both(nn.weighted_cross_entropy_with_logits, z, logits, 2.5),
                               -(2.5 * z * np.log(sig) + (1 - z) * np.log(1 - sig)), rtol=1e-9)
    np.testing.assert_allclose(both(nn.l2_loss, logits), (logits**2).sum() / 2)
    pred = logits + rng.standard_normal((4, 6)) * 2
    e = np.abs(pred - z)
    hub = np.where(e <= 1.5, 0.5 * e**2, 1.5 * (e - 0.75))
    np.testing.assert_allclose(both(nn.huber_loss, z, pred, delta=1.5), hub.mean())
    w = np.array([1.0, 0.0, 2.0, 0.5])[:, None]
    np.testing.assert_allclose(both(nn.mean_squared_error, z, pred, w),
                               ((pred - z) ** 2 * w).sum() / (np.broadcast_to(w, z.shape) != 0).sum())
    with pytest.raises(IndexError):
        fusejit.jit(nn.sparse_softmax_cross_entropy_with_logits)(np.array([0, -1, 2, 3]), logits)


def test_normalizations():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 5, 6, 3))
    scale, offset = rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    m, v = x.mean((0, 1, 2)), x.var((0, 1, 2))
    want = (x - m) / np.sqrt(v + 1e-3) * scale + offset
    y, bm, bv = both(nn.fused_batch_norm, x, scale, offset)
    np.testing.assert_allclose(y, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bv, x.var((0, 1, 2), ddof=1), rtol=1e-10)
    xc = x.transpose(0, 3, 1, 2)
    y2, _, _ = both(nn.fused_batch_norm, xc, scale, offset, m, v, is_training=False, data_format="NCHW")
    np.testing.assert_allclose(y2, want.transpose(0, 3, 1, 2), rtol=1e-9, atol=1e-12)
    _, rm, _ = nn.fused_batch_norm(x, scale, offset, m * 0, v, exponential_avg_factor=0.1)
    np.testing.assert_allclose(rm, 0.1 * m)
    ln = both(nn.layer_norm, x, scale, offset, epsilon=1e-5)
    np.testing.assert_allclose(ln, (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
                               * scale + offset, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(both(nn.l2_normalize, x, axis=3), x / np.linalg.norm(x, axis=3, keepdims=True))
    lrn = both(nn.local_response_normalization, x, depth_radius=1, bias=2.0, alpha=0.5, beta=0.75)
    sq = np.stack([(x[..., max(c - 1, 0):c + 2] ** 2).sum(-1) for c in range(3)], -1)
    np.testing.assert_allclose(lrn, x / (2 + 0.5 * sq) ** 0.75, rtol=1e-12)


@pytest.mark.parametrize("shape, k, s, padding", [
    ((2, 7, 9, 3), (2, 2), (2, 2), "VALID"), ((1, 7, 9, 3), (3, 3), (2, 2), "SAME"),
    ((2, 5, 5, 4), (3, 2), (1, 2), "SAME"), ((1, 6, 5, 1), (2, 3), (3, 1), [(1, 0), (2, 2)]),
])
@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_pools(shape, k, s, padding, fmt):
    x = np.random.default_rng(3).standard_normal(shape, dtype=np.float32)
    x[0, 0, 0, 0] = -np.inf
    pads = (0, 0, 0, 0) if padding == "VALID" else same_pads(shape[1], k[0], s[0], 1) + same_pads(
        shape[2], k[1], s[1], 1) if padding == "SAME" else padding[0] + padding[1]
    xin = x if fmt == "NHWC" else x.transpose(0, 3, 1, 2)
    back = (lambda y: y) if fmt == "NHWC" else (lambda y: y.transpose(0, 2, 3, 1))
    want_max, want_arg = pool2d_nhwc(x, k, s, pads, "max")
    np.testing.assert_array_equal(back(both(nn.max_pool2d, xin, k, s, padding, data_format=fmt)), want_max)
    xa = np.where(np.isinf(x), 0, x)
    got = back(both(nn.avg_pool2d, xa if fmt == "NHWC" else xa.transpose(0, 3, 1, 2), k, s, padding,
                    data_format=fmt))
    np.testing.assert_allclose(got, pool2d_nhwc(xa, k, s, pads, "avg")[0], rtol=1e-6, atol=1e-6)
    if fmt == "NHWC":
        vals, arg = both(nn.max_pool_with_argmax, x, k, s, padding)
        np.testing.assert_array_equal(vals, want_max)
        np.testing.assert_array_equal(arg, want_arg)
        _, arg_b = nn.max_pool_with_argmax(x, k, s, padding, include_batch_in_index=True)
        np.testing.assert_array_equal(arg_b, want_arg + np.arange(shape[0])[:, None, None, None] * x[0].size)
        np.testing.assert_allclose(both(nn.global_avg_pool, xa), xa.mean((1, 2)), rtol=1e-6)
        np.testing.assert_array_equal(both(nn.global_max_pool, x, keepdims=True), x.max((1, 2), keepdims=True))


def test_conv_pool_network_kernels():
    """conv -> bias -> relu -> max_pool: bias and relu are applied by the convolution kernel as it stores,
    the pool is one more loop over its output."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 12, 12, 3), dtype=np.float32)
    w = rng.standard_normal((5, 5, 3, 8), dtype=np.float32)
    b = rng.standard_normal(8, dtype=np.float32)

    def f(x):
        return nn.max_pool2d(nn.relu(nn.bias_add(nn.conv2d(x, w, 1, "SAME"), b)), 2, 2, "SAME")

    want, _ = pool2d_nhwc(np.maximum(conv2d_nhwc(x, w, (1, 1), (2, 2, 2, 2), (1, 1), 1) + b, 0), (2, 2), (2, 2),
                          (0, 0, 0, 0), "max")
    jf = fusejit.jit(f)
    np.testing.assert_allclose(jf(x), want, rtol=1e-4, atol=1e-4)
    kinds = [str(k) for k in jf.lower(x).plan.kernels]
    assert [k.split(": ")[1] for k in kinds[-2:]] == ["conv2d_blocked", "slice slice max slice max slice max"], kinds


@pytest.mark.parametrize("mult, s, padding, dil, fmt", [
    (1, (1, 1), "SAME", (1, 1), "NHWC"), (1, (2, 1), "VALID", (1, 2), "NCHW"), (2, (1, 1), "SAME", (2, 2), "NHWC"),
])
def test_depthwise_separable(mult, s, padding, dil, fmt):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 9, 8, 4), dtype=np.float32)
    f = rng.standard_normal((3, 3, 4, mult), dtype=np.float32)
    pads = (0, 0, 0, 0) if padding == "VALID" else same_pads(9, 3, s[0], dil[0]) + same_pads(8, 3, s[1], dil[1])
    want = conv2d_nhwc(x, f.reshape(3, 3, 1, 4 * mult), s, pads, dil, 4)
    xin = x if fmt == "NHWC" else x.transpose(0, 3, 1, 2)
    got = both(nn.depthwise_conv2d, xin, f, s, padding, data_format=fmt, dilations=dil)
    got = got if fmt == "NHWC" else got.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    pw = rng.standard_normal((1, 1, 4 * mult, 5), dtype=np.float32)
    sep = both(nn.separable_conv2d, xin, f, pw, s, padding, data_format=fmt, dilations=dil)
    sep = sep if fmt == "NHWC" else sep.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(sep, want @ pw[0, 0], rtol=1e-4, atol=1e-4)


def test_conv1d():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 11, 3), dtype=np.float32)
    f = rng.standard_normal((3, 3, 4), dtype=np.float32)
    want = conv2d_nhwc(x[:, None], f[None], (1, 2), (0, 0) + same_pads(11, 3, 2, 1), (1, 1), 1)[:, 0]
    np.testing.assert_allclose(nn.conv1d(x, f, 2, "SAME"), want, rtol=1e-4, atol=1e-4)
    got = fusejit.jit(lambda a, b: nn.conv1d(a, b, 2, "SAME", data_format="NCW"))(x.transpose(0, 2, 1), f)
    np.testing.assert_allclose(got.transpose(0, 2, 1), want, rtol=1e-4, atol=1e-4)


def test_misc():
    rng = np.random.default_rng(7)
    table = rng.standard_normal((6, 3))
    ids = np.array([[0, 5], [2, 2]])
    np.testing.assert_array_equal(both(nn.embedding_lookup, table, ids), table[ids])
    oh = both(nn.one_hot, np.array([0, 3, -1, 7]), 4, 2.0, -1.0)
    np.testing.assert_array_equal(oh, [[2, -1, -1, -1], [-1, -1, -1, 2], [-1] * 4, [-1] * 4])
    assert nn.one_hot(np.array([1]), 3, axis=0).shape == (3, 1)
    x = np.array([[1.0, 3.0, 3.0, 2.0], [0.0, -1.0, 5.0, np.nan]])
    vals, idx = nn.top_k(x, 2)
    np.testing.assert_array_equal(idx[0], [1, 2])
    v1, i1 = both(nn.top_k, x[:1], 1)
    assert (v1[0, 0], i1[0, 0]) == (3.0, 1)
    with pytest.raises(nn.NNError, match="no sort primitive"):
        fusejit.jit(lambda a: nn.top_k(a, 2))(x)
    pred = np.array([[0.1, 0.5, 0.5, 0.2], [0.3, np.inf, 0.2, 0.1]])
    got = both(nn.in_top_k, pred, np.array([2, 1]), 1)
    np.testing.assert_array_equal(got, [True, False])
    np.testing.assert_array_equal(both(nn.in_top_k, pred, np.array([4, 0]), 2), [False, True])
    np.testing.assert_allclose(both(nn.bias_add, x[:, :3, None], np.ones(3), "NCHW"), x[:, :3, None] + 1)
