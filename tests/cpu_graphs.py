"""IR texts of the workloads the CPU backend is measured on (shared by its tests)."""

SOFTMAX = """func @softmax(%x: f32[N,D]) -> (f32[N,D]) {
  %0 = reduce_max(%x) {axes=[1]} : f32[N]
  %1 = reshape(%0) {shape=[N,1]} : f32[N,1]
  %2 = broadcast(%1) {shape=[N,D]} : f32[N,D]
  %3 = sub(%x, %2) : f32[N,D]
  %4 = exp(%3) : f32[N,D]
  %5 = reduce_sum(%4) {axes=[1]} : f32[N]
  %6 = reshape(%5) {shape=[N,1]} : f32[N,1]
  %7 = broadcast(%6) {shape=[N,D]} : f32[N,D]
  %8 = div(%4, %7) : f32[N,D]
  return %8
}"""

LAYERNORM = """func @layernorm(%x: f32[N,D]) -> (f32[N,D]) {
  %0 = reduce_sum(%x) {axes=[1]} : f32[N]
  %n = numel(%x) {axes=[1], dtype=f32} : f32[]
  %nb = broadcast(%n) {shape=[N]} : f32[N]
  %1 = div(%0, %nb) : f32[N]
  %2 = reshape(%1) {shape=[N,1]} : f32[N,1]
  %3 = broadcast(%2) {shape=[N,D]} : f32[N,D]
  %4 = sub(%x, %3) : f32[N,D]
  %5 = mul(%4, %4) : f32[N,D]
  %6 = reduce_sum(%5) {axes=[1]} : f32[N]
  %7 = div(%6, %nb) : f32[N]
  %e = constant() {value=1e-5} : f32[]
  %eb = broadcast(%e) {shape=[N]} : f32[N]
  %8 = add(%7, %eb) : f32[N]
  %9 = sqrt(%8) : f32[N]
  %10 = reshape(%9) {shape=[N,1]} : f32[N,1]
  %11 = broadcast(%10) {shape=[N,D]} : f32[N,D]
  %12 = div(%4, %11) : f32[N,D]
  return %12
}"""

CHAIN = """func @chain(%x: f32[N], %y: f32[N], %z: f32[N]) -> (f32[N]) {
  %h = constant() {value=0.5} : f32[]
  %hb = broadcast(%h) {shape=[N]} : f32[N]
  %one = constant() {value=1.0} : f32[]
  %ob = broadcast(%one) {shape=[N]} : f32[N]
  %0 = mul(%x, %hb) : f32[N]
  %1 = add(%0, %y) : f32[N]
  %2 = tanh(%1) : f32[N]
  %3 = mul(%2, %z) : f32[N]
  %4 = mul(%y, %y) : f32[N]
  %5 = add(%ob, %4) : f32[N]
  %6 = div(%x, %5) : f32[N]
  %7 = sub(%3, %6) : f32[N]
  return %7
}"""

MLP = """func @mlp(%x: f32[N,12], %w1: f32[12,8], %b1: f32[8], %w2: f32[8,3], %b2: f32[3]) -> (f32[N,3]) {
  %0 = dot(%x, %w1) : f32[N,8]
  %1 = broadcast(%b1) {shape=[N,8]} : f32[N,8]
  %2 = add(%0, %1) : f32[N,8]
  %z = constant() {value=0.0} : f32[]
  %zb = broadcast(%z) {shape=[N,8]} : f32[N,8]
  %3 = max(%2, %zb) : f32[N,8]
  %4 = dot(%3, %w2) : f32[N,3]
  %5 = broadcast(%b2) {shape=[N,3]} : f32[N,3]
  %6 = add(%4, %5) : f32[N,3]
  return %6
}"""

SUMSQ = """func @sumsq(%x: f32[N]) -> (f32[]) {
  %0 = mul(%x, %x) : f32[N]
  %1 = reduce_sum(%0) {axes=[0]} : f32[]
  return %1
}"""
