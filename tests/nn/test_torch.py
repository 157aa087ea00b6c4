"""fusejit.nn against PyTorch's own implementations (skipped when torch is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import nn

torch = pytest.importorskip("torch")
F = torch.nn.functional


def nchw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


def oihw(w: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))


@pytest.mark.parametrize("stride, pad, dil, groups", [(1, 1, 1, 1), (2, 0, 1, 2), (1, 2, 2, 4), (3, 1, 1, 1)])
def test_conv_and_its_gradients_match_torch(stride, pad, dil, groups):
    rng = np.random.default_rng(stride * 10 + pad)
    x = rng.standard_normal((2, 11, 10, 8), dtype=np.float32)
    w = rng.standard_normal((3, 3, 8 // groups, 12), dtype=np.float32)
    padding = [(pad, pad), (pad, pad)]
    y = fusejit.jit(lambda x, w: nn.conv2d(x, w, stride, padding, dilations=dil, groups=groups))(x, w)
    ty = F.conv2d(nchw(x), oihw(w), stride=stride, padding=pad, dilation=dil, groups=groups)
    np.testing.assert_allclose(y, ty.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    dx = nn.conv2d_backprop_input(x.shape, w, dy, stride, padding, dilations=dil, groups=groups)
    dw = nn.conv2d_backprop_filter(x, w.shape, dy, stride, padding, dilations=dil, groups=groups)
    tdx = torch.nn.grad.conv2d_input(nchw(x).shape, oihw(w), nchw(dy), stride, pad, dil, groups)
    tdw = torch.nn.grad.conv2d_weight(nchw(x), oihw(w).shape, nchw(dy), stride, pad, dil, groups)
    np.testing.assert_allclose(dx, tdx.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dw, tdw.numpy().transpose(2, 3, 1, 0), rtol=1e-4, atol=1e-3)


def test_pools_norms_activations_losses_match_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 9, 5), dtype=np.float32)
    tx = nchw(x)
    f = fusejit.jit(lambda x: (nn.max_pool2d(x, 3, 2, "VALID"), nn.avg_pool2d(x, 3, 2, [(1, 1), (1, 1)]),
                               nn.fused_batch_norm(x, np.ones(5, np.float32), np.zeros(5, np.float32),
                                                   epsilon=1e-5)[0]))
    mp, ap, bn = f(x)
    np.testing.assert_allclose(mp, F.max_pool2d(tx, 3, 2).numpy().transpose(0, 2, 3, 1))
    tap = F.avg_pool2d(tx, 3, 2, padding=1, count_include_pad=False).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ap, tap, rtol=1e-5, atol=1e-6)
    tbn = F.batch_norm(tx, None, None, training=True, eps=1e-5).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(bn, tbn, rtol=1e-4, atol=1e-5)
    v = rng.standard_normal((4, 7), dtype=np.float32) * 3
    tv = torch.from_numpy(v)
    for ours, theirs in ((nn.gelu, F.gelu), (nn.selu, F.selu), (nn.elu, F.elu), (nn.silu, F.silu),
                         (nn.softplus, F.softplus), (nn.log_softmax, lambda t: F.log_softmax(t, -1)),
                         (lambda a: nn.gelu(a, approximate=True), lambda t: F.gelu(t, approximate="tanh"))):
        np.testing.assert_allclose(fusejit.jit(ours)(v), theirs(tv).numpy(), rtol=1e-5, atol=1e-6)
    labels = np.array([0, 6, 3, 2])
    np.testing.assert_allclose(fusejit.jit(nn.sparse_softmax_cross_entropy_with_logits)(labels, v),
                               F.cross_entropy(tv, torch.from_numpy(labels), reduction="none").numpy(), rtol=1e-5)
    np.testing.assert_allclose(nn.layer_norm(v, epsilon=1e-5), F.layer_norm(tv, (7,), eps=1e-5).numpy(),
                               rtol=1e-4, atol=1e-5)
