from fusejit.passes.dce import dce

from .golden import check, unchanged


def test_removes_identity_ops() -> None:
    check(dce, """func @f(%x: f32[N,3], %u: f32[2]) -> (f32[N,3], f32[2]) {
      %0 = cast(%x) {dtype=f32} : f32[N,3]
      %1 = transpose(%0) {perm=[0, 1]} : f32[N,3]
      %2 = reshape(%1) {shape=[N,3]} : f32[N,3]
      %3 = broadcast(%2) {shape=[N,3]} : f32[N,3]
      %4 = slice(%3) {starts=[0, 0], stops=[N, 3], steps=[1, 1]} : f32[N,3]
      %5 = concat(%4) {axis=1} : f32[N,3]
      %6 = exp(%5) : f32[N,3]
      %7 = constant {value=[0.0, 1.0]} : f32[2]
      %8 = update_slice(%7, %u) {starts=[0], stops=[2], steps=[1]} : f32[2]
      return %6, %8
    }""", """func @f(%x: f32[N,3], %u: f32[2]) -> (f32[N,3], f32[2]) {
      %0 = exp(%x) : f32[N,3]
      return %0, %u
    }""")


def test_keeps_partial_slices_and_real_reshapes() -> None:
    unchanged(dce, """func @f(%x: f32[4]) -> (f32[2], f32[4], f32[2,2]) {
      %0 = slice(%x) {starts=[0], stops=[4], steps=[2]} : f32[2]
      %1 = slice(%x) {starts=[3], stops=[-1], steps=[-1]} : f32[4]
      %2 = reshape(%x) {shape=[2, 2]} : f32[2,2]
      return %0, %1, %2
    }""")
