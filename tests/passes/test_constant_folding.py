import numpy as np
import pytest

from fusejit.ir import all_ops
from fusejit.ir.dtypes import SHORT_NAMES
from fusejit.passes.constant_folding import constant_folding
from fusejit.passes.rewrite import POSITION_DEPENDENT

from .golden import check, ir, same_bits, unchanged


def test_folds_scalar_arithmetic_and_keeps_broadcasts_lazy() -> None:
    check(constant_folding, """func @f(%x: f32[N,4]) -> (f32[N,4]) {
      %0 = constant {value=2.0} : f32[]
      %1 = constant {value=3.0} : f32[]
      %2 = mul(%0, %1) : f32[]
      %3 = broadcast(%2) {shape=[N,4]} : f32[N,4]
      %4 = sqrt(%3) : f32[N,4]
      %5 = add(%x, %4) : f32[N,4]
      return %5
    }""", """func @f(%x: f32[N,4]) -> (f32[N,4]) {
      %0 = constant {value=[2.4494898]} : f32[1]
      %1 = broadcast(%0) {shape=[N,4]} : f32[N,4]
      %2 = add(%x, %1) : f32[N,4]
      return %2
    }""")


def test_lazy_fold_evaluates_on_the_smallest_shape() -> None:
    check(constant_folding, """func @f() -> (f32[1000,3]) {
      %0 = constant {value=[1.0, -0.0, nan]} : f32[3]
      %1 = broadcast(%0) {shape=[1000,3]} : f32[1000,3]
      %2 = constant {value=-0.0} : f32[]
      %3 = broadcast(%2) {shape=[1000,3]} : f32[1000,3]
      %4 = add(%1, %3) : f32[1000,3]
      return %4
    }""", """func @f() -> (f32[1000,3]) {
      %0 = constant {value=[1.0, -0.0, nan]} : f32[3]
      %1 = broadcast(%0) {shape=[1000,3]} : f32[1000,3]
      return %1
    }""")


def test_broadcast_of_a_constant_is_not_materialized() -> None:
    unchanged(constant_folding, """func @f() -> (f32[1000,1000]) {
      %0 = constant {value=1.5} : f32[]
      %1 = broadcast(%0) {shape=[1000,1000]} : f32[1000,1000]
      return %1
    }""")


def test_size_limit() -> None:
    """An outer product of two 1024-vectors would be a 4 MiB constant: left for run time."""
    g = ir("""func @f() -> (f32[1024,1024]) {
      %0 = constant {value=1.0} : f32[1024,1]
      %1 = constant {value=1.0} : f32[1,1024]
      %2 = dot(%0, %1) : f32[1024,1024]
      return %2
    }""".replace("{value=1.0} : f32[1024,1]", "{value=[" + ", ".join(["1.0"] * 1024) + "]} : f32[1024,1]")
         .replace("{value=1.0} : f32[1,1024]", "{value=[" + ", ".join(["1.0"] * 1024) + "]} : f32[1,1024]"))
    out, n = constant_folding(g)
    assert n == 0 and out.outputs[0].op == "dot"


def test_numel_of_static_dims_only() -> None:
    check(constant_folding, """func @f(%x: f32[N,4]) -> (i64[], f32[]) {
      %0 = numel(%x) {axes=[1], dtype=i64} : i64[]
      %1 = numel(%x) {axes=[0, 1], dtype=f32} : f32[]
      return %0, %1
    }""", """func @f(%x: f32[N,4]) -> (i64[], f32[]) {
      %0 = constant {value=4} : i64[]
      %1 = numel(%x) {axes=[0, 1], dtype=f32} : f32[]
      return %0, %1
    }""")


def test_ops_that_raise_are_left_for_run_time() -> None:
    unchanged(constant_folding, """func @f() -> (i32[]) {
      %0 = constant {value=2} : i32[]
      %1 = constant {value=-1} : i32[]
      %2 = pow(%0, %1) : i32[]
      return %2
    }""")


def test_folds_layout_and_reductions_of_constants() -> None:
    check(constant_folding, """func @f() -> (f32[2], f32[3,2]) {
      %0 = constant {value=[[1.0, 2.0, 3.0], [4.0, 5.0, -0.0]]} : f32[2,3]
      %1 = reduce_sum(%0) {axes=[1]} : f32[2]
      %2 = transpose(%0) {perm=[1, 0]} : f32[3,2]
      return %1, %2
    }""", """func @f() -> (f32[2], f32[3,2]) {
      %0 = constant {value=[6.0, 9.0]} : f32[2]
      %1 = constant {value=[[1.0, 4.0], [2.0, 5.0], [3.0, -0.0]]} : f32[3,2]
      return %0, %1
    }""")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32])
def test_numpy_elementwise_lanes_do_not_depend_on_array_length(dtype: type) -> None:
    """What the lazy fold and sunk broadcasts rely on: on C-contiguous arrays of any length >= 1,
    NumPy gives each element the same bits (SIMD body or scalar tail alike). 0-d operands are
    not covered (pow and log10 differ there), which is why no pass moves work to rank 0, and
    neither are fmax/fmin (POSITION_DEPENDENT: their signed-zero ties depend on the lane)."""
    rng = np.random.default_rng(0)
    n = 4000
    if dtype is np.int32:
        x, y = rng.integers(-1000, 1000, n).astype(dtype), rng.integers(1, 5, n).astype(dtype)
    else:
        with np.errstate(all="ignore"):
            x = (rng.standard_normal(n) * 10.0 ** rng.integers(-4, 4, n)).astype(dtype)
            y = rng.choice(np.array([2, 0.5, 1, 3, -1, 0, -0.0, np.inf, np.nan, 1.7, -2.3]), n).astype(dtype)
        x[::3] = rng.choice(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0]), x[::3].size)
    for name, opdef in all_ops().items():
        if opdef.fusion != "elementwise" or name in ("where", "cast", *POSITION_DEPENDENT):
            continue
        args = (x,) if opdef.arity == 1 else (x, y)
        try:
            with np.errstate(all="ignore"):
                full = np.asarray(opdef.ref(*args))
        except (TypeError, ValueError):
            continue  # op not defined for this dtype
        start = 0
        for length in [*range(1, 70), 127, 128, 129, 255, 256, 257]:
            with np.errstate(all="ignore"):
                part = np.asarray(opdef.ref(*(np.array(a[start:start + length]) for a in args)))
            assert same_bits(part, full[start:start + length]), (name, length)
            start += length


def test_lazy_fold_never_computes_at_rank_zero() -> None:
    check(constant_folding, """func @f(%x: f32[N]) -> (f32[N]) {
      %0 = constant {value=1.1} : f32[]
      %1 = broadcast(%0) {shape=[N]} : f32[N]
      %2 = constant {value=2.0} : f32[]
      %3 = broadcast(%2) {shape=[N]} : f32[N]
      %4 = pow(%1, %3) : f32[N]
      %5 = add(%x, %4) : f32[N]
      return %5
    }""", """func @f(%x: f32[N]) -> (f32[N]) {
      %0 = constant {value=[1.21]} : f32[1]
      %1 = broadcast(%0) {shape=[N]} : f32[N]
      %2 = add(%x, %1) : f32[N]
      return %2
    }""".replace("1.21", str(np.power(np.array([1.1], np.float32), np.array([2.0], np.float32))[0])))


def test_fmax_and_fmin_are_only_folded_whole() -> None:
    unchanged(constant_folding, """func @f() -> (f32[2,3]) {
      %0 = constant {value=0.0} : f32[]
      %1 = broadcast(%0) {shape=[2,3]} : f32[2,3]
      %2 = constant {value=-0.0} : f32[]
      %3 = broadcast(%2) {shape=[2,3]} : f32[2,3]
      %4 = fmax(%1, %3) : f32[2,3]
      return %4
    }""")


def test_numpy_casts_do_not_depend_on_array_length_except_float_to_integer() -> None:
    values = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -2.5, 300.0, -300.0, 7e4, 3e9,
                       -3e9, 1e19, 1e30, 65504.0, 255.9, -128.7, 2.0**63, 2.0**64])
    for src in SHORT_NAMES:
        with np.errstate(all="ignore"):
            if src.kind in "iu":
                info = np.iinfo(src)
                v = values[np.isfinite(values) & (values >= info.min) & (values <= info.max)].astype(src)
            else:
                v = values.astype(src)
        for dst in SHORT_NAMES:
            if src.kind == "f" and dst.kind in "iu":
                continue  # position_dependent: NumPy's f32/f64 -> u32 differs between lanes
            with np.errstate(all="ignore"):
                rows = np.concatenate([np.repeat(v, n).astype(dst).reshape(-1, n) for n in (1, 3, 16, 17, 33, 100)], 1)
            for column in rows.T:
                assert same_bits(column, rows[:, 0]), (src, dst)


def test_float_to_integer_casts_are_only_folded_whole() -> None:
    unchanged(constant_folding, """func @f() -> (u32[2,3]) {
      %0 = constant {value=-1.5} : f32[]
      %1 = broadcast(%0) {shape=[2,3]} : f32[2,3]
      %2 = cast(%1) {dtype=u32} : u32[2,3]
      return %2
    }""")
