"""Random draws on the GPU backend (simulator): the same bits as the CPU and the NumPy reference,
fused or not, and fresh samples per call."""

from __future__ import annotations

import numpy as np

import fusejit.random as fr
from fusejit import jit


def _draws(k, x):
    u = fr.uniform(k, x.shape)
    z = fr.normal(k, (3, 5), np.float32)
    i = fr.randint(k, (7,), -3, 1000)
    b = fr.split(k, 3)
    return np.where(u < 0.5, x, 0.0), u, z, i, b


def test_same_bits_as_cpu_and_reference(sim) -> None:
    k = fr.key(2024)
    x = np.arange(24.0).reshape(4, 6)
    want = _draws(k, x)  # eager: the primitive's NumPy reference
    for fuse in (True, False):
        got = jit(_draws, device="gpu", fuse=fuse)(k, x)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(np.asarray(g), w)
    cpu = jit(_draws)(k, x)
    for g, w in zip(cpu, want):
        np.testing.assert_array_equal(g, w)


def test_dropout_draws_fresh_masks_on_the_gpu(sim) -> None:
    rng = np.random.default_rng(5)

    @jit(device="gpu")
    def dropout(x):
        return np.where(rng.random(x.shape) < 0.5, x * 2.0, 0.0)

    x = np.ones((8, 16))
    a, b = np.asarray(dropout(x)), np.asarray(dropout(x))
    assert not np.array_equal(a, b)
    assert 0.3 < (a > 0).mean() < 0.7


def test_numpy_api_same_samples_on_cpu_and_gpu(sim) -> None:
    """The same seed gives the same uniforms, integers, permutations and normals on both backends, and
    leaves both generators in the same state."""
    def draws(rng):
        def f(x):
            return x * rng.random(x.shape), rng.integers(-5, 5, size=9), rng.permutation(12), rng.normal(size=4)
        return f

    cpu_rng, gpu_rng = np.random.default_rng(17), np.random.default_rng(17)
    cpu, gpu = jit(draws(cpu_rng)), jit(draws(gpu_rng), device="gpu")
    x = np.arange(30.0).reshape(5, 6)
    for _ in range(2):
        a, b = cpu(x), gpu(x)
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, np.asarray(v))
    assert cpu_rng.bit_generator.state == gpu_rng.bit_generator.state
