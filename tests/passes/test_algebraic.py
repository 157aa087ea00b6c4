import numpy as np
import pytest

from fusejit.passes.algebraic import algebraic, holds_exactly

from .golden import check, unchanged

HEAD = "func @f(%x: f32[N,4]) -> (f32[N,4]) {\n"
IDENTITY = HEAD + "  return %x\n}"


def splat_op(op: str, value: str, dtype: str = "f32", left: bool = False) -> str:
    args = "%1, %x" if left else "%x, %1"
    return f"""func @f(%x: {dtype}[N,4]) -> ({dtype}[N,4]) {{
      %0 = constant {{value={value}}} : {dtype}[]
      %1 = broadcast(%0) {{shape=[N,4]}} : {dtype}[N,4]
      %2 = {op}({args}) : {dtype}[N,4]
      return %2
    }}"""


@pytest.mark.parametrize("op,value,dtype,left", [
    ("mul", "1.0", "f32", False), ("mul", "1.0", "f32", True), ("add", "-0.0", "f32", False),
    ("add", "-0.0", "f64", True), ("sub", "0.0", "f32", False), ("div", "1.0", "f64", False),
    ("add", "0", "i32", False), ("sub", "0", "i64", False), ("or", "0", "u8", False),
    ("xor", "0", "i32", False), ("and", "-1", "i16", False), ("and", "true", "bool", False),
    ("mul", "true", "bool", False), ("shl", "0", "i32", False), ("pow", "1.0", "f16", False),
    ("pow", "1", "i32", False),
])
def test_neutral_operands_vanish(op: str, value: str, dtype: str, left: bool) -> None:
    check(algebraic, splat_op(op, value, dtype, left), IDENTITY.replace("f32", dtype))


@pytest.mark.parametrize("op,value,dtype", [
    ("add", "0.0", "f32"),    # -0.0 + 0.0 = +0.0
    ("sub", "-0.0", "f32"),   # -0.0 - -0.0 = +0.0
    ("mul", "0.0", "f32"),    # inf * 0 = nan
    ("pow", "1.0", "f32"),    # NumPy's AVX-512 pow is not correctly rounded
    ("pow", "2.0", "f64"),
    ("pow", "0.5", "f64"),    # differs from sqrt at -0.0 and -inf
    ("div", "3.0", "f32"),    # 1/3 is not exact
    ("div", "1", "i32"),      # integer div rounds through float64
])
def test_inexact_rewrites_are_not_done(op: str, value: str, dtype: str) -> None:
    unchanged(algebraic, splat_op(op, value, dtype))


def test_float_self_comparison_and_difference_stay() -> None:
    unchanged(algebraic, """func @f(%x: f32[3]) -> (bool[3], f32[3], f32[3]) {
      %0 = eq(%x, %x) : bool[3]
      %1 = sub(%x, %x) : f32[3]
      %2 = log(%x) : f32[3]
      %3 = exp(%2) : f32[3]
      return %0, %1, %3
    }""")


def test_division_by_power_of_two_becomes_multiplication() -> None:
    check(algebraic, splat_op("div", "-4.0", "f32"), """func @f(%x: f32[N,4]) -> (f32[N,4]) {
      %0 = constant {value=-0.25} : f32[]
      %1 = broadcast(%0) {shape=[N,4]} : f32[N,4]
      %2 = mul(%x, %1) : f32[N,4]
      return %2
    }""")


def test_division_by_huge_power_of_two_with_subnormal_reciprocal() -> None:
    check(algebraic, splat_op("div", "1.7014118346046923e+38", "f32"), """func @f(%x: f32[N,4]) -> (f32[N,4]) {
      %0 = constant {value=6e-39} : f32[]
      %1 = broadcast(%0) {shape=[N,4]} : f32[N,4]
      %2 = mul(%x, %1) : f32[N,4]
      return %2
    }""".replace("6e-39", str(np.float32(1) / np.float32(2.0**127))))


def test_square_of_f16_and_ints_is_a_product() -> None:
    check(algebraic, splat_op("pow", "2", "i32"), """func @f(%x: i32[N,4]) -> (i32[N,4]) {
      %0 = mul(%x, %x) : i32[N,4]
      return %0
    }""")


def test_multiplication_by_minus_one_is_negation() -> None:
    check(algebraic, splat_op("mul", "-1.0", "f32"), HEAD + "  %0 = neg(%x) : f32[N,4]\n  return %0\n}")


def test_unary_chains() -> None:
    check(algebraic, """func @f(%x: f32[3], %b: bool[3]) -> (f32[3], f32[3], bool[3]) {
      %0 = neg(%x) : f32[3]
      %1 = neg(%0) : f32[3]
      %2 = abs(%0) : f32[3]
      %3 = abs(%2) : f32[3]
      %4 = not(%b) : bool[3]
      %5 = not(%4) : bool[3]
      return %1, %3, %5
    }""", """func @f(%x: f32[3], %b: bool[3]) -> (f32[3], f32[3], bool[3]) {
      %0 = abs(%x) : f32[3]
      return %x, %0, %b
    }""")


def test_integer_self_operations() -> None:
    check(algebraic, """func @f(%x: i32[3]) -> (bool[3], bool[3], i32[3], i32[3]) {
      %0 = le(%x, %x) : bool[3]
      %1 = ne(%x, %x) : bool[3]
      %2 = sub(%x, %x) : i32[3]
      %3 = max(%x, %x) : i32[3]
      return %0, %1, %2, %3
    }""", """func @f(%x: i32[3]) -> (bool[3], bool[3], i32[3], i32[3]) {
      %0 = constant {value=true} : bool[]
      %1 = broadcast(%0) {shape=[3]} : bool[3]
      %2 = constant {value=false} : bool[]
      %3 = broadcast(%2) {shape=[3]} : bool[3]
      %4 = constant {value=0} : i32[]
      %5 = broadcast(%4) {shape=[3]} : i32[3]
      return %1, %3, %5, %x
    }""")


def test_cast_chains() -> None:
    check(algebraic, """func @f(%x: f32[3], %i: i16[3], %j: i64[3]) -> (f32[3], f16[3], i32[3], i64[3]) {
      %0 = cast(%x) {dtype=f64} : f64[3]
      %1 = cast(%0) {dtype=f32} : f32[3]
      %2 = cast(%i) {dtype=i64} : i64[3]
      %3 = cast(%2) {dtype=f16} : f16[3]
      %4 = cast(%0) {dtype=i32} : i32[3]
      %5 = cast(%j) {dtype=f64} : f64[3]
      %6 = cast(%5) {dtype=i64} : i64[3]
      return %1, %3, %4, %6
    }""", """func @f(%x: f32[3], %i: i16[3], %j: i64[3]) -> (f32[3], f16[3], i32[3], i64[3]) {
      %0 = cast(%i) {dtype=f16} : f16[3]
      %1 = cast(%x) {dtype=f64} : f64[3]
      %2 = cast(%1) {dtype=i32} : i32[3]
      %3 = cast(%j) {dtype=f64} : f64[3]
      %4 = cast(%3) {dtype=i64} : i64[3]
      return %x, %0, %2, %4
    }""")


@pytest.mark.parametrize("src,dst,exact", [
    ("i64", "f64", False), ("i32", "f64", True), ("i32", "f32", False), ("u8", "f16", True),
    ("i16", "f16", False), ("f32", "f64", True), ("f64", "f32", False), ("bool", "i8", True),
    ("u32", "i64", True), ("u32", "i32", False), ("i8", "u64", False), ("f16", "i64", False),
])
def test_holds_exactly(src: str, dst: str, exact: bool) -> None:
    from fusejit.ir import parse_dtype

    assert holds_exactly(parse_dtype(src), parse_dtype(dst)) is exact


def test_selects() -> None:
    check(algebraic, """func @f(%c: bool[3], %x: f32[3], %y: f32[3]) -> (f32[3], f32[3], f32[3]) {
      %0 = where(%c, %x, %x) : f32[3]
      %1 = constant {value=[false, false, false]} : bool[3]
      %2 = where(%1, %x, %y) : f32[3]
      %3 = not(%c) : bool[3]
      %4 = where(%3, %x, %y) : f32[3]
      return %0, %2, %4
    }""", """func @f(%c: bool[3], %x: f32[3], %y: f32[3]) -> (f32[3], f32[3], f32[3]) {
      %0 = where(%c, %y, %x) : f32[3]
      return %x, %y, %0
    }""")


def test_reductions_over_size_one_axes() -> None:
    check(algebraic, """func @f(%x: f32[N,1], %i: i32[1,N]) -> (f32[N], f32[N], i32[N], i64[N]) {
      %0 = reduce_sum(%x) {axes=[1]} : f32[N]
      %1 = reduce_max(%x) {axes=[1]} : f32[N]
      %2 = reduce_sum(%i) {axes=[0]} : i32[N]
      %3 = argmax(%x) {axis=1} : i64[N]
      return %0, %1, %2, %3
    }""", """func @f(%x: f32[N,1], %i: i32[1,N]) -> (f32[N], f32[N], i32[N], i64[N]) {
      %0 = reshape(%x) {shape=[N]} : f32[N]
      %1 = constant {value=0.0} : f32[]
      %2 = broadcast(%1) {shape=[N]} : f32[N]
      %3 = add(%0, %2) : f32[N]
      %4 = reshape(%x) {shape=[N]} : f32[N]
      %5 = reshape(%i) {shape=[N]} : i32[N]
      %6 = constant {value=0} : i64[]
      %7 = broadcast(%6) {shape=[N]} : i64[N]
      return %3, %4, %5, %7
    }""")


def test_sum_of_one_negative_zero_is_positive_zero_in_numpy() -> None:
    """Why a size-1 reduce_sum keeps an `add 0.0`: the reshape alone would return -0.0."""
    assert not np.signbit(np.add.reduce(np.array([[-0.0]], dtype=np.float32), axis=(1,))[0])


def test_square_root_as_a_power_only_for_f16_values_that_are_never_minus_zero() -> None:
    src = """func @f(%x: f16[3]) -> (f16[3], f16[3]) {
      %0 = abs(%x) : f16[3]
      %1 = constant {value=0.5} : f16[]
      %2 = broadcast(%1) {shape=[3]} : f16[3]
      %3 = pow(%0, %2) : f16[3]
      %4 = pow(%x, %2) : f16[3]
      return %3, %4
    }"""
    check(algebraic, src, """func @f(%x: f16[3]) -> (f16[3], f16[3]) {
      %0 = abs(%x) : f16[3]
      %1 = sqrt(%0) : f16[3]
      %2 = constant {value=0.5} : f16[]
      %3 = broadcast(%2) {shape=[3]} : f16[3]
      %4 = pow(%x, %3) : f16[3]
      return %1, %4
    }""")
    unchanged(algebraic, src.replace("f16", "f32"))


def test_numpy_f16_square_root_and_half_power_agree_except_at_minus_zero_and_minus_inf() -> None:
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    with np.errstate(all="ignore"):
        p, s = np.power(x, np.full_like(x, 0.5)), np.sqrt(x)
    differ = (p.view(np.uint16) != s.view(np.uint16)) & ~(np.isnan(p) & np.isnan(s))
    assert sorted(x[differ].view(np.uint16).tolist()) == [0x8000, 0xFC00]  # -0.0 and -inf


def test_numpy_f16_powers_one_and_two_are_exact_on_every_input() -> None:
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    with np.errstate(all="ignore"):
        for e, want in ((1, x), (2, x * x)):
            got = np.power(x, np.full_like(x, e))
            assert ((got.view(np.uint16) == want.view(np.uint16)) | (np.isnan(got) & np.isnan(want))).all()
