"""NumPy's random API inside jit: fresh samples per call, reproducible from seeds, generators advanced
as NumPy would, generators found where the function reaches them, and refusals instead of constants."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import jit
from fusejit.tracer.errors import TracingError, UnsupportedFunctionError


def test_legacy_functions_draw_fresh_samples_every_call() -> None:
    @jit
    def f(x):
        return (np.random.rand(*x.shape) < 0.5) * x, np.random.randn(3), np.random.standard_normal((2, 2))

    x = np.ones(64)
    a, b = f(x), f(x)
    for u, v in zip(a, b):
        assert not np.array_equal(u, v)
    assert f.trace_count == 1


def test_np_random_seed_makes_runs_reproducible() -> None:
    @jit
    def f(x):
        return x + np.random.uniform(-1, 1, size=x.shape), np.random.randint(0, 10, size=5)

    x = np.zeros(10)
    np.random.seed(7)
    first = [f(x), f(x)]
    np.random.seed(7)
    again = [f(x), f(x)]
    for a, b in zip(first, again):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
    assert not np.array_equal(first[0][0], first[1][0])


@pytest.mark.parametrize("make", [lambda: np.random.default_rng(3), lambda: np.random.Generator(np.random.MT19937(3)),
                                  lambda: np.random.Generator(np.random.SFC64(3))])
def test_generator_state_advances_as_numpy_random_would(make) -> None:
    """After a call drawing n values the generator is where NumPy's rng.random(n) leaves it."""
    rng, twin = make(), make()

    @jit
    def f(x):
        return x * rng.random(x.shape) + rng.normal(size=5)

    x = np.ones((4, 5))
    for _ in range(2):
        f(x)
        twin.random(25)
        assert _same_state(rng.bit_generator.state, twin.bit_generator.state)


def _same_state(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    return bool(np.array_equal(a, b))


def test_legacy_global_state_advances_as_numpy_random_would() -> None:
    @jit
    def f(x):
        return x + np.random.rand(*x.shape)

    x = np.zeros(1000)
    np.random.seed(11)
    f(x)
    after = np.random.get_state()[1].copy()
    np.random.seed(11)
    np.random.rand(1000)
    np.testing.assert_array_equal(np.random.get_state()[1], after)


def test_generator_passed_captured_or_on_self() -> None:
    class Dropout:
        def __init__(self, p: float, seed: int) -> None:
            self.p, self.rng = p, np.random.default_rng(seed)

        @jit
        def forward(self, x):
            return np.where(self.rng.random(x.shape) < self.p, 0.0, x / (1 - self.p))

    captured = np.random.default_rng(1)
    draw = captured.standard_normal  # a bound method reaches its generator too

    @jit
    def g(x):
        return x + draw(x.shape)

    layer, twin = Dropout(0.25, 5), Dropout(0.25, 5)
    x = np.ones((32, 32))
    masks = [layer.forward(x) for _ in range(3)]
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])
    np.testing.assert_array_equal(twin.forward(x), masks[0])  # same seed, same first mask
    assert 0.2 < (masks[0] == 0).mean() < 0.3
    assert isinstance(layer.rng, np.random.Generator)  # restored after the trace
    assert not np.array_equal(g(x), g(x))

    @jit
    def h(x, rng):
        return x + rng.integers(0, 5, size=x.shape)

    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(h(x, r1), h(x, r2))


def test_seeded_default_rng_inside_gives_the_same_samples_each_call_as_numpy() -> None:
    @jit
    def f(x):
        rng = np.random.default_rng(42)
        return x + rng.random(x.shape)

    @jit
    def fresh(x):
        return x + np.random.default_rng().random(x.shape)

    x = np.zeros(8)
    np.testing.assert_array_equal(f(x), f(x))
    assert not np.array_equal(fresh(x), fresh(x))


def test_choice_permutation_shuffle_binomial() -> None:
    @jit
    def f(x):
        y = x * 1.0
        np.random.shuffle(y)
        return (np.random.permutation(10), np.random.permutation(x), y, np.random.choice(5, size=(3, 4)),
                np.random.choice(x, size=4, replace=False), np.random.choice(3, size=6, p=[0.1, 0.0, 0.9]),
                np.random.binomial(10, 0.3, size=7))

    x = np.arange(10.0)
    perm, px, shuffled, c, cx, cp, b = f(x)
    assert sorted(perm) == list(range(10)) and perm.dtype == np.int64
    assert sorted(px) == list(x) and sorted(shuffled) == list(x)
    assert c.shape == (3, 4) and c.min() >= 0 and c.max() < 5
    assert len(set(cx)) == 4 and set(cx) <= set(x)
    assert 1 not in cp
    assert b.dtype == np.int64 and b.min() >= 0 and b.max() <= 10


def test_refusals_instead_of_trace_time_constants() -> None:
    x = np.ones(4)
    with pytest.raises(UnsupportedFunctionError, match="gamma"):
        jit(lambda x: x + np.random.gamma(2.0, size=4))(x)
    rng = np.random.default_rng(0)
    with pytest.raises(UnsupportedFunctionError, match="Generator.poisson"):
        jit(lambda x: x + rng.poisson(3.0, size=4))(x)
    with pytest.raises(UnsupportedFunctionError, match="seed outside"):
        jit(lambda x: (np.random.seed(0), x)[1])(x)
    with pytest.raises(UnsupportedFunctionError, match="must be a Python int"):
        jit(lambda x: np.random.randint(0, x.astype(np.int64)))(x)
    with pytest.raises(fusejit.InPlaceError):
        jit(lambda x: np.random.shuffle(x))(x)
    f = jit(lambda x: x + np.random.rand(*x.shape), input_signature=[fusejit.Spec((None,), np.float64)])
    with pytest.raises(TracingError, match="dynamic dim"):
        f(x)
    with pytest.raises(TracingError, match="random"):
        fusejit.freeze(lambda x: x + np.random.rand(4), x)
    assert np.random.rand is not None and np.random.rand.__self__ is np.random.mtrand._rand  # unpatched


def test_generator_rebound_or_in_a_dict_is_read_at_call_time() -> None:
    class Model:
        def __init__(self) -> None:
            self.rng = np.random.default_rng(1)
            self.parts = {"noise": np.random.default_rng(2)}

        @jit
        def forward(self, x):
            return x + self.rng.random(x.shape) + self.parts["noise"].normal(size=x.shape)

    m, x = Model(), np.zeros(6)
    first = m.forward(x)
    m.rng, m.parts["noise"] = np.random.default_rng(1), np.random.default_rng(2)  # rebound: same seeds again
    np.testing.assert_array_equal(m.forward(x), first)
    assert isinstance(m.rng, np.random.Generator) and isinstance(m.parts["noise"], np.random.Generator)
    assert not np.array_equal(m.forward(x), first)


def test_unseeded_generators_built_inside_are_refused_seeded_ones_repeat() -> None:
    x = np.zeros(5)
    for build in (lambda: np.random.Generator(np.random.PCG64()), lambda: np.random.RandomState(),
                  lambda: np.random.Generator(np.random.MT19937(np.random.SeedSequence()))):
        with pytest.raises(UnsupportedFunctionError, match="without a seed"):
            jit(lambda x, build=build: x + build().random(5))(x)

    @jit
    def seeded(x):
        assert isinstance(np.random.PCG64(1), np.random.PCG64)  # the guarded name still checks types
        return x + np.random.Generator(np.random.PCG64(5)).random(5)

    np.testing.assert_array_equal(seeded(x), np.random.default_rng(5).random(5))  # NumPy's own draw, each call
    np.testing.assert_array_equal(seeded(x), seeded(x))
    assert type(np.random.PCG64) is type  # restored after the trace


def test_concurrent_calls_never_share_a_stream() -> None:
    import threading

    rng, twin = np.random.default_rng(8), np.random.default_rng(8)
    f = jit(lambda x: x + rng.random(x.shape))
    x = np.zeros(16)
    f(x)
    out: list[np.ndarray] = []

    def work() -> None:
        for _ in range(50):
            out.append(f(x))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.tobytes() for r in out}) == 200
    twin.random(16 * 201)
    assert _same_state(rng.bit_generator.state, twin.bit_generator.state)


def test_sizes_given_as_numpy_ints() -> None:
    n = np.int64(3)
    f = jit(lambda x: (np.random.rand(n, 2), np.random.default_rng(1).normal(size=(n,)), x))
    a, b, _ = f(np.zeros(1))
    assert a.shape == (3, 2) and b.shape == (3,)


def test_a_missed_fast_path_does_not_advance_the_generator_twice() -> None:
    rng, twin = np.random.default_rng(4), np.random.default_rng(4)
    f = jit(lambda x: x + rng.random(x.shape))
    small, big = np.zeros(3), np.zeros(5)
    for x in (small, small, big, small, big.astype(np.float32), small):  # each switch misses the hot path once
        f(x)
        twin.random(x.size)
        assert _same_state(rng.bit_generator.state, twin.bit_generator.state)


def test_seeded_runs_reproduce_across_processes() -> None:
    import os
    import subprocess
    import sys

    code = ("import numpy as np, fusejit\n"
            "f = fusejit.jit(lambda x: np.where(np.random.rand(*x.shape) < 0.5, x, 0.0) + np.random.randn(3).sum())\n"
            "np.random.seed(123)\n"
            "print(f(np.ones(5)).tobytes().hex(), f(np.ones(5)).tobytes().hex())\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root,
                           check=True).stdout for _ in range(2)]
    first, second = runs[0].split()
    assert runs[0] == runs[1] and first != second


def test_scalars_small_dtypes_and_limits() -> None:
    from fusejit.random.distributions import RandomArgumentError

    @jit
    def f(x):
        rng = np.random.default_rng(3)
        return (np.random.rand(), np.random.choice(5), rng.integers(250, 256, size=6, dtype=np.uint8),
                rng.integers(-128, 127, size=500, dtype=np.int8), x)

    u, c, small, signed, _ = f(np.zeros(1))
    assert u.shape == () and 0 <= u < 1 and c.shape == () and 0 <= c < 5
    assert small.dtype == np.uint8 and small.min() >= 250
    assert signed.dtype == np.int8 and signed.min() >= -128 and signed.max() < 127 and signed.min() < -100
    with pytest.raises(RandomArgumentError, match="n x n comparison"):
        jit(lambda x: np.random.permutation(20000) + x)(np.zeros(1))
    with pytest.raises(RandomArgumentError, match="4096"):
        jit(lambda x: np.random.binomial(10**6, 0.5, size=3) + x)(np.zeros(1))
    with pytest.raises(RandomArgumentError, match="outside the range"):
        jit(lambda x: np.random.default_rng(0).integers(0, 300, size=3, dtype=np.uint8) + x)(np.zeros(1))


def test_eager_vjp_pullback_sees_the_forward_samples() -> None:
    """fusejit.vjp's pullback recomputes the forward pass in a second program: it replays the random
    state the forward call drew, so the gradient belongs to the returned value's dropout mask."""
    rng = np.random.default_rng(0)

    def loss(w, x):
        h = np.where(rng.random((64, 32)) < 0.5, (x @ w) * 2.0, 0.0)
        return (h ** 2).sum()

    w, x = np.full((16, 32), 0.1), np.ones((64, 16))
    for _ in range(3):
        out, pullback = fusejit.vjp(lambda w: loss(w, x), w)
        (g,) = pullback(np.float64(1.0))
        np.testing.assert_allclose((g * w).sum() / 2, out, rtol=1e-12)  # loss is quadratic in w: <g, w> = 2 loss
        np.testing.assert_array_equal(pullback(np.float64(1.0))[0], g)


def test_stores_of_generators_replay_the_real_object_or_are_refused() -> None:
    class Net:
        def __init__(self) -> None:
            self.rng = np.random.default_rng(1)

        @jit
        def alias(self, x):
            r = self.rng
            self.other = r
            return x + r.random(x.shape)

        @jit
        def make(self, x):
            self.made = np.random.default_rng(0)
            return x + self.made.random(x.shape)

    n = Net()
    n.alias(np.zeros(2))
    assert n.other is n.rng
    with pytest.raises(fusejit.SideEffectError, match="made inside the traced function"):
        n.make(np.zeros(2))
    assert not hasattr(n, "made")
