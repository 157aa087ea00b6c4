"""nn.dropout: rate, scaling, same mask per key eagerly and in jit, generators, noise_shape, errors."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import nn, random


def test_dropout_with_a_key_is_the_same_in_and_out_of_jit():
    x = np.random.default_rng(0).standard_normal((200, 300), dtype=np.float32) + 3
    k = random.key(42)
    eager = nn.dropout(x, 0.3, key=k)
    jitted = fusejit.jit(lambda x, k: nn.dropout(x, 0.3, key=k))(x, k)
    np.testing.assert_array_equal(eager, jitted)
    assert jitted.dtype == np.float32
    kept = jitted != 0
    assert abs(kept.mean() - 0.7) < 0.01  # 60000 draws: 5 sigma ~ 0.0093
    np.testing.assert_allclose(jitted[kept], x[kept] / np.float32(0.7), rtol=1e-6)
    kernels = [str(k) for k in fusejit.jit(lambda x, k: nn.dropout(x, 0.3, key=k)).lower(x, k).plan.kernels]
    assert sum("philox" in k and "where" in k for k in kernels) == 1, kernels  # the mask never hits memory
    other = nn.dropout(x, 0.3, key=random.key(43))
    assert (other != jitted).any()


def test_dropout_generator_noise_shape_and_rate_zero():
    x = np.ones((4, 50, 8))
    gen = np.random.default_rng(1)
    f = fusejit.jit(lambda x: nn.dropout(x, 0.5, noise_shape=(4, 1, 8), generator=gen))
    a, b = f(x), f(x)
    assert (a != b).any()  # fresh draws per call
    assert ((a == 0) == (a[:, :1] == 0)).all()  # shared along the size-1 noise dim
    assert set(np.unique(a)) <= {0.0, 2.0}
    np.testing.assert_array_equal(nn.dropout(x, 0.0, key=random.key(0)), x)


@pytest.mark.parametrize("kw, message", [
    ({"rate": 1.0, "key": random.key(0)}, r"\[0, 1\)"),
    ({"rate": 0.5}, "exactly one source"),
])
def test_dropout_errors(kw, message):
    with pytest.raises(nn.NNError, match=message):
        nn.dropout(np.ones(3), **kw)
