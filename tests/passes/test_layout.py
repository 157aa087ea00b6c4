from fusejit.passes.layout import layout

from .golden import check, unchanged


def test_transposes_sink_through_elementwise_and_cancel() -> None:
    check(layout, """func @f(%x: f32[3,N], %y: f32[3,N]) -> (f32[3,N]) {
      %0 = transpose(%x) {perm=[1, 0]} : f32[N,3]
      %1 = transpose(%y) {perm=[1, 0]} : f32[N,3]
      %2 = constant {value=2.0} : f32[]
      %3 = broadcast(%2) {shape=[N,3]} : f32[N,3]
      %4 = mul(%0, %3) : f32[N,3]
      %5 = add(%4, %1) : f32[N,3]
      %6 = exp(%5) : f32[N,3]
      %7 = transpose(%6) {perm=[1, 0]} : f32[3,N]
      return %7
    }""", """func @f(%x: f32[3,N], %y: f32[3,N]) -> (f32[3,N]) {
      %0 = constant {value=2.0} : f32[]
      %1 = broadcast(%0) {shape=[3,N]} : f32[3,N]
      %2 = mul(%x, %1) : f32[3,N]
      %3 = add(%2, %y) : f32[3,N]
      %4 = exp(%3) : f32[3,N]
      return %4
    }""")


def test_transpose_chains_compose() -> None:
    check(layout, """func @f(%x: f32[2,3,4]) -> (f32[3,4,2]) {
      %0 = transpose(%x) {perm=[2, 0, 1]} : f32[4,2,3]
      %1 = transpose(%0) {perm=[2, 0, 1]} : f32[3,4,2]
      return %1
    }""", """func @f(%x: f32[2,3,4]) -> (f32[3,4,2]) {
      %0 = transpose(%x) {perm=[1, 2, 0]} : f32[3,4,2]
      return %0
    }""")


def test_reshapes_merge_and_sink() -> None:
    check(layout, """func @f(%x: f32[N,6], %y: f32[N,6]) -> (f32[N,2,3], f32[N,6]) {
      %0 = reshape(%x) {shape=[N, 3, 2]} : f32[N,3,2]
      %1 = reshape(%0) {shape=[N, 2, 3]} : f32[N,2,3]
      %2 = reshape(%y) {shape=[N, 2, 3]} : f32[N,2,3]
      %3 = sub(%1, %2) : f32[N,2,3]
      %4 = reshape(%3) {shape=[N, 6]} : f32[N,6]
      return %3, %4
    }""", """func @f(%x: f32[N,6], %y: f32[N,6]) -> (f32[N,2,3], f32[N,6]) {
      %0 = sub(%x, %y) : f32[N,6]
      %1 = reshape(%0) {shape=[N, 2, 3]} : f32[N,2,3]
      return %1, %0
    }""")


def test_broadcasts_sink_to_consumers() -> None:
    check(layout, """func @f(%b: f32[3], %c: f32[]) -> (f32[5,3]) {
      %0 = broadcast(%b) {shape=[5, 3]} : f32[5,3]
      %1 = broadcast(%c) {shape=[5, 3]} : f32[5,3]
      %2 = mul(%0, %1) : f32[5,3]
      %3 = tanh(%2) : f32[5,3]
      return %3
    }""", """func @f(%b: f32[3], %c: f32[]) -> (f32[5,3]) {
      %0 = broadcast(%c) {shape=[3]} : f32[3]
      %1 = mul(%b, %0) : f32[3]
      %2 = tanh(%1) : f32[3]
      %3 = broadcast(%2) {shape=[5, 3]} : f32[5,3]
      return %3
    }""")


def test_reductions_and_mixed_layouts_stay() -> None:
    unchanged(layout, """func @f(%x: f32[3,N], %y: f32[N,3]) -> (f32[N], f32[N,3]) {
      %0 = transpose(%x) {perm=[1, 0]} : f32[N,3]
      %1 = reduce_sum(%0) {axes=[1]} : f32[N]
      %2 = add(%0, %y) : f32[N,3]
      return %1, %2
    }""")


def test_sunk_broadcast_keeps_the_sources_rank() -> None:
    check(layout, """func @f(%a: f32[1], %b: f32[1]) -> (f32[5,1]) {
      %0 = broadcast(%a) {shape=[5, 1]} : f32[5,1]
      %1 = broadcast(%b) {shape=[5, 1]} : f32[5,1]
      %2 = add(%0, %1) : f32[5,1]
      return %2
    }""", """func @f(%a: f32[1], %b: f32[1]) -> (f32[5,1]) {
      %0 = add(%a, %b) : f32[1]
      %1 = broadcast(%0) {shape=[5, 1]} : f32[5,1]
      return %1
    }""")


def test_work_never_moves_to_rank_zero() -> None:
    """NumPy's pow (f32/f64) rounds differently on 0-d operands than on arrays."""
    check(layout, """func @f(%a: f32[], %b: f32[], %x: f32[N]) -> (f32[N], f32[1,1]) {
      %0 = broadcast(%a) {shape=[N]} : f32[N]
      %1 = broadcast(%b) {shape=[N]} : f32[N]
      %2 = pow(%0, %1) : f32[N]
      %3 = reshape(%a) {shape=[1, 1]} : f32[1,1]
      %4 = reshape(%b) {shape=[1, 1]} : f32[1,1]
      %5 = pow(%3, %4) : f32[1,1]
      return %2, %5
    }""", """func @f(%a: f32[], %b: f32[], %x: f32[N]) -> (f32[N], f32[1,1]) {
      %0 = broadcast(%a) {shape=[1]} : f32[1]
      %1 = broadcast(%b) {shape=[1]} : f32[1]
      %2 = pow(%0, %1) : f32[1]
      %3 = broadcast(%2) {shape=[N]} : f32[N]
      %4 = reshape(%a) {shape=[1, 1]} : f32[1,1]
      %5 = reshape(%b) {shape=[1, 1]} : f32[1,1]
      %6 = pow(%4, %5) : f32[1,1]
      return %3, %6
    }""")


def test_work_never_moves_from_rank_zero() -> None:
    unchanged(layout, """func @f(%a: f32[1,1], %b: f32[1,1]) -> (f32[]) {
      %0 = reshape(%a) {shape=[]} : f32[]
      %1 = reshape(%b) {shape=[]} : f32[]
      %2 = pow(%0, %1) : f32[]
      return %2
    }""")


def test_fmax_and_fmin_stay_where_they_are() -> None:
    unchanged(layout, """func @f(%a: f32[3], %b: f32[3], %x: f32[3,2], %y: f32[3,2]) -> (f32[2,3], f32[2,3]) {
      %0 = broadcast(%a) {shape=[2, 3]} : f32[2,3]
      %1 = broadcast(%b) {shape=[2, 3]} : f32[2,3]
      %2 = fmax(%0, %1) : f32[2,3]
      %3 = transpose(%x) {perm=[1, 0]} : f32[2,3]
      %4 = transpose(%y) {perm=[1, 0]} : f32[2,3]
      %5 = fmin(%3, %4) : f32[2,3]
      return %2, %5
    }""")
