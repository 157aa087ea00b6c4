"""cumsum / cumprod on the CPU against NumPy, bitwise: every dtype, axis, stride and odd shape."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import Spec, jit
from fusejit.passes.fusion import plan_fusion

DTYPES = ["bool", "int8", "int32", "int64", "uint8", "uint32", "float16", "float32", "float64"]


def data(dt: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dt == "bool":
        return rng.random(shape) < 0.5
    if np.dtype(dt).kind in "iu":
        return rng.integers(0, 7, shape).astype(dt)  # products overflow and wrap, as in NumPy
    return (rng.standard_normal(shape) * 3).astype(dt)


def same_bits(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.ascontiguousarray(got).view(np.uint8), np.ascontiguousarray(want).view(np.uint8))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_matches_numpy_bitwise(dt: str, axis: int | None) -> None:
    x = data(dt, (5, 6, 37))
    f = jit(lambda a: (np.cumsum(a, axis=axis), np.cumprod(a, axis=axis)))
    s, p = f(x)
    same_bits(s, np.cumsum(x, axis=axis))
    with np.errstate(all="ignore"):
        same_bits(p, np.cumprod(x, axis=axis))


@pytest.mark.parametrize("dtype", [None, np.float64, np.int16, np.float32])
def test_dtype_argument_casts_first_like_numpy(dtype) -> None:
    x = data("float32", (4, 9)) * 10
    got = jit(lambda a: np.cumsum(a, axis=1, dtype=dtype))(x)
    same_bits(got, np.cumsum(x, axis=1, dtype=dtype))


@pytest.mark.parametrize("view", ["transposed", "strided", "reversed", "broadcast"])
@pytest.mark.parametrize("axis", [0, 1])
def test_any_input_strides(view: str, axis: int) -> None:
    base = data("float32", (40, 30))
    x = {"transposed": base.T, "strided": base[::3, ::2], "reversed": base[::-1, ::-2],
         "broadcast": np.broadcast_to(base[:1], (40, 30))}[view]
    f = jit(lambda a: np.cumsum(a, axis=axis))
    same_bits(f(x), np.cumsum(x, axis=axis))


def test_dynamic_dims_and_empty_and_zero_d() -> None:
    f = jit(lambda a: (np.cumsum(a, axis=0), np.cumprod(a, axis=1)), input_signature=[Spec((None, 5), np.float32)])
    for n in (0, 1, 7, 1000):
        x = data("float32", (n, 5), seed=n)
        s, p = f(x)
        same_bits(s, np.cumsum(x, axis=0))
        same_bits(p, np.cumprod(x, axis=1))
    same_bits(jit(lambda a: np.cumsum(a))(np.float32(2.5)), np.cumsum(np.float32(2.5)))
    empty = np.zeros((3, 0), np.int32)
    same_bits(jit(lambda a: np.cumsum(a, axis=1))(empty), np.cumsum(empty, axis=1))


def test_nan_inf_and_nan_variants() -> None:
    x = np.array([[1.0, np.nan, 2.0, np.inf, -np.inf, 3.0], [0.5, 2.0, np.nan, -0.0, 1e38, 1e38]], np.float32)
    f = jit(lambda a: (np.cumsum(a, axis=1), np.cumprod(a, axis=0), np.nancumsum(a), np.nancumprod(a, axis=1)))
    with np.errstate(all="ignore"):
        want = (np.cumsum(x, axis=1), np.cumprod(x, axis=0), np.nancumsum(x), np.nancumprod(x, axis=1))
    for g, w in zip(f(x), want):
        same_bits(g, w)
    same_bits(jit(np.nancumsum)(np.arange(5, dtype=np.int8)), np.nancumsum(np.arange(5, dtype=np.int8)))


def test_methods_and_long_rows_and_threads() -> None:
    x = data("float32", (3, 100_003))
    for threads in (1, 2):
        f = jit(lambda a: (a.cumsum(axis=1), a.cumprod(0), a.cumsum()), threads=threads)
        for g, w in zip(f(x), (x.cumsum(axis=1), x.cumprod(0), x.cumsum())):
            same_bits(g, w)


def test_fused_neighbours_are_separate_kernels() -> None:
    def fn(a):
        return np.cumsum(a * 2, axis=0) + 1

    x = data("float32", (64, 33))
    f = jit(fn)
    same_bits(f(x), fn(x))
    same_bits(jit(fn, fuse=False)(x), fn(x))
    assert [k.kind for k in f.lower(x).kernels] == ["loop", "scan", "loop"]
    assert [k.kind for k in plan_fusion(f.trace(x), fuse=False).kernels].count("scan") == 1


def test_errors_are_clear() -> None:
    x = np.ones(4, np.float32)
    with pytest.raises(fusejit.TracingError, match="np.cumsum: out= is not supported"):
        jit(lambda a: np.cumsum(a, out=a))(x)
    with pytest.raises(fusejit.TracingError, match="bool result"):
        jit(lambda a: np.cumsum(a, dtype=bool))(x)
    with pytest.raises(Exception, match="axis 2 is out of bounds|out of bounds"):
        jit(lambda a: np.cumsum(a, axis=2))(x)
    with pytest.raises(fusejit.TracingError, match=r"flattened length of shape \(N, 5\) is not one dim"):
        jit(np.cumsum, input_signature=[Spec((None, 5), np.float32)])(np.ones((2, 5), np.float32))


def test_reference_backend() -> None:
    x = data("int8", (6, 4))
    f = jit(lambda a: np.cumsum(a, axis=0) * np.cumprod(a, axis=1), backend="reference")
    same_bits(f(x), np.cumsum(x, axis=0) * np.cumprod(x, axis=1))


@pytest.mark.parametrize("dt", ["bool", "int8", "uint16", "float32"])
def test_ufunc_accumulate(dt: str) -> None:
    x = data(dt, (4, 5))
    f = jit(lambda a: (np.add.accumulate(a), np.multiply.accumulate(a, axis=1), np.add.accumulate(a, dtype=np.float64)))
    want = (np.add.accumulate(x), np.multiply.accumulate(x, axis=1), np.add.accumulate(x, dtype=np.float64))
    for g, w in zip(f(x), want):
        same_bits(g, w)
    with pytest.raises(ValueError, match="accumulate does not allow multiple axes"):
        jit(lambda a: np.add.accumulate(a, axis=None))(x)


@pytest.mark.parametrize("shape, axis", [((700, 200), 1), ((7, 300), 1), ((3, 50, 1000), 1), ((41, 3, 90), 2),
                                         ((2, 70_000), 1)])
def test_lines_scanned_in_lockstep_and_threads_do_not_change_bits(shape: tuple[int, ...], axis: int) -> None:
    x = data("float32", shape)
    x = x[..., ::-1]  # strided input too
    want = np.cumsum(x, axis=axis)
    for threads in (1, 2, 3):
        same_bits(jit(lambda a: np.cumsum(a, axis=axis), threads=threads)(x), want)


def test_constant_operands_from_ir() -> None:
    from fusejit.codegen.cpu import compile_cpu
    from fusejit.ir import parse

    g = parse("""func @f(%x: f32[2,3]) -> (f32[2,3], f32[2,3]) {
      %0 = constant {value=[[1.5, 2.5, 3.5], [0.25, -1.0, 7.0]]} : f32[2,3]
      %1 = cumsum(%0) {axis=1} : f32[2,3]
      %2 = add(%x, %1) : f32[2,3]
      %3 = cumprod(%0) {axis=0} : f32[2,3]
      return %2, %3
    }""")
    x = np.full((2, 3), 0.1, np.float32)
    exe = compile_cpu(g)
    assert [k.kind for k in exe.kernels] == ["scan", "loop", "scan"]
    for got, want in zip(exe(x), g.evaluate(x)):
        same_bits(got, want)


@pytest.mark.parametrize("dt", ["bool", "int8", "uint16", "float16", "int64"])
def test_cast_to_the_accumulation_dtype_is_applied_on_load(dt: str) -> None:
    x = data(dt, (9, 70))[:, ::-1]

    def fn(a):
        return np.cumsum(a, axis=1), np.cumprod(a, axis=0, dtype=np.float64)

    f = jit(fn)
    with np.errstate(all="ignore"):
        for got, want in zip(f(x), fn(x)):
            same_bits(got, want)
    assert [k.kind for k in f.lower(x).kernels] == ["scan", "scan"]
    shared = jit(lambda a: (np.cumsum(a, axis=0, dtype=np.int64), a.astype(np.int64) + 1))
    for got, want in zip(shared(x), (np.cumsum(x, axis=0, dtype=np.int64), x.astype(np.int64) + 1)):
        same_bits(got, want)


def test_variable_updates_through_scans() -> None:
    """A scan never writes over the buffer it reads (in-place updates skip it); its consumers may."""
    v = fusejit.Variable(np.arange(1, 7, dtype=np.float64), name="v")
    w = fusejit.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="w")

    @jit
    def step(x):
        v.assign(np.cumsum(v))
        w.assign(np.cumprod(w, axis=1) + x)

    rv, rw = v.read().copy(), w.read().copy()
    for i in range(3):
        step(np.float32(i))
        rv, rw = np.cumsum(rv), np.cumprod(rw, axis=1) + np.float32(i)
        same_bits(v.read(), rv)
        same_bits(w.read(), rw)
    assert step.lower(np.float32(0)).inplace == {1: 2}  # w (input 2) in place, v never
