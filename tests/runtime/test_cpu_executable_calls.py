"""The generated call path of a compiled program: scratch arenas, multi-output and repeated
results, the probe, concurrency — and the slow path's precise errors still behind it."""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

from fusejit.codegen.cpu import compile_cpu
from fusejit.ir import ShapeBindingError, parse
from fusejit.runtime import allocator
from fusejit.runtime.cpu_executable import ARENA_MAX
from fusejit.runtime.executable import MISS
from tests.helpers import assert_same

TWO_ROWS = """func @f(%x: f32[{n},64], %y: f32[{n},64]) -> (f32[{n},64], f32[64], f32[{n},64]) {{
  %0 = exp(%x) : f32[{n},64]
  %1 = reduce_sum(%0) {{axes=[0]}} : f32[64]
  %2 = reduce_sum(%0) {{axes=[1]}} : f32[{n}]
  %3 = reshape(%2) {{shape=[{n},1]}} : f32[{n},1]
  %4 = broadcast(%3) {{shape=[{n},64]}} : f32[{n},64]
  %5 = mul(%y, %4) : f32[{n},64]
  return %5, %1, %5
}}"""


def want(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    return parse(TWO_ROWS.format(n="N")).evaluate(x, y)


def args(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((n, 64)).astype(np.float32) for _ in range(2))


@pytest.fixture(scope="module")
def static():
    return compile_cpu(parse(TWO_ROWS.format(n=4)))


@pytest.fixture(scope="module")
def symbolic():
    return compile_cpu(parse(TWO_ROWS.format(n="N")))


def test_scratch_slots_multi_output_and_repeated_results(static) -> None:
    assert static._layout.slots, "the program under test must have scratch slots"
    x, y = args(4)
    for _ in range(3):
        got = static(x, y)
        assert_same(got, want(x, y), rtol=1e-5)
        assert got[0] is not got[2] and not np.shares_memory(got[0], got[2])
    assert len(static._tables) == 1  # one recycled table (and arena) serves sequential calls


def test_a_static_program_allocates_only_its_outputs(static) -> None:
    x, y = args(4)
    static(x, y)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = static(x, y)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak <= sum(o.nbytes for o in out) + 1024


@pytest.mark.parametrize("n", [1, 3, 300, 5000, 0, 2])
def test_symbolic_scratch_grows_and_shrinks_between_calls(symbolic, n: int) -> None:
    """Small scratch lives in the table's arena (regrown as needed), large scratch in pooled blocks."""
    x, y = args(n, seed=n)
    assert_same(symbolic(x, y), want(x, y), rtol=1e-5)
    if n == 5000:
        assert 5000 * 64 * 4 > ARENA_MAX


def test_large_static_scratch_uses_the_pool() -> None:
    n = ARENA_MAX // (64 * 4) + 8
    exe = compile_cpu(parse(TWO_ROWS.format(n=n)))
    x, y = args(n)
    before = allocator.POOL.allocated
    assert_same(exe(x, y), want(x, y), rtol=1e-5)
    assert_same(exe(x, y), want(x, y), rtol=1e-5)
    assert allocator.POOL.allocated - before <= 4  # blocks came back to the pool and were reused


def test_probe_runs_only_exact_arguments(symbolic) -> None:
    x, y = args(3)
    assert_same(symbolic.probe(x, y), want(x, y), rtol=1e-5)
    assert symbolic.probe(x.astype(np.float64), y) is MISS
    assert symbolic.probe(x, y[:2]) is MISS  # N bound to 3 by x
    assert symbolic.probe(x.tolist(), y) is MISS
    assert symbolic.probe(x) is MISS
    assert symbolic.probe(x[0], y) is MISS  # too few dims
    odd = np.zeros((3, 64), dtype=[("v", np.float32), ("pad", np.int8)])["v"]
    assert symbolic.probe(odd, y) is MISS  # byte strides that are not whole elements


def test_the_slow_path_errors_are_unchanged(static) -> None:
    x, y = args(4)
    with pytest.raises(TypeError, match="argument 'x': expected dtype float32, got float64"):
        static(x.astype(np.float64), y)
    with pytest.raises(ShapeBindingError, match=r"argument 'y': expected shape \(4, 64\), got \(3, 64\)"):
        static(x, y[:3])
    with pytest.raises(TypeError, match="takes 2 argument"):
        static(x)
    assert_same(static(x[:, ::-1], y.view(_Subclass)), want(x[:, ::-1], y), rtol=1e-5)  # strided, subclass
    with pytest.raises(TypeError, match="MaskedArray"):  # a subclass whose values NumPy reads differently
        static(x, np.ma.masked_array(y))


class _Subclass(np.ndarray):
    """An ndarray subclass with no semantics of its own: computed on as its plain array."""


def test_concurrent_calls_get_tables_and_arenas_of_their_own(static) -> None:
    inputs = [args(4, seed=s) for s in range(4)]
    expected = [want(*a) for a in inputs]
    errors: list[str] = []

    def work(k: int) -> None:
        x, y = inputs[k]
        for _ in range(200):
            got = static(x, y)
            if not np.allclose(got[0], expected[k][0], rtol=1e-5):
                errors.append(f"thread {k}")
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_source_results_inputs_and_constants_are_copies() -> None:
    g = parse("""func @f(%x: f32[N]) -> (f32[N], f32[2], f32[N], f32[]) {
      %0 = neg(%x) : f32[N]
      %1 = constant() {value=[1.0, 2.0]} : f32[2]
      %2 = numel(%x) {axes=[0], dtype=f32} : f32[]
      return %0, %1, %x, %2
    }""")
    exe = compile_cpu(g)
    x = np.arange(5, dtype=np.float32)
    a, c, same, n = exe(x)
    assert_same([a, c, same, n], [-x, np.array([1, 2], np.float32), x, np.float32(5)])
    assert not np.shares_memory(same, x)
    c[0] = 9
    assert_same(exe(x)[1], np.array([1, 2], np.float32))
