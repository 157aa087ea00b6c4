from fusejit.passes.cse import cse

from .golden import check


def test_merges_duplicate_ops_and_constants() -> None:
    check(cse, """func @f(%x: f32[3]) -> (f32[3], f32[3], f32[3]) {
      %0 = exp(%x) : f32[3]
      %1 = exp(%x) : f32[3]
      %2 = constant {value=[1.0, 2.0, 3.0]} : f32[3]
      %3 = constant {value=[1.0, 2.0, 3.0]} : f32[3]
      %4 = add(%0, %2) : f32[3]
      %5 = add(%3, %1) : f32[3]
      %6 = mul(%4, %5) : f32[3]
      return %6, %4, %5
    }""", """func @f(%x: f32[3]) -> (f32[3], f32[3], f32[3]) {
      %0 = exp(%x) : f32[3]
      %1 = constant {value=[1.0, 2.0, 3.0]} : f32[3]
      %2 = add(%0, %1) : f32[3]
      %3 = mul(%2, %2) : f32[3]
      return %3, %2, %2
    }""")


def test_keeps_apart_what_differs() -> None:
    """-0.0 and 0.0, dtypes, attributes, operand order of non-commutative ops (max: NumPy's
    maximum(-0.0, 0.0) depends on it) and distinct inputs are different values."""
    src = """func @f(%x: f32[2], %y: f32[2]) -> (f32[], f32[], f64[], f32[2], f32[2], f32[2], f32[2], f32[2]) {
      %0 = constant {value=0.0} : f32[]
      %1 = constant {value=-0.0} : f32[]
      %2 = constant {value=0.0} : f64[]
      %3 = sub(%x, %y) : f32[2]
      %4 = sub(%y, %x) : f32[2]
      %5 = max(%x, %y) : f32[2]
      %6 = max(%y, %x) : f32[2]
      %7 = exp(%y) : f32[2]
      return %0, %1, %2, %3, %4, %5, %6, %7
    }"""
    check(cse, src, src)
